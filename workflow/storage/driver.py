"""The transition's two statements, run straight on psycopg: compiled once, prepared once.

A transition is two statements (the locked read, the one-statement write) and each of
them, run through SQLAlchemy's execution path, cost the client three to five times
what the driver itself spends (measured: 0.52 ms on a Core connection, 0.90 ms through
the ORM session, 0.17 ms here, for the locked read): building the execution context,
the parameter and result processing set up per call, psycopg describing every column
of the result for the result's metadata, psycopg converting the ``%(name)s``
placeholders. Here a Core statement is compiled by SQLAlchemy once, its placeholders
numbered once (``$1``, a psycopg ``RawCursor`` passes them as they are), its type
processors looked up once, and it runs as a server-side prepared statement on the
session's own connection, in the session's transaction, its results in binary format.

What SQLAlchemy's path does for a statement is kept: values go through the same bind
and result processors of their column types, and a driver error is raised as the
SQLAlchemy exception it would have been (``OperationalError``, ``IntegrityError``...),
a lost connection invalidated so the pool does not hand it out again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, TypeVar

import psycopg
from sqlalchemy import exc, inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Select

from workflow.storage.types import UTCDateTime

T = TypeVar("T")

# SQLAlchemy's psycopg dialect renders parameters as %(name)s (a literal % as %%).
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


class DriverStatement:
    """A Core statement compiled for PostgreSQL once, run by psycopg as a prepared statement."""

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, columns: Sequence[Any] = ()
    ) -> None:
        """``columns``: the statement's result columns in order, for their result processors."""
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding parameters (IN lists) cannot be prepared once")
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "%"
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _PLACEHOLDER.sub(number, compiled.string)
        binds = compiled.binds
        defaults = compiled.params  # values fixed in the statement (literals)
        self._names = tuple(names)
        self._defaults = tuple(defaults.get(name) for name in names)
        self._bind = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        # Only the columns that have a processor are visited per row (most have none).
        # A UTC timestamp arrives in UTC (the sessions' zone): its processor is called
        # only for a value in another zone, not for each of the hundreds a page holds.
        result: list[tuple[int, Any]] = []
        utc_result: list[tuple[int, Any]] = []
        for at, column in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                utc = isinstance(column.type, UTCDateTime)
                (utc_result if utc else result).append((at, process))
        self._result, self._utc_result = tuple(result), tuple(utc_result)

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in zip(self._names, self._defaults, self._bind, strict=True):
            value = params.get(name, default)
            out.append(process(value) if process is not None and value is not None else value)
        return out

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run on ``connection`` (in its transaction); every row, as processed tuples."""
        values = self.values(params)
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        try:
            with psycopg.RawCursor(driver) as cursor:
                cursor.execute(self.sql, values, prepare=True, binary=True)
                rows = cursor.fetchall()
        except psycopg.Error as error:
            raise _as_sqlalchemy_error(connection, self.sql, values, error) from error
        if not (self._result or self._utc_result):
            return rows
        return [self._process(row) for row in rows]

    def _process(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for at, process in self._result:
            value = values[at]
            if value is not None:
                values[at] = process(value)
        for at, process in self._utc_result:
            value = values[at]
            if value is not None and value.tzinfo is not UTC:
                values[at] = process(value)
        return tuple(values)


class PreparedSelect:
    """A select run as a `DriverStatement` on PostgreSQL, through SQLAlchemy elsewhere.

    For the reads every request makes (the token's user, a page of cases, their clocks),
    where SQLAlchemy's execution path cost more than the query: rows come back as plain
    tuples in the select's column order on either path.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[Dialect, DriverStatement] = {}  # per engine's dialect

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        dialect = connection.dialect
        if dialect.name != "postgresql":
            return connection.execute(self.statement, params).all()
        compiled = self._compiled.get(dialect)
        if compiled is None:
            # Two threads may both compile it at first: the same result, one kept.
            compiled = self._compiled[dialect] = DriverStatement(
                self.statement, dialect, list(self.statement.selected_columns)
            )
        return compiled.rows(connection, params)


def _as_sqlalchemy_error(
    connection: Connection, sql: str, values: list[Any], error: psycopg.Error
) -> exc.DBAPIError:
    """The exception SQLAlchemy's own path raises for ``error``, the connection invalidated
    when it is gone (the pool then replaces it)."""
    driver = connection.connection.dbapi_connection
    lost = connection.dialect.is_disconnect(error, driver, None)  # type: ignore[arg-type]
    if lost:
        connection.invalidate(error)
    wrapped = exc.DBAPIError.instance(
        sql,
        values,
        error,
        psycopg.Error,
        hide_parameters=True,  # parameters may hold personal data: never in messages or logs
        connection_invalidated=lost,
        dialect=connection.dialect,
    )
    assert isinstance(wrapped, exc.DBAPIError)
    return wrapped


def as_loaded(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """The session's object for a row read by a ``DriverStatement``, as a query leaves it.

    Persistent and clean, its changes tracked from here; columns not in ``values`` load
    on access (as deferred ones do). An object the session already holds gets the row's
    values, as a locked read with ``populate_existing`` replaces them.
    """
    mapper = _mapper(cls)
    key = mapper.identity_key_from_primary_key((values[_PK_KEYS[cls]],))
    held = session.identity_map.get(key)
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)
        return held  # type: ignore[no-any-return]
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(values)
    make_transient_to_detached(obj)  # keyed and clean; the columns not read are expired
    session.add(obj)
    return obj  # type: ignore[no-any-return]


def new_object(cls: type[T], values: Mapping[str, Any]) -> T:
    """A new (transient) object of ``cls`` holding ``values``, as ``cls(**values)`` makes it.

    The declarative constructor sets each value through its instrumented attribute, and
    each set fires the attribute's change events, which for an object not yet in any
    session record nothing anyone reads: a flush inserts what the object holds. A
    transition makes three such objects of a dozen columns; this skips the events.
    Column attributes only (no relationships, whose events keep the other side in step).
    """
    mapper = _mapper(cls)
    stray = values.keys() - _COLUMN_KEYS[cls]
    if stray:
        raise TypeError(f"{cls.__name__}: not column attributes: {sorted(stray)}")
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(values)
    return obj  # type: ignore[no-any-return]


def require_attribute_keys(cls: type, column_keys: Sequence[str]) -> None:
    """``as_loaded`` takes a row's values by column key: they must be the attribute keys."""
    attributes = set(_mapper(cls).column_attrs.keys())
    stray = [key for key in column_keys if key not in attributes]
    if stray:
        raise ValueError(f"{cls.__name__}: columns not mapped under their own names: {stray}")


def _mapper(cls: type) -> Mapper[Any]:
    mapper = _MAPPERS.get(cls)
    if mapper is None:
        mapper = _MAPPERS[cls] = inspect(cls)
        (pk,) = mapper.primary_key  # one-column keys only
        _PK_KEYS[cls] = mapper.get_property_by_column(pk).key
        _COLUMN_KEYS[cls] = frozenset(mapper.column_attrs.keys())
    return mapper


_MAPPERS: dict[type, Mapper[Any]] = {}
_PK_KEYS: dict[type, str] = {}
_COLUMN_KEYS: dict[type, frozenset[str]] = {}
