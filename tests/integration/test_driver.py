"""Statements run straight on psycopg: values, errors and session objects as through SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import BigInteger, bindparam, exc, insert, select, text

from tests.support import PG_ADMIN_URL, Network, register, tx
from workflow.services import cases
from workflow.storage.db import make_engine
from workflow.storage.driver import DriverStatement, PreparedSelect, as_loaded, new_object
from workflow.storage.models import Case, OutboxMessage
from workflow.storage.types import UTCDateTime

OUTBOX = OutboxMessage.__table__
SHANGHAI = timezone(timedelta(hours=8))


def _insert_outbox(dialect: object) -> DriverStatement:
    columns = ("case_id", "work", "payload", "status", "attempts", "available_at", "created_at")
    statement = (
        insert(OUTBOX)
        .values({c: bindparam(c, type_=OUTBOX.c[c].type) for c in columns})
        .returning(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.created_at)
    )
    return DriverStatement(statement, dialect, [OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.created_at])


def test_values_go_through_the_column_types_both_ways(pg_network: Network) -> None:
    rt = pg_network.rt
    case_id = register(pg_network)
    local = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    with tx(rt) as session:
        statement = _insert_outbox(session.get_bind().dialect)
        ((outbox_id, payload, created_at),) = statement.rows(
            session.connection(),
            {
                "case_id": case_id,
                "work": "notify",
                "payload": {"case_id": case_id, "to": ["assignee"]},  # JSONB, adapted
                "status": "pending",
                "attempts": 0,
                "available_at": local,
                "created_at": local,
            },
        )
    assert payload == {"case_id": case_id, "to": ["assignee"]}
    # UTCDateTime's result processor: aware and in UTC, as through SQLAlchemy.
    assert created_at == local and created_at.tzinfo == UTC
    with tx(rt) as session:
        assert session.get(OutboxMessage, outbox_id).available_at == local


def test_a_naive_datetime_is_refused_as_through_sqlalchemy(pg_network: Network) -> None:
    with tx(pg_network.rt) as session:
        statement = DriverStatement(
            select(bindparam("at", type_=UTCDateTime)), session.get_bind().dialect
        )
        with pytest.raises(ValueError, match="naive"):
            statement.rows(session.connection(), {"at": datetime(2026, 11, 20, 10, 0)})


def test_a_driver_error_is_sqlalchemys_exception_without_the_values(pg_network: Network) -> None:
    rt = pg_network.rt
    with tx(rt) as session:
        statement = _insert_outbox(session.get_bind().dialect)
        with pytest.raises(exc.IntegrityError) as raised:
            statement.rows(
                session.connection(),
                {
                    "case_id": 999_999,  # no such case: the foreign key refuses it
                    "work": "notify",
                    "payload": {"secret": "Zhang San, 13800000000"},
                    "status": "pending",
                    "attempts": 0,
                    "available_at": datetime.now(UTC),
                    "created_at": datetime.now(UTC),
                },
            )
    assert "13800000000" not in str(raised.value)


def test_a_connection_lost_mid_statement_is_invalidated(pg_network: Network) -> None:
    rt = pg_network.rt
    with tx(rt) as session:
        connection = session.connection()
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with rt.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        statement = DriverStatement(
            select(bindparam("n", type_=BigInteger)), session.get_bind().dialect
        )
        with pytest.raises(exc.OperationalError) as raised:
            statement.rows(connection, {"n": 1})
        assert raised.value.connection_invalidated
        assert connection.invalidated
        session.rollback()
    with tx(rt) as session:  # the pool hands out a live connection again
        assert session.execute(text("SELECT 1")).scalar_one() == 1


def test_a_row_becomes_the_sessions_object_and_unread_columns_load_on_access(
    pg_network: Network,
) -> None:
    rt = pg_network.rt
    case_id = register(pg_network)
    with tx(rt) as session:
        number = session.get(Case, case_id).number
    with tx(rt) as session:
        case = as_loaded(session, Case, {"id": case_id, "state": "intake", "version": 1})
        assert case in session and not session.dirty
        assert session.get(Case, case_id) is case  # in the identity map
        assert case.number == number  # not read: loaded on access
        case.risk = "high"
        assert case in session.dirty
    with tx(rt) as session:
        assert session.get(Case, case_id).risk == "high"


def test_a_row_replaces_the_values_of_an_object_the_session_holds(pg_network: Network) -> None:
    rt = pg_network.rt
    case_id = register(pg_network)
    with tx(rt) as session:
        held = session.get(Case, case_id)
        assert held.version == 1
        again = as_loaded(session, Case, {"id": case_id, "version": 7, "state": "mediation"})
        assert again is held and held.version == 7 and held.state == "mediation"
        assert not session.dirty  # the row's values, not a change to write
        session.rollback()


def test_a_transition_reads_unread_columns_only_when_asked(pg_network: Network) -> None:
    rt = pg_network.rt
    case_id = register(pg_network)
    with tx(rt) as session:
        number = session.get(Case, case_id).number
    with tx(rt) as session:
        done = cases.trigger_event(rt, session, pg_network.actor("cw1"), case_id, "accept", 1, {})
        assert "number" not in done.case.__dict__  # left unread by the locked read
        assert done.case.number == number


def test_rows_are_taken_by_column_key_only_where_it_is_the_attribute_key() -> None:
    from sqlalchemy import Column, Integer
    from sqlalchemy.orm import DeclarativeBase

    from workflow.storage.driver import require_attribute_keys

    class Scratch(DeclarativeBase):
        pass

    class Renamed(Scratch):
        __tablename__ = "renamed"
        id = Column(Integer, primary_key=True)
        amount = Column("quantity", Integer)  # attribute `amount`, column `quantity`

    require_attribute_keys(Renamed, ["id", "amount"])
    with pytest.raises(ValueError, match="quantity"):
        require_attribute_keys(Renamed, ["id", "quantity"])


def test_a_new_object_is_written_as_its_constructor_would_write_it(network: Network) -> None:
    rt = network.rt
    case_id = register(network)
    now = rt.now()
    given = {"case_id": case_id, "work": "notify", "payload": {"n": 1}}
    given |= {"available_at": now, "created_at": now}
    with tx(rt) as session:
        built, constructed = new_object(OutboxMessage, given), OutboxMessage(**given)
        session.add_all([built, constructed])
        session.flush()
        ids = built.id, constructed.id
    with tx(rt) as session:
        rows = [session.get(OutboxMessage, i) for i in ids]
        columns = [c.key for c in OUTBOX.c if c.key != "id"]
        first, second = ({key: getattr(row, key) for key in columns} for row in rows)
    assert first == second
    # The column defaults (status, attempts) applied as for the constructor's object.
    assert first["status"] == "pending" and first["attempts"] == 0


def test_a_new_object_takes_column_attributes_only() -> None:
    with pytest.raises(TypeError, match="not column attributes"):
        new_object(OutboxMessage, {"work": "notify", "no_such_column": 1})


def test_postgresql_sessions_run_in_utc_whatever_the_servers_zone(pg_network: Network) -> None:
    # UTCDateTime passes psycopg's values through as they are only when they come back
    # in UTC: the engine sets the session's zone (the server's default may be local).
    with tx(pg_network.rt) as session:
        assert session.scalar(text("SHOW TimeZone")) == "UTC"
        at = session.scalar(select(bindparam("at", type_=UTCDateTime)), {"at": datetime.now(UTC)})
    assert at.tzinfo is UTC


@pytest.mark.postgres
def test_a_zone_set_in_the_url_is_kept_and_values_still_come_back_in_utc() -> None:
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    engine = make_engine(f"{PG_ADMIN_URL}{separator}options=-c%20TimeZone%3DAsia%2FShanghai")
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW TimeZone")) == "Asia/Shanghai"
            given = datetime(2026, 1, 1, 8, 0, tzinfo=SHANGHAI)
            statement = select(bindparam("at", type_=UTCDateTime))
            at = connection.scalar(statement, {"at": given})
            # Straight on psycopg too: a value not in UTC still goes through the processor.
            ((prepared,),) = PreparedSelect(statement).rows(connection, {"at": given})
    finally:
        engine.dispose()
    assert at == given and at.tzinfo is UTC
    assert prepared == given and prepared.tzinfo is UTC


def test_a_prepared_select_gives_the_rows_sqlalchemy_gives(network: Network) -> None:
    """Both backends: the same tuples, in the same order, as a Core execute of the select."""
    rt = network.rt
    first, second = register(network), register(network)
    statement = (
        select(Case.id, Case.number, Case.facts, Case.received_at)
        .where(Case.id >= first, Case.id <= second)
        .order_by(Case.id)
    )
    prepared = PreparedSelect(statement)
    with tx(rt) as session:
        connection = session.connection()
        expected = [tuple(row) for row in connection.execute(statement).all()]
        got = [tuple(row) for row in prepared.rows(connection, {})]
        again = [tuple(row) for row in prepared.rows(connection, {})]  # the compiled one
    assert [row[0] for row in got] == [first, second]
    assert got == expected == again
    assert isinstance(got[0][2], dict) and got[0][3].tzinfo == UTC


def test_json_columns_keep_what_the_standard_library_would_write(pg_network: Network) -> None:
    """orjson writes JSON on PostgreSQL: keys that are not strings become strings, and an
    integer beyond 64 bits, which orjson refuses, is written by the standard library."""
    rt = pg_network.rt
    case_id = register(pg_network)
    with tx(rt) as session:
        rows = _insert_outbox(session.get_bind().dialect).rows(
            session.connection(),
            {
                "case_id": case_id,
                "work": "notify",
                "payload": {1: "one", "big": 2**70, "text": "张三"},
                "status": "pending",
                "attempts": 0,
                "available_at": datetime.now(UTC),
                "created_at": datetime.now(UTC),
            },
        )
    assert rows[0][1] == {"1": "one", "big": 2**70, "text": "张三"}
