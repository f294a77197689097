"""Signing in and out: hashed passwords, rate limiting, cookie flags, CSRF, sessions that end."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from tests.console.conftest import TOKEN, Console
from tests.support import PASSWORD, make_settings, tx
from web.app import create_app
from workflow.runtime import Runtime, bootstrap
from workflow.services import admin
from workflow.storage.models import LoginFailure


def _login_form(console: Console, username: str, password: str) -> tuple[int, str, str | None]:
    page = console.client.get("/login")
    token = TOKEN.search(page.get_data(as_text=True))
    assert token is not None
    response = console.client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
    )
    return response.status_code, response.get_data(as_text=True), response.headers.get("Location")


def test_signing_in_with_the_right_password_opens_the_queue(console: Console) -> None:
    status, _body, location = _login_form(console, "cw1", PASSWORD)
    assert status == 302 and location == "/queue"
    assert console.client.get("/queue").status_code == 200


def test_each_role_lands_on_its_own_start_page(console: Console) -> None:
    assert _login_form(console, "liaison", PASSWORD)[2] == "/referrals"
    console.client = console.app.test_client()
    assert _login_form(console, "admin", PASSWORD)[2] == "/admin/stations"


def test_a_wrong_password_is_refused_and_counted(console: Console, rt: Runtime) -> None:
    status, body, _ = _login_form(console, "cw1", "wrong-password")
    assert status == 401
    assert 'class="flash flash-error"' in body
    with tx(rt) as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 1


def test_five_failures_lock_the_username_for_a_while(console: Console) -> None:
    for _ in range(5):
        assert _login_form(console, "cw1", "wrong-password")[0] == 401
    status, body, _ = _login_form(console, "cw1", PASSWORD)
    assert status == 429
    assert "flash-error" in body


def test_the_sign_in_form_without_its_csrf_token_is_refused(console: Console) -> None:
    response = console.client.post("/login", data={"username": "cw1", "password": PASSWORD})
    assert response.status_code == 400
    assert "text/html" in response.content_type
    assert "_user_id" not in (response.headers.get("Set-Cookie") or "")


def test_a_case_form_without_its_csrf_token_is_refused(console: Console, rt: Runtime) -> None:
    from tests.console.conftest import register

    case = register(rt)
    console.login("cw1")
    response = console.client.post(
        f"/cases/{case['id']}/transitions", data={"event": "accept", "version": "1"}
    )
    assert response.status_code == 400
    with tx(rt) as session:
        from workflow.storage.models import Case

        assert session.get(Case, case["id"]).state == "intake"


def test_a_form_with_a_forged_token_is_refused(console: Console) -> None:
    console.login("cw1")
    response = console.client.post("/notifications/read-all", data={"csrf_token": "forged"})
    assert response.status_code == 400


def test_the_session_cookie_is_http_only_and_same_site(console: Console) -> None:
    _login_form(console, "cw1", PASSWORD)
    cookie = console.client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure


def test_the_session_cookie_is_secure_behind_https(rt: Runtime, tmp_path: Path) -> None:
    settings = make_settings(
        rt.settings.database_url, tmp_path, base_url="https://carnation.example.org"
    )
    app = create_app(runtime=bootstrap(settings, clock=rt.clock))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_signing_out_ends_the_session(console: Console) -> None:
    console.login("cw1")
    assert console.get("/queue").status_code == 200
    response = console.post("/logout")
    assert response.status_code == 302
    assert console.client.get("/queue").status_code == 302


def test_pages_need_a_signed_in_user(app: Flask) -> None:
    client = app.test_client()
    for path in (
        "/queue",
        "/cases",
        "/cases/new",
        "/dashboard",
        "/referrals",
        "/reports",
        "/notifications",
        "/admin/stations",
        "/cases/1",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")


def test_a_deactivated_user_is_signed_out_at_the_next_request(
    console: Console, rt: Runtime
) -> None:
    console.login("cw1")
    assert console.get("/queue").status_code == 200
    with tx(rt) as session:
        admin.deactivate_user(session, rt, "cw1")
    assert console.client.get("/queue").status_code == 302


def test_a_password_reset_ends_existing_sessions(console: Console, rt: Runtime) -> None:
    console.login("cw1")
    with tx(rt) as session:
        admin.set_password(session, rt, "cw1", "another-password-2")
    assert console.client.get("/queue").status_code == 302


def test_next_never_leads_off_site(console: Console) -> None:
    page = console.client.get("/login?next=https://evil.example.org/")
    token = TOKEN.search(page.get_data(as_text=True))
    response = console.client.post(
        "/login?next=https://evil.example.org/",
        data={"csrf_token": token.group(1), "username": "cw1", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/queue"


def test_the_json_api_needs_no_csrf_token(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/api/v1/auth/token", json={"username": "cw1", "password": PASSWORD})
    assert response.status_code == 201
    token = response.get_json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["username"] == "cw1"
