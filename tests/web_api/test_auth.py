"""Tokens: logging in and out, bearer checks, and the login rate limit counted in the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.web_api.conftest import PASSWORD, Api
from workflow.clock import MovableClock
from workflow.runtime import Runtime
from workflow.storage.models import LoginFailure


def login(api: Api, username: str, password: str):
    return api.post("/auth/token", json={"username": username, "password": password})


def test_the_right_password_gives_a_token_that_opens_the_api(api: Api) -> None:
    response = login(api, "cw1", PASSWORD)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert body["expires_at"].endswith("+00:00")
    me = api.get("/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json() == {
        "id": me.get_json()["id"],
        "username": "cw1",
        "role": "caseworker",
        "station": "V01",
        "language": "zh",
    }


def test_a_wrong_password_is_401_and_recorded_as_a_failure(api: Api, rt: Runtime) -> None:
    response = login(api, "cw1", "wrong-password")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 1


def test_five_failures_within_fifteen_minutes_answer_429_with_retry_after(
    api: Api, clock: MovableClock
) -> None:
    for _ in range(5):
        assert login(api, "cw2", "nope-nope").status_code == 401
        clock.advance(timedelta(minutes=1))
    refused = login(api, "cw2", PASSWORD)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    clock.advance(timedelta(minutes=15))
    assert login(api, "cw2", PASSWORD).status_code == 201


def test_a_login_body_that_is_not_an_object_is_a_bad_request(api: Api) -> None:
    response = api.post("/auth/token", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_calls_without_a_token_or_with_a_bad_one_are_unauthorized(api: Api) -> None:
    assert api.get("/cases").status_code == 401
    bad = api.get("/cases", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "unauthorized"
    basic = api.get("/cases", headers={"Authorization": "Basic Y3cxOnB3"})
    assert basic.status_code == 401


def test_a_revoked_token_stops_working(api: Api) -> None:
    token = login(api, "cw1", PASSWORD).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.call("DELETE", "/auth/token", headers=headers).status_code == 200
    assert api.get("/me", headers=headers).status_code == 401


def test_an_expired_token_is_unauthorized(api: Api, clock: MovableClock) -> None:
    token = login(api, "cw1", PASSWORD).get_json()["token"]
    clock.advance(timedelta(hours=13))
    assert api.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
