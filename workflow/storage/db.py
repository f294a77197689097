"""The engine and session factory: SQLite (WAL, busy timeout, immediate writes) or PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``database_url``; never at import time."""
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        # psycopg 3 is the driver; accept the plain URL operators usually have.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    if database_url.startswith("sqlite"):
        return _sqlite_engine(database_url, **kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Sessions in UTC whatever the server's default: values are stored and read as UTC,
    # and psycopg then returns them tagged UTC (no conversion per value on reading).
    # Options given in the URL are the operator's and win (values stay correct: a zone
    # other than UTC only costs the conversion).
    connect_args = kwargs.pop("connect_args", {})
    if "options" not in make_url(database_url).query:
        connect_args.setdefault("options", "-c TimeZone=UTC")
    # JSON columns (facts, clock computations, payloads) read and written by orjson:
    # the standard library's decoding was a tenth of a listing's CPU.
    kwargs.setdefault("json_deserializer", orjson.loads)
    kwargs.setdefault("json_serializer", dump_json)
    engine = create_engine(database_url, connect_args=connect_args, **kwargs)
    _ping_when_idle(engine)
    return engine


def dump_json(value: Any) -> bytes | str:
    """``value`` as JSON: orjson, or the standard library where orjson refuses (an
    integer beyond 64 bits); keys that are not strings become strings, as with ``json``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value)


# A connection back in use within this many seconds is trusted without a ping.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use, but only after it sat idle for a while.

    A server restart or a dropped connection shows on connections that waited in the
    pool; a ping on every checkout (`pool_pre_ping`) would cost every transaction a
    round trip for that. A failed ping discards the connection and the pool connects
    anew (SQLAlchemy retries a checkout that raises DisconnectionError).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure: the connection is unusable
            raise DisconnectionError(f"stale pooled connection: {type(exc).__name__}") from exc


def _sqlite_engine(database_url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", 30)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(database_url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has one writer at a time. A deferred transaction that later wants to
        # write can fail at once with SQLITE_BUSY instead of waiting; taking the write
        # lock up front makes concurrent writers queue on the busy timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        with session.begin():
            yield session
    finally:
        session.close()
