"""The transition's write path: one statement for its rows, a clean session, pooled pings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from tests.support import Network, register, tx
from workflow.services import cases
from workflow.storage import db
from workflow.storage.driver import DriverStatement
from workflow.storage.models import CaseEvent, ClockInstance, OutboxMessage
from workflow.storage.oneshot import flush_as_one_statement


@contextmanager
def statements(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement sent: through SQLAlchemy's execution path or straight to the driver."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # noqa: ANN001
        seen.append(statement)

    run_on_driver = DriverStatement.rows

    def record_driver(self: DriverStatement, connection: Any, params: Any) -> Any:
        seen.append(self.sql)
        return run_on_driver(self, connection, params)

    monkeypatch.setattr(DriverStatement, "rows", record_driver)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
        monkeypatch.undo()


def test_an_accept_reads_once_and_writes_once_on_postgres(
    pg_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = pg_network.rt
    case_id = register(pg_network)
    actor = pg_network.actor("cw1")
    with statements(rt.engine, monkeypatch) as seen, tx(rt) as session:
        done = cases.trigger_event(
            rt, session, actor, case_id, "accept", 1, {"assignee_id": pg_network.users["cw1b"]}
        )
        assert not session.new and not session.dirty  # nothing left for the commit's flush
    assert len(seen) == 2, seen
    assert seen[0].lstrip().startswith("SELECT") and "FOR UPDATE" in seen[0]
    assert seen[1].lstrip().startswith("WITH")
    with tx(rt) as session:
        written = session.get(CaseEvent, done.event.id)
        assert written is not None and written.type == "accept" and written.seq == 2
        clocks = {c.name: c for c in session.scalars(select(ClockInstance))}
        assert clocks["acceptance"].status == "met"
        assert clocks["resolution"].opened_by_event_id == done.event.id
        outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert outbox[-1].event_id == done.event.id
        assert outbox[-1].payload["event_id"] == done.event.id
        assert outbox[-1].status == "pending" and outbox[-1].attempts == 0  # column defaults


def test_an_assignee_outside_the_station_is_refused_by_the_joined_check(
    pg_network: Network,
) -> None:
    from workflow.errors import GuardFailed

    case_id = register(pg_network)
    with pytest.raises(GuardFailed), tx(pg_network.rt) as session:
        cases.trigger_event(
            pg_network.rt,
            session,
            pg_network.actor("cw1"),
            case_id,
            "accept",
            1,
            {"assignee_id": pg_network.users["cw2"]},  # another village's caseworker
        )


def test_the_written_objects_stay_in_the_session_as_persistent_rows(
    runtime_network: Network,
) -> None:
    rt = runtime_network.rt
    case_id = register(runtime_network)
    actor = runtime_network.actor("cw1")
    with tx(rt) as session:
        done = cases.trigger_event(rt, session, actor, case_id, "accept", 1, {})
        flush_as_one_statement(session)  # a second flush writes nothing more
        assert done.event in session and done.event.id is not None
        resolution = session.scalar(select(ClockInstance).where(ClockInstance.name == "resolution"))
        assert resolution is not None and resolution.id is not None
        # Changed later in the same transaction: the ordinary flush writes it.
        resolution.escalation_level = 3
    with tx(rt) as session:
        assert session.get(ClockInstance, resolution.id).escalation_level == 3
        assert session.get(CaseEvent, done.event.id).to_state == "mediation"


@pytest.fixture
def runtime_network(network: Network) -> Network:
    return network


@pytest.fixture
def one_connection_pool(pg_runtime) -> Iterator[tuple[Engine, int]]:  # noqa: ANN001
    """An engine whose pool holds one connection the server has killed, and its pid."""
    engine = db.make_engine(pg_runtime.settings.database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # The server drops it while it waits in the pool (a restart, an idle timeout).
        with pg_runtime.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        yield engine, pid
    finally:
        engine.dispose()


def test_a_pooled_connection_that_died_while_idle_is_replaced(
    one_connection_pool: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, killed = one_connection_pool
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:
        again = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert again != killed


def test_a_connection_back_in_use_at_once_is_trusted_without_a_ping(
    one_connection_pool: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No round trip of its own per transaction: a connection that died within the idle
    threshold shows as an error of that one use (retried by tasks, 503 on the API)."""
    from sqlalchemy.exc import OperationalError

    engine, _ = one_connection_pool
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with engine.connect() as connection:  # the pool replaced the dead one
        assert connection.execute(text("SELECT 1")).scalar_one() == 1


def test_deadline_clocks_survive_a_later_flush(pg_network: Network) -> None:
    """A clock written by the one statement and moved later is updated, not inserted again."""
    rt = pg_network.rt
    case_id = register(pg_network)
    rt.clock.advance(timedelta(hours=1))
    with tx(rt) as session:
        cases.trigger_event(rt, session, pg_network.actor("cw1"), case_id, "accept", 1, {})
        clock = session.scalar(select(ClockInstance).where(ClockInstance.name == "resolution"))
        assert clock is not None
        clock.due_at = clock.due_at + timedelta(days=1)
        session.flush()
    with tx(rt) as session:
        rows = session.scalars(select(ClockInstance).where(ClockInstance.name == "resolution"))
        assert [c.due_at for c in rows] == [clock.due_at]
