"""Write a session's pending changes in one statement: one round trip, not one per row.

A transition changes a handful of rows in five tables (the case, its timeline event,
its clocks, its outbox messages, maybe a referral). The unit of work flushes them as
one statement each, every one a round trip to PostgreSQL and a pass through the ORM's
persistence machinery. On PostgreSQL a data-modifying ``WITH`` runs them all in one
statement, in the same transaction, with the constraints checked at its end (an
outbox row may name the event inserted beside it). SQLite has no such statement: there
the ordinary flush runs.

Only what the ORM itself would write is written: the plain columns of new objects
(scalar column defaults applied as the ORM applies them) and the net changes of
modified ones. Afterwards the session holds every object as persistent and clean, with
the ids the database gave, exactly as after a flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, insert, literal, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import NO_VALUE

from workflow.storage.driver import DriverStatement


def flush_as_one_statement(session: Session) -> None:
    """Flush ``session`` (PostgreSQL: one statement for all its new and modified rows)."""
    if session.get_bind().dialect.name != "postgresql":
        session.flush()
        return
    new = list(session.new)
    if session.deleted:
        session.flush()
        return
    params: dict[str, Any] = {}
    inserts = [_insert_values(obj, index, params) for index, obj in enumerate(new)]
    modified: list[Any] = []
    updates: list[tuple[Table, dict[str, Any], None]] = []
    # In a fixed order (the session's is a set's): one shape, one prepared statement.
    for obj in sorted(session.dirty, key=_table_name):
        changed = _update_values(obj, len(updates), params)
        if changed[1]:
            modified.append(obj)
            updates.append(changed)
    if not (inserts or updates):
        return
    shape = (
        tuple((table, tuple(columns)) for table, columns, _ in inserts),
        tuple((table, tuple(changes)) for table, changes, _ in updates),
    )
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = DriverStatement(
            _statement(*shape), session.get_bind().dialect
        )
    # Straight to the driver, past SQLAlchemy's execution plumbing, in the session's transaction.
    rows = statement.rows(session.connection(), params)
    ids = {int(index): id_ for index, id_ in rows}
    for index, (obj, (_, _, pk_key)) in enumerate(zip(new, inserts, strict=True)):
        # Into the object's dict, as the flush puts a new row's id: through the attribute,
        # the read of a key never set and the write's change events cost more than the
        # statement's own processing of the object.
        values = instance_state(obj).dict
        if values.get(pk_key) is None:
            values[pk_key] = ids[index]
    # Written: from now on the session holds the rows as loaded, clean and persistent
    # (a flush at commit finds nothing to do). This is the flush's own last step; the
    # public way there (expunge, make_transient_to_detached, add) cost as much as the
    # statement itself. tests/integration/test_write_path.py holds it to that.
    session._register_persistent({instance_state(obj) for obj in [*new, *modified]})


# A statement per shape (which tables, which columns), built and compiled once: building
# the constructs costs more than running them. Values travel as parameters.
_STATEMENTS: dict[tuple[Any, ...], DriverStatement] = {}


@dataclass(frozen=True)
class _Columns:
    """What an INSERT needs to know of a mapped class, worked out once per class."""

    table: Table
    pk_key: str
    # (attribute key, column key, scalar default or None), in the mapper's order
    columns: tuple[tuple[str, str, Any], ...]


_COLUMNS: dict[Any, _Columns] = {}


def _columns_of(mapper: Any) -> _Columns:
    found = _COLUMNS.get(mapper)
    if found is None:
        (pk_column,) = mapper.primary_key
        columns = []
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            default = column.default
            scalar = default.arg if default is not None and default.is_scalar else None
            columns.append((prop.key, column.key, scalar))
        found = _COLUMNS[mapper] = _Columns(
            table=mapper.local_table,
            pk_key=mapper.get_property_by_column(pk_column).key,
            columns=tuple(columns),
        )
    return found


def _insert_values(obj: Any, index: int, params: dict[str, Any]) -> tuple[Table, list[str], str]:
    """The columns an INSERT of ``obj`` writes, its values put in ``params``."""
    state = instance_state(obj)
    spec = _columns_of(state.mapper)
    values = state.dict
    columns: list[str] = []
    for key, column_key, default in spec.columns:
        value = values.get(key)
        if value is None and key not in values and default is not None:
            value = values[key] = default  # as the flush would: the object sees the default
        if value is None:
            # The column's NULL (no server defaults here), or the sequence's next id.
            # Fewer parameters keep the statement in psycopg's cache of converted queries.
            continue
        columns.append(column_key)
        params[f"n{index}_{column_key}"] = value
    return spec.table, columns, spec.pk_key


def _update_values(
    obj: Any, index: int, params: dict[str, Any]
) -> tuple[Table, dict[str, Any], None]:
    """The net changes of ``obj`` (attribute key → value), its values put in ``params``."""
    state = instance_state(obj)
    mapper = state.mapper
    changes: dict[str, Any] = {}
    names: dict[str, Any] = {}
    # `committed_state` holds the loaded value of every attribute set since the load:
    # the net change is where it differs from the value now.
    for key, loaded in state.committed_state.items():
        if key not in mapper.column_attrs:
            continue
        value = state.dict.get(key)
        if loaded is NO_VALUE or loaded != value:
            changes[key] = value
            names[f"c{index}_{key}"] = value
    if changes:  # an object with no net change writes nothing
        identity = state.identity
        assert identity is not None  # a modified object is persistent
        params.update(names)
        params[f"c{index}_pk"] = identity[0]
    return mapper.local_table, changes, None  # type: ignore[return-value]


def _statement(
    inserts: tuple[tuple[Table, tuple[str, ...]], ...],
    updates: tuple[tuple[Table, tuple[str, ...]], ...],
) -> Any:
    new_ctes = []
    for index, (table, columns) in enumerate(inserts):
        values = {c: bindparam(f"n{index}_{c}", type_=table.c[c].type) for c in columns}
        (pk,) = table.primary_key.columns
        new_ctes.append(insert(table).values(values).returning(pk.label("id")).cte(f"new_{index}"))
    changed_ctes = []
    for index, (table, keys) in enumerate(updates):
        mapped = {_column_key(table, k): k for k in keys}
        values = {c: bindparam(f"c{index}_{c}", type_=table.c[c].type) for c in mapped}
        (pk,) = table.primary_key.columns
        changed_ctes.append(
            update(table)
            .where(pk == bindparam(f"c{index}_pk", type_=pk.type))
            .values(values)
            .cte(f"changed_{index}")
        )
    parts = [select(literal(index), cte.c.id) for index, cte in enumerate(new_ctes)]
    if not parts:
        parts = [select(literal(-1), literal(None))]
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    return statement.add_cte(*changed_ctes)


def _table_name(obj: Any) -> str:
    return str(type(obj).__tablename__)


def _column_key(table: Table, attribute_key: str) -> str:
    """Attribute keys are column keys in these models (asserted, not assumed)."""
    if attribute_key not in table.c:
        raise ValueError(f"{table.name}.{attribute_key}: attribute and column keys differ")
    return attribute_key
