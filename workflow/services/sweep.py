"""The deadline sweep: fire due ladder steps (reminder, breach, levels 1–3) each exactly once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from workflow.runtime import Runtime
from workflow.services import clocks as clock_service
from workflow.services.cases import append_event, emit, event_id_from_sequence
from workflow.storage.driver import DriverStatement
from workflow.storage.models import Case, ClockInstance, EscalationStep
from workflow.storage.types import UTCDateTime

log = logging.getLogger(__name__)

STEP_RECIPIENTS = {
    "reminder": ("assignee",),
    "level1": ("assignee", "responsible_supervisors"),
    "level2": ("upper_supervisors",),
    "level3": ("district_supervisors",),
}
BATCH = 200


def sweep(rt: Runtime, batch: int = BATCH) -> int:
    """Fire every due step; returns how many steps fired. Safe with several sweeps at once."""
    fired = 0
    while True:
        with rt.sessions() as session, session.begin():
            clocks = _claim_due(rt, session, batch)
            # The batch's cases and fired steps in one query each, not one per clock.
            cases = _lock_cases(rt, session, {clock.case_id for clock in clocks})
            steps = _fired_steps(session, [clock.id for clock in clocks])
            fired += _fire_batch(rt, session, clocks, cases, steps)
        if len(clocks) < batch:
            return fired


def _fire_batch(
    rt: Runtime,
    session: Session,
    clocks: list[DueClock],
    cases: dict[int, Case],
    steps: dict[int, list[str]],
) -> int:
    """Fire the batch's due steps: their records in one statement, their events after."""
    now = rt.now()
    due = []
    processed = []
    for clock in clocks:
        case = cases.get(clock.case_id)
        if case is None:
            continue  # another transaction holds the case: its steps fire next sweep
        due.extend(_due_steps(rt, session, clock, case, steps.get(clock.id, []), now))
        processed.append(clock)
    recorded = _record_steps(session, due, now)
    fired = [item for item in due if (item.clock.id, item.step) in recorded]
    # Each step makes one timeline entry, a breach two: their ids drawn in one query.
    event_ids = _next_event_ids(rt, session, sum(_entries(item.step) for item in fired))
    for item in fired:
        _announce(rt, session, item, now, event_ids)
    _write_clocks(session, processed)
    return len(fired)


@dataclass
class _DueStep:
    clock: DueClock
    case: Case
    clock_def: Any
    step: str
    due_at: datetime


def _due_steps(
    rt: Runtime,
    session: Session,
    clock: DueClock,
    case: Case,
    fired_steps: list[str],
    now: datetime,
) -> list[_DueStep]:
    """The clock's due steps in order (a catch-up after downtime fires each once).

    Points the clock at its next step not yet due; the steps are announced by the caller.
    """
    definition = rt.workflow(case.workflow_key, session).definition
    clock_def = definition.clocks.get(clock.name)
    if clock_def is None or clock.stopped_at is not None or clock.status == "suspended":
        clock.next_step, clock.next_step_at = None, None
        return []
    calendar = rt.calendar(session)
    deadline = clock_service.deadline_for(
        clock_def,
        clock.opened_at,
        clock.unit,
        clock.length,
        clock.extra or 0,
        calendar,
        rt.tz,
        date.fromisoformat(clock.until) if clock.until else None,
    )
    due = []
    while (
        clock.next_step is not None and clock.next_step_at is not None and clock.next_step_at <= now
    ):
        due.append(_DueStep(clock, case, clock_def, clock.next_step, clock.next_step_at))
        fired_steps.append(clock.next_step)
        clock_service.schedule_next_step(
            clock, clock_def, deadline, calendar, rt.tz, now, fired_steps
        )
    return due


@dataclass(slots=True)
class DueClock:
    """A claimed clock: the columns the sweep reads and the four it changes.

    Not an ORM object: a wave claims thousands, and building, tracking and flushing
    one object each cost more than the claim's own query. ``extra`` and ``until`` come
    out of ``computation`` in the query; decoding the whole JSON of every clock cost
    more than half of the claim (measured).
    """

    id: int
    case_id: int
    name: str
    status: str
    opened_at: datetime
    due_at: datetime
    unit: str
    length: int
    stopped_at: datetime | None
    escalation_level: int
    next_step: str | None
    next_step_at: datetime | None
    extra: int | None
    until: str | None


_CLOCKS = ClockInstance.metadata.tables[ClockInstance.__tablename__]
_DUE_CLOCK_COLUMNS = [
    # In DueClock's order: its fields are the table's columns but for the last two.
    *(_CLOCKS.c[name] for name in DueClock.__match_args__[:-2]),
    _CLOCKS.c.computation["extra"].as_integer().label("extra"),
    _CLOCKS.c.computation["until"].as_string().label("until"),
]


def _claim_statement(dialect: str) -> Select[Any]:
    # Through the partial index on next_step_at: the cost follows what is due, not
    # the number of open cases. SKIP LOCKED lets a second sweep take other clocks.
    statement = (
        select(*_DUE_CLOCK_COLUMNS)
        .where(_CLOCKS.c.next_step_at.is_not(None), _CLOCKS.c.next_step_at <= bindparam("now"))
        .order_by(_CLOCKS.c.next_step_at)
        .limit(bindparam("limit"))
    )
    if dialect == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return statement


_CLAIM_SQLITE = _claim_statement("sqlite")


@cache
def _claim_pg(dialect: Dialect) -> DriverStatement:
    """Compiled once per dialect (it needs the engine's), on first use."""
    return DriverStatement(_claim_statement("postgresql"), dialect, _DUE_CLOCK_COLUMNS)


def _claim_due(rt: Runtime, session: Session, batch: int) -> list[DueClock]:
    """Lock up to ``batch`` clocks whose next step is due, earliest first."""
    params = {"now": rt.now(), "limit": batch}
    if not rt.is_postgres:
        return [DueClock(*row) for row in session.execute(_CLAIM_SQLITE, params)]
    statement = _claim_pg(session.get_bind().dialect)
    return [DueClock(*row) for row in statement.rows(session.connection(), params)]


# What the sweep changed on its clocks, written back in one executemany.
_WRITE_CLOCK = (
    update(_CLOCKS)
    .where(_CLOCKS.c.id == bindparam("clock_id"))
    .values(
        status=bindparam("new_status"),
        escalation_level=bindparam("new_level"),
        next_step=bindparam("new_step"),
        next_step_at=bindparam("new_step_at", type_=UTCDateTime()),
    )
)


def _write_clocks(session: Session, clocks: list[DueClock]) -> None:
    if clocks:
        session.execute(
            _WRITE_CLOCK,
            [
                {
                    "clock_id": clock.id,
                    "new_status": clock.status,
                    "new_level": clock.escalation_level,
                    "new_step": clock.next_step,
                    "new_step_at": clock.next_step_at,
                }
                for clock in clocks
            ],
        )


_STEPS = EscalationStep.metadata.tables[EscalationStep.__tablename__]
# Built once per dialect; run with the batch's rows as one multi-row insert.
_RECORD_STEP = {
    name: insert_fn(_STEPS)
    .on_conflict_do_nothing(index_elements=["clock_id", "step"])
    .returning(_STEPS.c.clock_id, _STEPS.c.step)
    for name, insert_fn in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _record_steps(session: Session, due: list[_DueStep], now: datetime) -> set[tuple[int, str]]:
    """Record the steps (one multi-row insert); those recorded before are left out."""
    if not due:
        return set()
    statement = _RECORD_STEP[session.get_bind().dialect.name]
    rows = [
        {
            "clock_id": item.clock.id,
            "case_id": item.clock.case_id,
            "step": item.step,
            "due_at": item.due_at,
            "fired_at": now,
        }
        for item in due
    ]
    return {(clock_id, step) for clock_id, step in session.execute(statement, rows)}


def _entries(step: str) -> int:
    return 2 if step == "level1" else 1


def _next_event_ids(rt: Runtime, session: Session, count: int) -> Iterator[int | None]:
    """Ids for ``count`` timeline entries (PostgreSQL: from the sequence, one query)."""
    if not rt.is_postgres or count == 0:
        return iter(lambda: None, 0)  # SQLite: each entry takes its id as it is written
    return iter(session.scalars(_NEXT_EVENT_IDS, {"count": count}).all())


_NEXT_EVENT_IDS = select(event_id_from_sequence()).select_from(
    func.generate_series(1, bindparam("count", type_=Integer))
)


_CASES = select(Case).where(Case.id.in_(bindparam("case_ids", expanding=True)))
_CASES_SKIP_LOCKED = _CASES.with_for_update(skip_locked=True)
_STEPS_OF = select(_STEPS.c.clock_id, _STEPS.c.step).where(
    _STEPS.c.clock_id.in_(bindparam("clock_ids", expanding=True))
)


def _lock_cases(rt: Runtime, session: Session, case_ids: set[int]) -> dict[int, Case]:
    """The cases of the claimed clocks, locked; a case another transaction holds is left out."""
    # Transitions lock the case, then its clocks; the sweep holds the clocks, so it must
    # not wait for a case (deadlock): a case being changed right now is skipped and its
    # clock's step fires in the next sweep.
    if not case_ids:
        return {}
    statement = _CASES_SKIP_LOCKED if rt.is_postgres else _CASES
    return {case.id: case for case in session.scalars(statement, {"case_ids": list(case_ids)})}


def _fired_steps(session: Session, clock_ids: list[int]) -> dict[int, list[str]]:
    fired: dict[int, list[str]] = {}
    if clock_ids:
        for clock_id, step in session.execute(_STEPS_OF, {"clock_ids": clock_ids}):
            fired.setdefault(clock_id, []).append(step)
    return fired


def _announce(
    rt: Runtime, session: Session, item: _DueStep, now: datetime, event_ids: Iterator[int | None]
) -> None:
    case, clock, step = item.case, item.clock, item.step
    data = {"clock": clock.name, "due_at": clock.due_at.isoformat()}
    if step == "reminder":
        event = append_event(
            session, rt, case, "reminded", None, now, data, event_id=next(event_ids)
        )
    else:
        level = int(step[-1])
        if step == "level1":
            if clock.status == "running":
                clock.status = "breached"
            append_event(
                session, rt, case, "deadline_breached", None, now, data, event_id=next(event_ids)
            )
        clock.escalation_level = max(clock.escalation_level, level)
        event = append_event(
            session,
            rt,
            case,
            "escalated",
            None,
            now,
            {**data, "level": level},
            event_id=next(event_ids),
        )
    to = list(STEP_RECIPIENTS[step])
    if item.clock_def.court:
        to.append("panel_liaisons")
    emit(
        session,
        rt,
        case,
        event,
        "notify",
        {
            "to": to,
            "email": step != "reminder",
            "step": step,
            "clock": clock.name,
            "due_at": clock.due_at.isoformat(),
            "panel_id": case.referral_panel_id,
        },
    )
    log.info("sweep: case %s clock %s step %s", case.number, clock.name, step)
