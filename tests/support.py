"""Shared test helpers: databases, runtimes and a small station network with users."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from config.settings import Settings
from workflow.clock import MovableClock
from workflow.runtime import Runtime, bootstrap
from workflow.services import actions, admin, cases, queries
from workflow.services.actors import Actor, load_actor
from workflow.services.auth import hash_password
from workflow.storage.migrate import upgrade
from workflow.storage.models import Base

PG_ADMIN_URL = os.environ.get("CARNATION_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# One Redis database per xdist worker: two test workers must not consume each other's tasks.
_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get(
    "CARNATION_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _XDIST_INDEX % 8}"
)
PASSWORD = "secret-pass-1"
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai


def make_settings(database_url: str, tmp: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret",
        encryption_keys=("k1:test-encryption-key",),
        instance_dir=tmp,
        **extra,
    )


def pg_database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def create_pg_database(prefix: str = "carnation_t") -> str:
    """A fresh PostgreSQL database for one test worker; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return pg_database_url(name)


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def reset_tables(rt: Runtime) -> None:
    """Empty every table (a fresh start per test, cheaper than migrating again)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with rt.engine.begin() as connection:
        if rt.is_postgres:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    rt.forget_calendar()
    rt.directory.clear()


def make_runtime(settings: Settings, clock: MovableClock | None = None) -> Runtime:
    rt = bootstrap(settings, clock=clock or MovableClock(START))
    upgrade(rt.engine)
    return rt


@contextmanager
def tx(rt: Runtime) -> Iterator[Session]:
    with rt.sessions() as session, session.begin():
        yield session


@dataclass
class Network:
    """District D01; towns T01, T02; villages V001, V002 (T01) and V003 (T02); court C01."""

    rt: Runtime
    users: dict[str, int]

    def actor(self, username: str) -> Actor:
        with tx(self.rt) as session:
            actor = load_actor(session, self.users[username])
        assert actor is not None
        return actor


STATIONS = [
    ("D01", "区妇联", "district", None),
    ("T01", "城关镇妇联", "town", "D01"),
    ("T02", "河口镇妇联", "town", "D01"),
    ("V001", "东村维权服务站", "village", "T01"),
    ("V002", "西村维权服务站", "village", "T01"),
    ("V003", "南村维权服务站", "village", "T02"),
    ("C01", "区法院妇女维权合议庭", "court", None),
]
USERS = [
    ("cw1", "caseworker", "V001", "cw1@example.org"),
    ("cw1b", "caseworker", "V001", None),
    ("cw2", "caseworker", "V002", None),
    ("cw3", "caseworker", "V003", None),
    ("vol1", "volunteer", "V001", None),
    ("sup_t1", "supervisor", "T01", "sup_t1@example.org"),
    ("sup_t2", "supervisor", "T02", None),
    ("sup_d", "supervisor", "D01", "sup_d@example.org"),
    ("liaison", "court_liaison", "C01", "liaison@example.org"),
    ("admin", "admin", "D01", None),
]


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run


def seed_network(rt: Runtime) -> Network:
    users = {}
    shared_hash = _password_hash()
    with tx(rt) as session:
        rt.active_workflow(session)
        for code, name, kind, parent in STATIONS:
            admin.create_station(session, code, name, kind, parent)
        for username, role, station, email in USERS:
            user = admin.create_user(
                session,
                rt,
                username,
                role,
                station,
                PASSWORD,
                email=email,
                password_hash=shared_hash,
            )
            users[username] = user.id
    return Network(rt=rt, users=users)


def registration(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "channel": "visit",
        "category": "marriage_family",
        "risk": "low",
        "complainant": {
            "name": "张小红",
            "phone": "13812341234",
            "id_number": "110101199001011234",
            "address": "东村三组12号",
            "is_minor": False,
            "consents_to_sms": True,
            "safe_phone": "13900001111",
        },
        "respondent": {"name": "王大力", "relation": "spouse"},
        "summary": "丈夫长期不给生活费，要求调解",
    }
    payload.update(overrides)
    return payload


# -- driving cases through the service layer --------------------------------------------


def register(network: Network, username: str = "cw1", **overrides: object) -> int:
    actor = network.actor(username)
    with tx(network.rt) as session:
        return cases.register_case(network.rt, session, actor, registration(**overrides)).id


def protection_order_in_court(network: Network, urgent: bool = False) -> int:
    """A domestic violence case referred for a protection order, acknowledged by the court."""
    case_id = register(network, category="domestic_violence", risk="high")
    trigger(
        network,
        "cw1",
        case_id,
        "refer",
        {"kind": "protection_order", "summary": "申请保护令", "applicant": "victim"},
    )
    trigger(
        network,
        "liaison",
        case_id,
        "acknowledge",
        {"docket_number": "(2026)保1号", "urgent": urgent},
    )
    return case_id


def trigger(
    network: Network,
    username: str,
    case_id: int,
    event: str,
    data: dict | None = None,
    version: int | None = None,
    occurred_at=None,
) -> dict:
    actor = network.actor(username)
    rt = network.rt
    with tx(rt) as session:
        if version is None:
            version = queries.get_case(rt, session, actor, case_id)["version"]
        cases.trigger_event(rt, session, actor, case_id, event, version, data or {}, occurred_at)
    with tx(rt) as session:
        return queries.get_case(rt, session, actor, case_id)


def add_session(network: Network, case_id: int, username: str = "cw1") -> None:
    rt = network.rt
    with tx(rt) as session:
        actions.record_session(
            rt,
            session,
            network.actor(username),
            case_id,
            rt.now() - timedelta(minutes=1),
            ["张小红", "王大力"],
            "partial",
            "notes",
        )


def view_of(network: Network, case_id: int, username: str = "cw1") -> dict:
    with tx(network.rt) as session:
        return queries.get_case(network.rt, session, network.actor(username), case_id)


def referred_case(network: Network, username: str = "cw1") -> int:
    """A complaint referred for litigation (mediation declined): the panel's work."""
    case_id = register(network, username)
    trigger(
        network,
        username,
        case_id,
        "refer",
        {"kind": "litigation", "summary": "s", "mediation_declined": True},
    )
    return case_id


def settled_case(network: Network) -> int:
    """A complaint accepted, mediated once and settled an hour after registration."""
    case_id = register(network)
    network.rt.clock.advance(timedelta(hours=1))
    trigger(network, "cw1", case_id, "accept")
    add_session(network, case_id)
    trigger(network, "cw1", case_id, "settle", {"agreement": "协议"})
    return case_id


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds (background work in other threads or processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time")
