"""Fixtures for the JSON API: a SQLite database in a tmp dir, a small network, a test client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from config.settings import Settings
from tests.support import registration as shared_registration
from web.app import create_app
from workflow.clock import MovableClock
from workflow.runtime import Runtime, bootstrap
from workflow.services import admin
from workflow.services.auth import IssuedToken, issue_token
from workflow.storage.migrate import upgrade
from workflow.storage.models import User

API = "/api/v1"
PASSWORD = "correct-horse-1"
# Monday 2 March 2026, 10:00 in Shanghai: a working day, far from holidays.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

STATIONS = [
    ("D01", "District federation", "district", None),
    ("T01", "East town", "town", "D01"),
    ("T02", "West town", "town", "D01"),
    ("V01", "East village", "village", "T01"),
    ("V02", "North village", "village", "T01"),
    ("V03", "West village", "village", "T02"),
    ("C01", "Women's rights panel", "court", None),
]
USERS = [
    ("cw1", "caseworker", "V01"),
    ("cw1b", "caseworker", "V01"),
    ("cw2", "caseworker", "V02"),
    ("cw3", "caseworker", "V03"),
    ("vol1", "volunteer", "V01"),
    ("sup_t1", "supervisor", "T01"),
    ("sup_t2", "supervisor", "T02"),
    ("sup_d", "supervisor", "D01"),
    ("liaison", "court_liaison", "C01"),
    ("admin", "admin", "D01"),
]


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


def _settings(directory: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{directory}/t.db",
        secret_key="test-secret",
        encryption_keys=("k1:test-encryption-secret",),
        instance_dir=directory,
    )


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated and seeded once (password hashing is slow); each test gets a copy."""
    directory = tmp_path_factory.mktemp("template")
    runtime = bootstrap(_settings(directory), clock=MovableClock(START))
    upgrade(runtime.engine)
    with runtime.sessions() as session, session.begin():
        runtime.active_workflow(session)
        for code, name, kind, parent in STATIONS:
            admin.create_station(session, code, name, kind, parent)
        for username, role, station in USERS:
            admin.create_user(session, runtime, username, role, station, PASSWORD)
    # Disposing closes the last connection, which checkpoints the WAL into the file.
    runtime.engine.dispose()
    return directory / "t.db"


@pytest.fixture
def rt(tmp_path: Path, clock: MovableClock, seeded_database: Path) -> Iterator[Runtime]:
    shutil.copyfile(seeded_database, tmp_path / "t.db")
    runtime = bootstrap(_settings(tmp_path), clock=clock)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def app(rt: Runtime) -> Flask:
    app = create_app(runtime=rt)
    app.testing = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def user_ids(rt: Runtime) -> dict[str, int]:
    with rt.sessions() as session:
        return {name: id_ for id_, name in session.execute(select(User.id, User.username))}


class Tokens:
    """Authorization headers per user (tokens issued directly: argon2 logins are slow)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cache: dict[str, IssuedToken] = {}

    def __call__(self, username: str) -> dict[str, str]:
        issued = self.cache.get(username)
        if issued is None or issued.expires_at <= self.rt.now():
            # Tests move the clock by days: a fresh token when the cached one has expired.
            with self.rt.sessions() as session, session.begin():
                user = session.scalar(select(User).where(User.username == username))
                assert user is not None
                issued = self.cache[username] = issue_token(self.rt, session, user)
        return {"Authorization": f"Bearer {issued.token}"}

    def forget(self) -> None:
        """Drop the cached tokens (after moving the clock past their lifetime)."""
        self.cache.clear()


@pytest.fixture
def auth(rt: Runtime) -> Tokens:
    return Tokens(rt)


def registration(**overrides: Any) -> dict[str, Any]:
    """The shared complaint, received by phone (the API tests' default channel)."""
    return shared_registration(**{"channel": "phone", **overrides})


class Api:
    """A thin driver over the test client: JSON calls as a named user."""

    def __init__(self, client: FlaskClient, auth: Tokens) -> None:
        self.client = client
        self.auth = auth

    def call(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers.update(self.auth(user))
        return self.client.open(API + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, user: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, user, **kwargs)

    def post(self, path: str, user: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, user, **kwargs)

    def register(self, user: str = "cw1", **overrides: Any) -> dict[str, Any]:
        response = self.post("/cases", user, json=registration(**overrides))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def fire(self, case: dict, event: str, user: str = "cw1", **data: Any) -> TestResponse:
        return self.post(
            f"/cases/{case['id']}/transitions",
            user,
            json={"event": event, "version": case["version"], "data": data},
        )


@pytest.fixture
def api(client: FlaskClient, auth: Tokens) -> Api:
    return Api(client, auth)
