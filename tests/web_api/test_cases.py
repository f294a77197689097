"""Registering, reading and moving cases through the API, and what personal data it shows."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from tests.web_api.conftest import Api, registration
from workflow.clock import MovableClock
from workflow.runtime import Runtime
from workflow.storage.models import AccessLogEntry, Case


def _count(rt: Runtime, model: type) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_registering_answers_201_with_the_case_masked(api: Api) -> None:
    case = api.register(received_at="2026-03-02T09:30:00+08:00")
    assert case["number"] == "V01-2026-00001"
    assert case["state"] == "intake"
    assert case["version"] == 1
    assert case["station"] == {"code": "V01", "name": "East village"}
    assert case["assignee"]["username"] == "cw1"
    assert case["complainant"]["name"] == "张**"
    assert case["complainant"]["phone"] == "138****1234"
    assert case["summary"] == "******"
    assert case["received_at"] == "2026-03-02T01:30:00+00:00"
    assert [c["clock"] for c in case["clocks"]] == ["acceptance"]
    assert case["allowed_events"] == ["accept", "refer", "withdraw"]


def test_the_same_idempotency_key_and_body_return_the_first_answer(api: Api, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    first = api.post("/cases", "cw1", json=registration(), headers=headers)
    again = api.post("/cases", "cw1", json=registration(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert _count(rt, Case) == 1


def test_the_same_key_in_another_key_order_is_the_same_body(api: Api, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "order"}
    body = registration()
    reordered = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False)
    api.post("/cases", "cw1", json=body, headers=headers)
    again = api.post(
        "/cases", "cw1", data=reordered, headers=headers, content_type="application/json"
    )
    assert again.status_code == 201
    assert _count(rt, Case) == 1


def test_the_same_key_with_another_body_is_a_validation_error(api: Api, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    api.post("/cases", "cw1", json=registration(), headers=headers)
    other = api.post("/cases", "cw1", json=registration(risk="high"), headers=headers)
    assert other.status_code == 422
    error = other.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "Idempotency-Key" in error["details"]["fields"]
    assert _count(rt, Case) == 1


def test_keys_are_per_user_and_expire_after_a_day(
    api: Api, rt: Runtime, clock: MovableClock
) -> None:
    headers = {"Idempotency-Key": "k"}
    api.post("/cases", "cw1", json=registration(), headers=headers)
    assert api.post("/cases", "cw1b", json=registration(), headers=headers).status_code == 201
    assert _count(rt, Case) == 2
    clock.advance(timedelta(hours=25))
    assert api.post("/cases", "cw1", json=registration(), headers=headers).status_code == 201
    assert _count(rt, Case) == 3


def test_concurrent_duplicates_make_one_case(api: Api, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "double-click", **api.auth("cw1")}
    barrier = threading.Barrier(4)

    def post() -> tuple[int, dict]:
        client = api.client.application.test_client()
        barrier.wait()
        response = client.post("/api/v1/cases", json=registration(), headers=headers)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: post(), range(4)))
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert _count(rt, Case) == 1


def test_a_refused_registration_stores_no_key(api: Api, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    refused = api.post("/cases", "cw1", json=registration(station="V02"), headers=headers)
    assert refused.status_code == 422
    assert api.post("/cases", "cw1", json=registration(), headers=headers).status_code == 201


def test_reveal_shows_personal_data_and_is_logged(api: Api, rt: Runtime) -> None:
    case = api.register()
    masked = api.get(f"/cases/{case['id']}", "cw1").get_json()
    assert masked["complainant"]["name"] == "张**"
    assert _count(rt, AccessLogEntry) == 0
    shown = api.get(f"/cases/{case['id']}?reveal=true", "cw1").get_json()
    assert shown["complainant"]["name"] == "张小红"
    assert shown["complainant"]["phone"] == "13812341234"
    assert shown["summary"] == "丈夫长期不给生活费，要求调解"
    log = api.get(f"/cases/{case['id']}/access-log", "sup_t1")
    assert log.status_code == 200
    [entry] = log.get_json()
    assert entry["user"]["username"] == "cw1"
    assert entry["channel"] == "api"
    assert entry["address"] == "127.0.0.1"
    assert "complainant" in entry["fields"]


def test_the_timeline_is_masked_unless_revealed(api: Api, rt: Runtime) -> None:
    case = api.register()
    assert (
        api.post(f"/cases/{case['id']}/notes", "cw1", json={"text": "电话已联系"}).status_code
        == 201
    )
    masked = api.get(f"/cases/{case['id']}/timeline", "cw1").get_json()
    assert [e["type"] for e in masked] == ["registered", "note"]
    assert masked[1]["data"]["text"] == "******"
    shown = api.get(f"/cases/{case['id']}/timeline?reveal=true", "cw1").get_json()
    assert shown[1]["data"]["text"] == "电话已联系"
    assert _count(rt, AccessLogEntry) == 1


def test_a_case_goes_from_intake_through_the_court_to_closed(
    api: Api, clock: MovableClock, user_ids: dict[str, int]
) -> None:
    case = api.register()
    clock.advance(timedelta(hours=1))
    accepted = api.fire(case, "accept")
    assert accepted.status_code == 200, accepted.get_json()
    case = accepted.get_json()
    assert case["state"] == "mediation" and case["version"] == 2

    clock.advance(timedelta(days=2))
    held = api.post(
        f"/cases/{case['id']}/sessions",
        "cw1",
        json={
            "held_at": "2026-03-04T10:00:00+08:00",
            "participants": ["张小红", "王大力"],
            "result": "未达成协议",
            "notes": "双方分歧较大",
        },
    )
    assert held.status_code == 201, held.get_json()
    assert held.get_json()["type"] == "record_session"

    referred = api.fire(case, "refer", kind="litigation", summary="调解不成，起诉离婚")
    assert referred.status_code == 200, referred.get_json()
    case = referred.get_json()
    assert case["state"] == "referred"

    inbox = api.get("/referrals", "liaison").get_json()
    assert [item["case"]["id"] for item in inbox] == [case["id"]]
    assert inbox[0]["referral"]["status"] == "awaiting"
    package = api.get(f"/cases/{case['id']}/referral-package", "liaison")
    assert package.status_code == 200
    assert package.get_json()["parties"]["complainant"]["name"] == "张小红"

    clock.advance(timedelta(hours=3))
    acknowledged = api.fire(case, "acknowledge", "liaison", docket_number="(2026)民初123号")
    assert acknowledged.status_code == 200, acknowledged.get_json()
    case = acknowledged.get_json()
    assert case["state"] == "court"
    assert api.get(f"/cases/{case['id']}/transitions", "liaison").get_json()[0]["event"] in (
        "rule",
        "decide",
    )

    clock.advance(timedelta(days=40))
    decided = api.fire(case, "decide", "liaison", outcome="judgment", note="判决离婚")
    assert decided.status_code == 200, decided.get_json()
    case = decided.get_json()
    assert case["state"] == "closed"
    statuses = {c["clock"]: c["status"] for c in case["clocks"]}
    assert statuses["acceptance"] == "met"
    assert statuses["court_outcome"] == "met"
    assert statuses["follow_up"] == "running"

    clock.advance(timedelta(days=3))
    visit = api.post(
        f"/cases/{case['id']}/follow-ups",
        "cw1",
        json={"contacted_at": "2026-04-16T10:00:00+08:00", "result": "生活稳定"},
    )
    assert visit.status_code == 201, visit.get_json()
    types = [e["type"] for e in api.get(f"/cases/{case['id']}/timeline", "cw1").get_json()]
    assert types == [
        "registered",
        "accept",
        "record_session",
        "refer",
        "acknowledge",
        "decide",
        "follow_up",
    ]


def test_listing_filters_and_pages_cases_in_scope(api: Api) -> None:
    first = api.register()
    second = api.register(complainant={"name": "李四", "phone": "13900002222"})
    api.register("cw2")
    listing = api.get("/cases?per_page=1", "cw1").get_json()
    assert listing["total"] == 2 and listing["per_page"] == 1 and listing["page"] == 1
    assert [c["id"] for c in listing["items"]] == [second["id"]]
    by_phone = api.get("/cases?q=13812341234", "cw1").get_json()
    assert [c["id"] for c in by_phone["items"]] == [first["id"]]
    mine = api.get("/cases?assignee=me&overdue=false&state=intake", "cw1").get_json()
    assert mine["total"] == 2
    town = api.get("/cases?station=V02", "sup_t1").get_json()
    assert town["total"] == 1


def test_reassessment_recomputes_the_clocks_it_drives(api: Api) -> None:
    case = api.register()
    updated = api.call(
        "PATCH", f"/cases/{case['id']}", "cw1", json={"version": 1, "risk": "emergency"}
    )
    assert updated.status_code == 200, updated.get_json()
    body = updated.get_json()
    assert body["risk"] == "emergency" and body["version"] == 2
    [acceptance] = [c for c in body["clocks"] if c["clock"] == "acceptance"]
    assert acceptance["computation"]["unit"] == "hours"


def test_assignment_and_transfer_change_the_case(api: Api, user_ids: dict[str, int]) -> None:
    case = api.register()
    assigned = api.post(
        f"/cases/{case['id']}/assignment",
        "cw1",
        json={"assignee_id": user_ids["cw1b"], "version": 1},
    )
    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["assignee"]["username"] == "cw1b"
    moved = api.post(
        f"/cases/{case['id']}/transfer", "sup_t1", json={"station": "V02", "version": 2}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["station"]["code"] == "V02"
    assert moved.get_json()["assignee"] is None


def test_a_supervisor_suspends_and_resumes_a_clock(api: Api, clock: MovableClock) -> None:
    case = api.register()
    path = f"/cases/{case['id']}/clocks/acceptance"
    suspended = api.post(path + "/suspend", "sup_t1", json={"reason": "等待伤情鉴定"})
    assert suspended.status_code == 200, suspended.get_json()
    assert suspended.get_json()["clocks"][0]["status"] == "suspended"
    again = api.post(path + "/suspend", "sup_t1", json={"reason": "again"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "invalid_transition"
    clock.advance(timedelta(days=3))
    resumed = api.post(path + "/resume", "sup_t1")
    assert resumed.status_code == 200, resumed.get_json()
    [acceptance] = resumed.get_json()["clocks"]
    assert acceptance["status"] == "running"
    assert acceptance["due_at"] > case["clocks"][0]["due_at"]


def test_the_mandatory_report_is_recorded(api: Api, clock: MovableClock) -> None:
    case = api.register(
        category="domestic_violence",
        victim={"name": "小明", "is_minor": True, "relation": "son"},
    )
    assert "mandatory_report" in [c["clock"] for c in case["clocks"]]
    clock.advance(timedelta(hours=2))
    filed = api.post(
        f"/cases/{case['id']}/reports",
        "cw1",
        json={"filed_at": "2026-03-02T11:00:00+08:00", "agency": "派出所", "reference": "A-1"},
    )
    assert filed.status_code == 201, filed.get_json()
    clocks = {
        c["clock"]: c["status"] for c in api.get(f"/cases/{case['id']}", "cw1").get_json()["clocks"]
    }
    assert clocks["mandatory_report"] == "met"
