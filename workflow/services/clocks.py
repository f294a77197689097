"""Clock instances: open, meet, stop, suspend, resume and recompute them (legal periods)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, literal, select
from sqlalchemy.orm import Session

from workflow.calendar import WorkCalendar
from workflow.definition import ClockDef, WorkflowDefinition
from workflow.periods import Deadline, Period, Unit, compute_deadline, extend_deadline, ladder
from workflow.storage.driver import new_object
from workflow.storage.models import Case, ClockInstance, EscalationStep

OPEN_STATUSES = ("running", "suspended", "breached")
DAY_UNITS = frozenset({"days", "working_days", "months"})


class StepPointer(Protocol):
    """A clock's pointer to its next ladder step: an ORM clock or the sweep's claimed row."""

    next_step: str | None
    next_step_at: datetime | None


def mandatory_report_duty(case: Case, definition: WorkflowDefinition) -> bool:
    """A victim who is a minor or lacks capacity, in a category with the duty to report."""
    if case.category not in definition.mandatory_report_categories:
        return False
    facts = case.facts or {}
    person = facts.get("victim") or facts.get("complainant") or {}
    return bool(person.get("is_minor") or person.get("lacks_capacity"))


def clock_context(case: Case, definition: WorkflowDefinition, data: Mapping[str, Any]) -> dict:
    context: dict[str, Any] = {
        "risk": case.risk,
        "category": case.category,
        "referral_kind": case.referral_kind,
        "mandatory_report_duty": mandatory_report_duty(case, definition),
    }
    for name, value in data.items():
        context[f"event.{name}"] = value
    return context


def is_open(clock: ClockInstance) -> bool:
    return clock.stopped_at is None and clock.status in OPEN_STATUSES


def effective_status(clock: ClockInstance, now: datetime) -> str:
    """A running clock past its deadline is breached even before the sweep marks it."""
    if clock.status == "running" and clock.due_at <= now:
        return "breached"
    return clock.status


def end_clock(clock: ClockInstance, outcome: str, at: datetime) -> None:
    """End ``clock`` as met or stopped at ``at``; once past the deadline it stays breached."""
    if clock.status == "breached" or at > clock.due_at:
        clock.status = "breached"
    else:
        clock.status = outcome
    clock.stopped_at = at
    clock.next_step = None
    clock.next_step_at = None


def _until_deadline(
    opened_at: datetime, until: date, tz: ZoneInfo, calendar: WorkCalendar
) -> Deadline:
    """A clock that runs to the end of a given local day (an order's expiry): no roll-forward."""
    due_local = datetime.combine(until + timedelta(days=1), time(0), tzinfo=tz)
    opened_local = opened_at.astimezone(tz).date()
    label = calendar.calendar_label(
        range(opened_local.year, max(until.year, opened_local.year) + 1)
    )
    return Deadline(
        due_at=due_local.astimezone(ZoneInfo("UTC")),
        start=opened_at,
        unit=Unit.DAYS,
        length=max((until - opened_local).days, 0),
        last_day=until,
        rolled_from=None,
        calendar=label,
    )


def deadline_for(
    clock_def: ClockDef,
    opened_at: datetime,
    unit: str,
    length: int,
    extra: int,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    until: date | None = None,
) -> Deadline:
    """A clock's deadline from its opening, period and added days or hours."""
    if until is not None:
        return _until_deadline(opened_at, until, tz, calendar)
    deadline = compute_deadline(opened_at, Period(Unit(unit), length), calendar, tz)
    if extra:
        if unit == "hours":
            deadline = Deadline(
                due_at=deadline.due_at + timedelta(hours=extra),
                start=deadline.start,
                unit=deadline.unit,
                length=deadline.length,
                last_day=None,
                rolled_from=None,
                calendar=deadline.calendar,
            )
        else:
            deadline = extend_deadline(deadline, extra, calendar, tz)
    return deadline


def ladder_steps(
    clock_def: ClockDef, deadline: Deadline, calendar: WorkCalendar, tz: ZoneInfo
) -> list[tuple[str, datetime]]:
    steps = ladder(deadline, calendar, tz)
    if clock_def.reminder_days_before is not None:
        reminder_at = deadline.due_at - timedelta(days=clock_def.reminder_days_before)
        steps = [("reminder", reminder_at)] + [s for s in steps if s[0] != "reminder"]
    return steps


def schedule_next_step(
    clock: StepPointer,
    clock_def: ClockDef,
    deadline: Deadline,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    fired: Iterable[str] = (),
) -> None:
    """Point the clock at its next ladder step not yet fired (late reminders are skipped)."""
    done = set(fired)
    for step, at in ladder_steps(clock_def, deadline, calendar, tz):
        if step in done:
            continue
        if step == "reminder" and at <= now:
            continue
        clock.next_step, clock.next_step_at = step, at
        return
    clock.next_step, clock.next_step_at = None, None


def deadline_columns(deadline: Deadline, extra: int) -> dict[str, Any]:
    """The clock's columns that follow from its deadline and the days (hours) added."""
    computation = deadline.computation()
    computation["extra"] = extra
    return {
        "due_at": deadline.due_at,
        "last_day": deadline.last_day,
        "computation": computation,
        "provisional": deadline.provisional,
    }


def apply_deadline(clock: ClockInstance, deadline: Deadline, extra: int) -> None:
    for key, value in deadline_columns(deadline, extra).items():
        setattr(clock, key, value)


def open_clock(
    session: Session,
    case: Case,
    clock_def: ClockDef,
    context: Mapping[str, Any],
    opened_at: datetime,
    event_id: int | None,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> ClockInstance | None:
    until: date | None = None
    if clock_def.until is not None:
        value = context.get(clock_def.until)
        if not isinstance(value, date):
            return None
        until, unit, length = value, "days", 0
    else:
        rule = clock_def.length_for(context)
        if rule is None:
            return None
        unit, length = rule.unit, rule.length
    deadline = deadline_for(clock_def, opened_at, unit, length, 0, calendar, tz, until)
    columns = deadline_columns(deadline, 0)
    if until is not None:
        columns["computation"]["until"] = until.isoformat()
    clock = new_object(
        ClockInstance,
        {
            "case_id": case.id,
            "name": clock_def.name,
            "status": "running",
            "opened_at": opened_at,
            "unit": unit,
            "length": deadline.length if until else length,
            "escalation_level": 0,
            "suspended_seconds": 0,
            "opened_by_event_id": event_id,
            **columns,
        },
    )
    schedule_next_step(clock, clock_def, deadline, calendar, tz, now)
    session.add(clock)
    return clock


_FIRED_STEPS = select(EscalationStep.step).where(EscalationStep.clock_id == bindparam("clock_id"))


def fired_steps(session: Session, clock_id: int) -> list[str]:
    """The ladder steps already fired for a clock instance (they stand when it is recomputed)."""
    return list(session.scalars(_FIRED_STEPS, {"clock_id": clock_id}))


def open_clock_of_case() -> ColumnElement[bool]:
    """A clock of the case in the statement that is still open (to join it to the case)."""
    return and_(
        ClockInstance.case_id == Case.id,
        # A fixed list, not an expanding one: the transition's read is prepared once.
        ClockInstance.status.in_([literal(status) for status in OPEN_STATUSES]),
        ClockInstance.stopped_at.is_(None),
    )


# Built once: every transition reads its case's open clocks.
_OPEN_CLOCKS = select(ClockInstance).where(
    ClockInstance.case_id == bindparam("case_id"),
    ClockInstance.status.in_(OPEN_STATUSES),
    ClockInstance.stopped_at.is_(None),
)


def open_clocks_of(session: Session, case_id: int) -> list[ClockInstance]:
    return list(session.scalars(_OPEN_CLOCKS, {"case_id": case_id}))


def react_to(
    session: Session,
    case: Case,
    definition: WorkflowDefinition,
    trigger: str,
    at: datetime,
    from_state: str,
    to_state: str,
    data: Mapping[str, Any],
    event_id: int | None,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    open_clocks: list[ClockInstance] | None = None,
) -> None:
    """Meet, stop and open the clocks that ``trigger`` (an event or action) touches."""
    context = clock_context(case, definition, data)
    existing = open_clocks if open_clocks is not None else open_clocks_of(session, case.id)
    for clock in existing:
        clock_def = definition.clocks.get(clock.name)
        if clock_def is None:
            continue
        if any(t.on == trigger and t.matches(context) for t in clock_def.met_by):
            end_clock(clock, "met", at)
        elif clock_def.runs_in and from_state == clock_def.runs_in and to_state != from_state:
            end_clock(clock, "stopped", at)
    for clock_def in definition.clocks.values():
        if not any(t.on == trigger and t.matches(context) for t in clock_def.opens_on):
            continue
        if clock_def.once and _has_clock(session, case.id, clock_def.name):
            continue
        open_clock(session, case, clock_def, context, at, event_id, calendar, tz, now)


def _has_clock(session: Session, case_id: int, name: str) -> bool:
    found = session.scalar(
        select(ClockInstance.id)
        .where(ClockInstance.case_id == case_id, ClockInstance.name == name)
        .limit(1)
    )
    return found is not None


def recompute(
    clock: ClockInstance,
    clock_def: ClockDef,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    fired: Iterable[str] = (),
) -> bool:
    """Compute an open clock's deadline again (calendar corrected, risk reassessed).

    Returns whether the deadline moved. A breached clock whose new deadline lies ahead
    runs again; steps already sent stand (``fired``).
    """
    extra = int((clock.computation or {}).get("extra", 0))
    until_raw = (clock.computation or {}).get("until")
    until = date.fromisoformat(until_raw) if until_raw else None
    deadline = deadline_for(
        clock_def, clock.opened_at, clock.unit, clock.length, extra, calendar, tz, until
    )
    moved = deadline.due_at != clock.due_at
    apply_deadline(clock, deadline, extra)
    if until is not None:
        clock.computation["until"] = until.isoformat()
    if clock.status == "breached" and deadline.due_at > now:
        clock.status = "running"
    if clock.status != "suspended":
        schedule_next_step(clock, clock_def, deadline, calendar, tz, now, fired)
    return moved


def clock_view(clock: ClockInstance, clock_def: ClockDef | None, now: datetime) -> dict[str, Any]:
    return {
        "clock": clock.name,
        "opened_at": clock.opened_at.isoformat(),
        "due_at": clock.due_at.isoformat(),
        "status": effective_status(clock, now),
        "escalation_level": clock.escalation_level,
        "stopped_at": clock.stopped_at.isoformat() if clock.stopped_at else None,
        "suspended_seconds": clock.suspended_seconds,
        "basis": clock_def.basis if clock_def else "",
        "provisional": clock.provisional,
        "computation": {k: v for k, v in (clock.computation or {}).items() if k not in ("extra",)},
    }
