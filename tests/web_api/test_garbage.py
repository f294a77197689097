"""No request, however malformed, gets a 500: every answer is JSON with a 4xx code."""

from __future__ import annotations

import pytest

from tests.web_api.conftest import Api

CASE = "/cases/1"
BODIES: list[object] = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b"{",
    b"\xff\xfe\x00garbage",
    b'{"a": NaN}',
    b"[" * 5000 + b"]" * 5000,
    {"version": "1", "event": "accept"},
    {"version": True, "event": "accept"},
    {"version": 2**80, "event": "accept"},
    {"version": -1, "event": "accept"},
    {"version": 1, "event": None},
    {"version": 1, "event": "accept", "data": []},
    {"version": 1, "event": "accept", "data": {"assignee_id": 2**70}},
    {"version": 1, "event": "accept", "data": {"assignee_id": "7"}},
    {"version": 1, "event": "accept", "data": {"assignee_id": 99999}},
    {"version": 1, "event": "refer", "data": {"kind": {"nested": ["x"]}, "summary": 1.5}},
    {"version": 1, "event": "refer", "data": {"kind": "litigation", "summary": "\u0000"}},
    {"version": 1, "event": "extend", "data": {"days": 1e308}},
    {"version": 1, "event": "accept", "occurred_at": "2026-02-30T10:00:00+08:00"},
    {"version": 1, "event": "accept", "occurred_at": "9999-12-31T23:59:59-12:00"},
    {"version": 1, "event": "accept", "occurred_at": "0001-01-01T00:00:00+14:00"},
    {"version": 1, "event": "accept", "occurred_at": "yesterday"},
    {"version": 1, "event": "accept", "occurred_at": 0},
    {"version": 1, "event": "x" * 10_000},
    b'{"text": "\\ud800", "reason": "\\udfff"}',
    {"text": ""},
    {"held_at": "2026-03-02T10:00:00+08:00", "participants": "all", "result": "x"},
    {"held_at": "2026-03-02T10:00:00+08:00", "participants": [1, 2], "result": "x"},
    {"assignee_id": -5, "version": 1},
    {"assignee_id": 9_223_372_036_854_775_807, "version": 1},
    {"station": "", "version": 1},
    {"station": "V02' OR 1=1 --", "version": 1},
    {"reason": None},
    {"contacted_at": "2026-03-02T10:00:00Z", "result": "x"},
    {"filed_at": "2026-03-02 10:00:00+08:00", "agency": ""},
    {"risk": "apocalyptic", "version": 1},
    {"victim": {"is_minor": "yes"}, "version": 1},
]
PATHS = [
    ("POST", "/cases"),
    ("PATCH", CASE),
    ("POST", CASE + "/transitions"),
    ("POST", CASE + "/notes"),
    ("POST", CASE + "/sessions"),
    ("POST", CASE + "/assignment"),
    ("POST", CASE + "/transfer"),
    ("POST", CASE + "/follow-ups"),
    ("POST", CASE + "/reports"),
    ("POST", CASE + "/clocks/acceptance/suspend"),
    ("POST", CASE + "/clocks/nonsense/resume"),
    ("POST", "/auth/token"),
    ("PUT", "/calendar/days/2026-10-10"),
    ("PUT", "/calendar/days/2026-02-30"),
]
QUERIES = [
    "/cases?page=0",
    "/cases?page=-1",
    "/cases?page=abc",
    "/cases?page=99999999999999999999",
    "/cases?per_page=101",
    "/cases?per_page=0",
    "/cases?overdue=yes",
    "/cases?overdue=1",
    "/cases?assignee=someone",
    "/cases?assignee=99999999999999999999999",
    "/cases?assignee=%C2%B2",
    "/cases?station=NOPE",
    "/cases?state=%00",
    "/cases?q=%FF%FE",
    "/cases?q=" + "1" * 500,
    "/cases?q=%25_%5C",
    "/cases/0",
    "/cases/-1",
    "/cases/abc",
    "/cases/1?reveal=yes",
    "/cases/1/timeline?reveal=1",
    "/cases/1/clocks/" + "x" * 300 + "/suspend",
    "/reports/summary",
    "/reports/summary?from=2026-01-01",
    "/reports/summary?from=2026-13-01&to=2026-12-31",
    "/reports/summary?from=2026-12-31&to=2026-01-01",
    "/reports/summary?from=2026-01-01&to=2026-12-31&station=NOPE",
    "/reports/summary.csv?from=x&to=y",
    "/calendar/0",
    "/calendar/99999999999999999999",
    "/calendar/-2026",
    "/users?station=%00",
    "/openapi.json?x=%00",
]


def _assert_json_refusal_or_success(response) -> None:  # noqa: ANN001 - a test response
    assert response.status_code < 500, response.data[:500]
    if response.status_code >= 400:
        assert response.is_json, response.data[:200]
        error = response.get_json()["error"]
        assert set(error) == {"code", "message", "details"}


@pytest.fixture
def case_one(api: Api) -> dict:
    return api.register()


@pytest.mark.parametrize("user", ["cw1", "sup_t1"])
@pytest.mark.parametrize(("method", "path"), PATHS)
def test_malformed_bodies_never_get_a_500(
    api: Api, case_one: dict, method: str, path: str, user: str
) -> None:
    for raw in BODIES:
        if isinstance(raw, bytes):
            response = api.call(method, path, user, data=raw, content_type="application/json")
        else:
            response = api.call(method, path, user, json=raw)
        _assert_json_refusal_or_success(response)


@pytest.mark.parametrize("user", ["cw1", "admin", "vol1", "liaison"])
def test_malformed_paths_and_query_strings_never_get_a_500(
    api: Api, case_one: dict, user: str
) -> None:
    for path in QUERIES:
        _assert_json_refusal_or_success(api.get(path, user))


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "bearer " + "x" * 5000, "Token abc", "Bearer \u00e9\u00e9", ""],
)
def test_malformed_authorization_headers_are_401(api: Api, header: str) -> None:
    response = api.get("/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_an_oversized_body_is_refused_as_json(api: Api) -> None:
    response = api.post(
        "/cases",
        "cw1",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "bad_request"


def test_a_malformed_idempotency_key_is_a_validation_error(api: Api) -> None:
    from tests.web_api.conftest import registration

    response = api.post(
        "/cases", "cw1", json=registration(), headers={"Idempotency-Key": "with spaces " * 30}
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["error"]["details"]["fields"]
