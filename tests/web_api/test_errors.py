"""Every error code of the contract, the order refused events are checked in, and no 500s."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import Settings
from tests.web_api.conftest import Api, registration
from web.app import create_app
from workflow.clock import MovableClock
from workflow.runtime import Runtime, bootstrap
from workflow.storage.models import Case, CaseEvent


def _error(response) -> dict:  # noqa: ANN001 - a test response
    assert response.is_json, response.data
    return response.get_json()["error"]


def test_a_body_that_is_not_json_is_a_bad_request(api: Api) -> None:
    response = api.post("/cases", "cw1", data="{not json", content_type="application/json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "bad_request"
    assert set(error) == {"code", "message", "details"}


def test_missing_and_unknown_fields_are_named_in_a_validation_error(api: Api) -> None:
    response = api.post("/cases", "cw1", json={"channel": "fax", "colour": "red"})
    assert response.status_code == 422
    fields = _error(response)["details"]["fields"]
    assert set(fields) == {"channel", "category", "risk", "colour"}
    assert fields["colour"] == "unknown field"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"received_at": "2026-03-01T09:30:00"}, "received_at"),
        ({"received_at": 1772400000}, "received_at"),
        ({"complainant": {"is_minor": "false"}}, "complainant.is_minor"),
        ({"complainant": {"name": 5}}, "complainant.name"),
        ({"victim": {"is_minor": 1}}, "victim.is_minor"),
        ({"summary": "x" * 20_001}, "summary"),
        ({"station": "V02"}, "station"),
        ({"received_at": "2026-03-02T12:00:00+08:00"}, "received_at"),
    ],
)
def test_malformed_registrations_name_the_field(api: Api, change: dict, field: str) -> None:
    response = api.post("/cases", "cw1", json=registration(**change))
    assert response.status_code == 422, response.get_json()
    assert field in _error(response)["details"]["fields"]


def test_a_stale_version_is_a_version_conflict_and_writes_nothing(api: Api, rt: Runtime) -> None:
    case = api.register()
    api.fire(case, "accept")
    stale = api.fire(case, "withdraw", reason="撤回")
    assert stale.status_code == 409
    assert _error(stale)["code"] == "version_conflict"
    assert _error(stale)["details"]["current_version"] == 2


def test_an_event_not_allowed_in_the_state_is_an_invalid_transition(api: Api) -> None:
    case = api.register()
    response = api.fire(case, "settle", agreement="x")
    assert response.status_code == 409
    assert _error(response)["code"] == "invalid_transition"
    unknown = api.fire(case, "teleport")
    assert _error(unknown)["code"] == "invalid_transition"


def test_a_role_that_may_not_trigger_the_event_is_forbidden(api: Api) -> None:
    case = api.register()
    response = api.fire(case, "decline", "cw1", reason="不属于受理范围")
    assert response.status_code == 403
    assert _error(response)["code"] == "forbidden"


def test_bad_event_data_is_a_validation_error(api: Api) -> None:
    case = api.register()
    response = api.fire(case, "refer", kind="arbitration")
    assert response.status_code == 422
    fields = _error(response)["details"]["fields"]
    assert set(fields) == {"kind", "summary"}


def test_a_workflow_rule_refusal_is_guard_failed_and_writes_nothing(api: Api, rt: Runtime) -> None:
    case = api.register()
    response = api.fire(case, "refer", kind="litigation", summary="起诉")
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "guard_failed"
    assert error["details"]["rule"] == "session_required"
    with rt.sessions() as session:
        stored = session.get(Case, case["id"])
        assert stored is not None and stored.version == 1 and stored.state == "intake"
        events = session.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case["id"]))
        assert list(events) == ["registered"]


def test_refused_events_are_checked_in_the_contract_order(api: Api) -> None:
    case = api.register("vol1")
    path = f"/cases/{case['id']}/transitions"
    # scope before the body: another station's caseworker learns nothing
    assert api.post(path, "cw2", data="garbage").status_code == 404
    # the body before the version
    assert api.post(path, "vol1", data="garbage").status_code == 400
    assert api.post(path, "vol1", json={"event": "accept"}).status_code == 422
    # the version before the state and the role
    wrong = api.post(path, "vol1", json={"event": "decide", "version": 7})
    assert _error(wrong)["code"] == "version_conflict"
    # the state before the role
    state = api.post(path, "vol1", json={"event": "decide", "version": 1})
    assert _error(state)["code"] == "invalid_transition"
    # the role before the data
    role = api.post(path, "vol1", json={"event": "refer", "version": 1, "data": {"kind": 1}})
    assert _error(role)["code"] == "forbidden"
    # the data before the guards
    data = api.post(path, "cw1", json={"event": "refer", "version": 1, "data": {"kind": 1}})
    assert _error(data)["code"] == "validation_error"


def test_an_occurred_at_without_an_offset_or_in_the_future_is_refused(
    api: Api, clock: MovableClock
) -> None:
    case = api.register()
    path = f"/cases/{case['id']}/transitions"
    naive = api.post(
        path, "cw1", json={"event": "accept", "version": 1, "occurred_at": "2026-03-02T10:00:00"}
    )
    assert naive.status_code == 422
    assert set(_error(naive)["details"]["fields"]) == {"occurred_at"}
    future = api.post(
        path,
        "cw1",
        json={"event": "accept", "version": 1, "occurred_at": "2026-03-09T10:00:00+08:00"},
    )
    assert _error(future)["details"]["fields"] == {"occurred_at": "must not be in the future"}
    clock.advance(timedelta(hours=2))
    backdated = api.post(
        path,
        "cw1",
        json={"event": "accept", "version": 1, "occurred_at": "2026-03-02T10:30:00+08:00"},
    )
    assert backdated.status_code == 200, backdated.get_json()


def test_unknown_routes_and_methods_under_the_api_answer_json(api: Api) -> None:
    missing = api.get("/no-such-thing", "cw1")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong = api.call("PUT", "/cases", "cw1", json={})
    assert wrong.status_code == 405 and _error(wrong)["code"] == "bad_request"
    huge_id = api.get("/cases/99999999999999999999999999", "cw1")
    assert huge_id.status_code == 404 and _error(huge_id)["code"] == "not_found"


def test_an_unreachable_database_answers_503_unavailable(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/missing/dir/t.db",
        secret_key="s",
        encryption_keys=("k1:x",),
        instance_dir=tmp_path,
    )
    runtime = bootstrap(settings, clock=MovableClock())
    try:
        client = create_app(runtime=runtime).test_client()
        response = client.get("/api/v1/me", headers={"Authorization": "Bearer whatever"})
        assert response.status_code == 503
        assert _error(response)["code"] == "unavailable"
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json() == {
            "status": "unavailable",
            "database": "unavailable",
            "broker": "ok",
        }
    finally:
        runtime.engine.dispose()


def test_an_unexpected_failure_still_answers_json_and_logs_no_details(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(runtime=rt)

    def explode() -> None:
        personal = {"phone": "138" + "12341234", "name": "张" + "小红"}
        raise RuntimeError(f"{personal['phone']} {personal['name']}")

    app.add_url_rule("/api/v1/explode", "explode", explode)
    response = app.test_client().get("/api/v1/explode?q=13812341234")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "RuntimeError" in caplog.text
    assert "13812341234" not in caplog.text and "张小红" not in caplog.text
