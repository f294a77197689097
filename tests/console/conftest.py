"""Fixtures for the console: a seeded SQLite database per test, a signed-in browser-like client.

CSRF stays on, as in production: the `Console` driver reads each form's token from the
page it came from, the way a browser sends it back.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.support import START, make_settings, registration, seed_network, tx
from web.app import create_app
from web.console.support import session_id
from workflow.clock import MovableClock
from workflow.runtime import Runtime, bootstrap
from workflow.services.actors import load_actor
from workflow.services.cases import register_case, trigger_event
from workflow.storage.migrate import upgrade
from workflow.storage.models import User

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small network of tests/support.py, migrated and seeded once; tests get a copy."""
    directory = tmp_path_factory.mktemp("console-template")
    rt = bootstrap(
        make_settings(f"sqlite:///{directory / 'c.db'}", directory), clock=MovableClock(START)
    )
    upgrade(rt.engine)
    seed_network(rt)
    rt.engine.dispose()
    return directory / "c.db"


@pytest.fixture
def rt(tmp_path: Path, console_template: Path) -> Iterator[Runtime]:
    shutil.copyfile(console_template, tmp_path / "c.db")
    runtime = bootstrap(
        make_settings(f"sqlite:///{tmp_path / 'c.db'}", tmp_path), clock=MovableClock(START)
    )
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def app(rt: Runtime) -> Flask:
    app = create_app(runtime=rt)
    app.testing = True
    return app


class Console:
    """A browser stand-in: signs in as a user, follows pages, posts forms with their token."""

    def __init__(self, app: Flask, rt: Runtime) -> None:
        self.app = app
        self.rt = rt
        self.client: FlaskClient = app.test_client()
        self.token: str | None = None

    def login(self, username: str, language: str | None = None) -> Console:
        """Sign in directly (argon2 is slow on purpose; the sign-in form has its own tests)."""
        with tx(self.rt) as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            identity = session_id(user)
        self.client = self.app.test_client()
        with self.client.session_transaction() as cookie:
            cookie["_user_id"] = identity
            cookie["_fresh"] = True
            if language:
                cookie["lang"] = language
        self.token = None
        return self

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.get(path, **kwargs)
        found = TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        if self.token is None:
            self.get("/notifications")
        form = {"csrf_token": self.token, **(data or {})}
        response = self.client.post(path, data=form, **kwargs)
        found = TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def text(self, path: str, status: int = 200) -> str:
        response = self.get(path)
        assert response.status_code == status, (path, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def console(app: Flask, rt: Runtime) -> Console:
    return Console(app, rt)


def actor(rt: Runtime, username: str) -> Any:
    with tx(rt) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        found = load_actor(session, user.id)
    assert found is not None
    return found


def register(rt: Runtime, username: str = "cw1", **overrides: Any) -> dict[str, Any]:
    """A case registered through the service; returns {id, number, version}."""
    payload = registration(**overrides)
    payload.setdefault("received_at", None)
    payload.setdefault("station", None)
    payload.setdefault("victim", None)
    with tx(rt) as session:
        case = register_case(rt, session, actor(rt, username), payload)
        return {"id": case.id, "number": case.number, "version": case.version}


def fire(rt: Runtime, case: dict[str, Any], event: str, username: str = "cw1", **data: Any) -> None:
    with tx(rt) as session:
        result = trigger_event(
            rt, session, actor(rt, username), case["id"], event, case["version"], data
        )
        case["version"] = result.case.version
