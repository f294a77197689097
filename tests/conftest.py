"""Fixtures: real PostgreSQL and Redis (failing loudly when absent) and the embedded SQLite."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support import (
    START,
    Network,
    create_pg_database,
    drop_pg_database,
    make_runtime,
    make_settings,
    reset_tables,
    seed_network,
)
from workflow.clock import MovableClock
from workflow.runtime import Runtime


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    # The suite runs against the real services; a missing one is a failure, not a skip.
    missing = [
        name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _reachable(port)
    ]
    if missing:
        pytest.exit(
            f"{', '.join(missing)} not reachable: start them (scripts/services-up)", returncode=3
        )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def pg_runtime_base(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_runtime(make_settings(pg_url, tmp_path_factory.mktemp("pg")))


@pytest.fixture(scope="session")
def sqlite_runtime_base(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    tmp = tmp_path_factory.mktemp("sqlite")
    return make_runtime(make_settings(f"sqlite:///{tmp / 'carnation.db'}", tmp))


def _fresh(rt: Runtime) -> Runtime:
    rt.clock = MovableClock(START)
    rt._outbox_listeners.clear()
    return rt


@pytest.fixture(params=["sqlite", "postgres"])
def runtime(request: pytest.FixtureRequest) -> Runtime:
    """A clean database on each backend, with a movable clock."""
    name = "pg_runtime_base" if request.param == "postgres" else "sqlite_runtime_base"
    base: Runtime = request.getfixturevalue(name)
    reset_tables(base)
    return _fresh(base)


@pytest.fixture
def pg_runtime(pg_runtime_base: Runtime) -> Runtime:
    reset_tables(pg_runtime_base)
    return _fresh(pg_runtime_base)


@pytest.fixture
def network(runtime: Runtime) -> Network:
    return seed_network(runtime)


@pytest.fixture
def pg_network(pg_runtime: Runtime) -> Network:
    return seed_network(pg_runtime)
