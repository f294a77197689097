"""The deadline sweep: fire due ladder steps (reminder, breach, levels 1–3) each exactly once."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflow.runtime import Runtime
from workflow.services import clocks as clock_service
from workflow.services.cases import append_event, emit
from workflow.storage.models import Case, ClockInstance, EscalationStep

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
            for clock in clocks:
                fired += _fire_due_steps(
                    rt, session, clock, cases.get(clock.case_id), steps.get(clock.id, [])
                )
        if len(clocks) < batch:
            return fired


def _claim_due(rt: Runtime, session: Session, batch: int) -> list[ClockInstance]:
    # Through the partial index on next_step_at: the cost follows what is due, not
    # the number of open cases. SKIP LOCKED lets a second sweep take other clocks.
    statement = (
        select(ClockInstance)
        .where(ClockInstance.next_step_at.is_not(None), ClockInstance.next_step_at <= rt.now())
        .order_by(ClockInstance.next_step_at)
        .limit(batch)
    )
    if rt.is_postgres:
        statement = statement.with_for_update(skip_locked=True)
    return list(session.scalars(statement))


_STEPS = EscalationStep.metadata.tables[EscalationStep.__tablename__]
# Built once per dialect: one insert per fired step, thousands in a wave.
_RECORD_STEP = {
    name: insert_fn(_STEPS)
    .on_conflict_do_nothing(index_elements=["clock_id", "step"])
    .returning(_STEPS.c.id)
    for name, insert_fn in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _record_step(session: Session, clock: ClockInstance, step: str, now: Any) -> bool:
    statement = _RECORD_STEP[session.get_bind().dialect.name]
    values = {
        "clock_id": clock.id,
        "case_id": clock.case_id,
        "step": step,
        "due_at": clock.next_step_at,
        "fired_at": now,
    }
    return session.execute(statement, values).first() is not None


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


def _fire_due_steps(
    rt: Runtime,
    session: Session,
    clock: ClockInstance,
    case: Case | None,
    fired_steps: list[str],
) -> int:
    """Fire the clock's due steps in order (a catch-up after downtime fires each once)."""
    if case is None:
        return 0
    definition = rt.workflow(case.workflow_key, session).definition
    clock_def = definition.clocks.get(clock.name)
    now = rt.now()
    if clock_def is None or clock.stopped_at is not None or clock.status == "suspended":
        clock.next_step, clock.next_step_at = None, None
        return 0
    calendar = rt.calendar(session)
    count = 0
    while (
        clock.next_step is not None and clock.next_step_at is not None and clock.next_step_at <= now
    ):
        step = clock.next_step
        if _record_step(session, clock, step, now):
            _announce(rt, session, case, clock, clock_def, step, now)
            count += 1
        fired_steps.append(step)
        deadline = clock_service.deadline_for(
            clock_def,
            clock.opened_at,
            clock.unit,
            clock.length,
            int((clock.computation or {}).get("extra", 0)),
            calendar,
            rt.tz,
            _until(clock),
        )
        clock_service.schedule_next_step(
            clock, clock_def, deadline, calendar, rt.tz, now, fired_steps
        )
    return count


def _until(clock: ClockInstance) -> Any:
    from datetime import date

    raw = (clock.computation or {}).get("until")
    return date.fromisoformat(raw) if raw else None


def _announce(
    rt: Runtime,
    session: Session,
    case: Case,
    clock: ClockInstance,
    clock_def: Any,
    step: str,
    now: Any,
) -> None:
    data = {"clock": clock.name, "due_at": clock.due_at.isoformat()}
    if step == "reminder":
        event = append_event(session, rt, case, "reminded", None, now, data)
    else:
        level = int(step[-1])
        if step == "level1":
            if clock.status == "running":
                clock.status = "breached"
            append_event(session, rt, case, "deadline_breached", None, now, data)
        clock.escalation_level = max(clock.escalation_level, level)
        event = append_event(session, rt, case, "escalated", None, now, {**data, "level": level})
    to = list(STEP_RECIPIENTS[step])
    if clock_def.court:
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
