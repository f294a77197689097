"""Case actions that do not change state: reassess, assign, transfer, notes, sessions, clocks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from workflow.periods import resume_deadline
from workflow.runtime import Runtime
from workflow.services import clocks as clock_service
from workflow.services.actors import Actor, load_case_in_scope
from workflow.services.cases import alert_emergency, append_event, assignee_allowed
from workflow.storage.models import Case, CaseEvent, ClockInstance, Station

STAFF = frozenset({"caseworker", "supervisor"})


def _check_version(case: Case, version: int) -> None:
    if case.version != version:
        raise VersionConflict(
            f"the case is at version {case.version}, not {version}",
            {"current_version": case.version},
        )


def _require(actor: Actor, roles: frozenset[str] | set[str], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"a {actor.role} may not {what}")


def _stated_time(rt: Runtime, value: datetime, field: str, not_before: datetime) -> datetime:
    if value > rt.now():
        raise ValidationFailed({field: "must not be in the future"})
    if value < not_before:
        raise ValidationFailed({field: "must not be before the clock or case it concerns opened"})
    return value


# -- reassessment ------------------------------------------------------------------------


def update_case(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    version: int,
    changes: Mapping[str, Any],
) -> Case:
    """Reassess risk, category or the victim's facts; recompute the clocks they drive."""
    case = load_case_in_scope(session, actor, case_id, lock=True)
    _check_version(case, version)
    _require(actor, STAFF, "reassess a case")
    compiled = rt.workflow(case.workflow_key, session)
    definition = compiled.definition
    before_risk = case.risk
    public: dict[str, Any] = {}
    if changes.get("risk") is not None:
        case.risk = public["risk"] = changes["risk"]
    if changes.get("category") is not None:
        case.category = public["category"] = changes["category"]
    private: dict[str, Any] = {}
    if changes.get("victim") is not None:
        victim = dict(changes["victim"])
        name = victim.pop("name", None)
        facts = dict(case.facts or {})
        facts["victim"] = {
            **(facts.get("victim") or {}),
            **{k: v for k, v in victim.items() if v is not None},
        }
        case.facts = facts
        public["victim"] = facts["victim"]
        if name is not None:
            case.victim_sealed = rt.sealer.seal_json({"name": name})
            private["victim_name"] = name
    case.version += 1
    now = rt.now()
    event = append_event(session, rt, case, "update", actor.id, now, public, private or None)
    calendar = rt.calendar(session)
    _recompute_for_reassessment(rt, session, case, definition, calendar, now, actor)
    clock_service.react_to(
        session,
        case,
        definition,
        "update",
        now,
        case.state,
        case.state,
        {},
        event.id,
        calendar,
        rt.tz,
        now,
    )
    if case.risk == "emergency" and before_risk != "emergency":
        alert_emergency(session, rt, case, event, actor)
    return case


def _recompute_for_reassessment(
    rt: Runtime,
    session: Session,
    case: Case,
    definition: Any,
    calendar: Any,
    now: datetime,
    actor: Actor,
) -> None:
    context = clock_service.clock_context(case, definition, {})
    for clock in clock_service.open_clocks_of(session, case.id):
        clock_def = definition.clocks.get(clock.name)
        if clock_def is None or clock_def.until is not None:
            continue
        # Only rules that read the case (not the opening event's data) can change now.
        event_keys = {k for rule in clock_def.lengths for k in rule.when if k.startswith("event.")}
        if event_keys:
            continue
        rule = clock_def.length_for(context)
        if rule is None or (rule.unit == clock.unit and rule.length == clock.length):
            continue
        before = clock.due_at
        clock.unit, clock.length = rule.unit, rule.length
        clock_service.recompute(
            clock, clock_def, calendar, rt.tz, now, clock_service.fired_steps(session, clock.id)
        )
        record_recomputation(session, rt, case, clock.name, before, clock.due_at, "reassessment")


def record_recomputation(
    session: Session,
    rt: Runtime,
    case: Case,
    clock: str,
    before: datetime,
    after: datetime,
    reason: str,
) -> None:
    """The timeline entry for a deadline computed again (reassessment, corrected calendar)."""
    append_event(
        session,
        rt,
        case,
        "deadline_recomputed",
        None,
        rt.now(),
        {"clock": clock, "from": before.isoformat(), "to": after.isoformat(), "reason": reason},
    )


# -- assignment and transfer -----------------------------------------------------------------


def assign_case(
    rt: Runtime, session: Session, actor: Actor, case_id: int, version: int, assignee_id: int
) -> Case:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    _check_version(case, version)
    _require(actor, STAFF, "assign a case")
    if not assignee_allowed(session, case, assignee_id):
        raise ValidationFailed(
            {
                "assignee_id": "must be a caseworker of the case's station "
                "or a supervisor at or above it"
            }
        )
    previous = case.assignee_id
    case.assignee_id = assignee_id
    case.version += 1
    append_event(
        session,
        rt,
        case,
        "assign",
        actor.id,
        rt.now(),
        {"assignee_id": assignee_id, "previous_assignee_id": previous},
    )
    return case


def transfer_case(
    rt: Runtime, session: Session, actor: Actor, case_id: int, version: int, station_code: str
) -> Case:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    _check_version(case, version)
    _require(actor, {"supervisor"}, "transfer a case")
    station = session.scalar(select(Station).where(Station.code == station_code))
    if (
        station is None
        or station.kind == "court"
        or not station.path.startswith(actor.station_path)
    ):
        raise ValidationFailed({"station": "not a station in your area"})
    previous = session.get(Station, case.station_id)
    case.station_id, case.station_path = station.id, station.path
    if case.assignee_id is not None and not assignee_allowed(session, case, case.assignee_id):
        case.assignee_id = None
    case.version += 1
    append_event(
        session,
        rt,
        case,
        "transfer",
        actor.id,
        rt.now(),
        {"from_station": previous.code if previous else None, "to_station": station.code},
    )
    return case


# -- records -------------------------------------------------------------------------------


def _may_write_records(actor: Actor, case: Case) -> None:
    if actor.role == "court_liaison":
        if case.state in ("referred", "court") and case.referral_panel_id == actor.station_id:
            return
        raise Forbidden("a court liaison may only read this case now")


def add_note(rt: Runtime, session: Session, actor: Actor, case_id: int, text: str) -> CaseEvent:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    _may_write_records(actor, case)
    return append_event(session, rt, case, "note", actor.id, rt.now(), {}, {"text": text})


def record_session(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    held_at: datetime,
    participants: list[str],
    result: str,
    notes: str | None,
) -> CaseEvent:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    if case.state != "mediation":
        raise InvalidTransition(
            "mediation sessions are recorded in mediation only", {"state": case.state}
        )
    _require(actor, STAFF, "record a mediation session")
    _stated_time(rt, held_at, "held_at", case.received_at)
    case.session_count += 1
    private = {"participants": participants, "result": result, "notes": notes}
    return append_event(
        session,
        rt,
        case,
        "record_session",
        actor.id,
        held_at,
        {"session": case.session_count},
        private,
    )


def _open_clock(session: Session, case_id: int, name: str) -> ClockInstance | None:
    for clock in clock_service.open_clocks_of(session, case_id):
        if clock.name == name:
            return clock
    return None


def record_follow_up(
    rt: Runtime, session: Session, actor: Actor, case_id: int, contacted_at: datetime, result: str
) -> CaseEvent:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    if case.state != "closed":
        raise InvalidTransition("the return visit follows closure", {"state": case.state})
    _require(actor, STAFF, "record a follow-up")
    clock = _open_clock(session, case.id, "follow_up")
    _stated_time(
        rt,
        contacted_at,
        "contacted_at",
        clock.opened_at if clock else case.closed_at or case.received_at,
    )
    return _record_meeting(
        rt, session, actor, case, "follow_up", contacted_at, {}, {"result": result}
    )


def record_report(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    filed_at: datetime,
    agency: str,
    reference: str | None,
) -> CaseEvent:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    _require(actor, STAFF, "record a mandatory report")
    clock = _open_clock(session, case.id, "mandatory_report")
    _stated_time(rt, filed_at, "filed_at", clock.opened_at if clock else case.received_at)
    return _record_meeting(
        rt,
        session,
        actor,
        case,
        "report_filed",
        filed_at,
        {"agency": agency, "reference": reference},
        None,
    )


def _record_meeting(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case: Case,
    action: str,
    at: datetime,
    public: dict,
    private: dict | None,
) -> CaseEvent:
    definition = rt.workflow(case.workflow_key, session).definition
    event = append_event(session, rt, case, action, actor.id, at, public, private)
    clock_service.react_to(
        session,
        case,
        definition,
        action,
        at,
        case.state,
        case.state,
        {},
        event.id,
        rt.calendar(session),
        rt.tz,
        rt.now(),
    )
    return event


# -- suspending clocks -----------------------------------------------------------------------


def _clock_for(
    session: Session, rt: Runtime, actor: Actor, case_id: int, name: str
) -> tuple[Case, ClockInstance | None, Any]:
    case = load_case_in_scope(session, actor, case_id, lock=True)
    definition = rt.workflow(case.workflow_key, session).definition
    clock_def = definition.clocks.get(name)
    if clock_def is None:
        raise NotFound(f"no clock named {name!r}")
    _require(actor, {"supervisor"}, "suspend or resume a clock")
    clock = session.scalar(
        select(ClockInstance)
        .where(ClockInstance.case_id == case.id, ClockInstance.name == name)
        .order_by(ClockInstance.id.desc())
        .limit(1)
    )
    return case, clock, clock_def


def suspend_clock(
    rt: Runtime, session: Session, actor: Actor, case_id: int, name: str, reason: str
) -> Case:
    case, clock, clock_def = _clock_for(session, rt, actor, case_id, name)
    now = rt.now()
    if (
        clock is None
        or clock.stopped_at is not None
        or clock_service.effective_status(clock, now) != "running"
    ):
        raise InvalidTransition(f"the {name} clock is not running", {"clock": name})
    if not clock_def.suspendable:
        raise InvalidTransition(f"the {name} clock cannot be suspended", {"clock": name})
    clock.status = "suspended"
    clock.suspended_at = now
    clock.next_step, clock.next_step_at = None, None
    append_event(
        session, rt, case, "suspend_clock", actor.id, now, {"clock": name}, {"reason": reason}
    )
    return case


def resume_clock(
    rt: Runtime, session: Session, actor: Actor, case_id: int, name: str, reason: str | None
) -> Case:
    case, clock, clock_def = _clock_for(session, rt, actor, case_id, name)
    if clock is None or clock.status != "suspended" or clock.suspended_at is None:
        raise InvalidTransition(f"the {name} clock is not suspended", {"clock": name})
    now = rt.now()
    calendar = rt.calendar(session)
    suspended_from = clock.suspended_at
    extra = int((clock.computation or {}).get("extra", 0))
    base = clock_service.deadline_for(
        clock_def, clock.opened_at, clock.unit, clock.length, extra, calendar, rt.tz
    )
    resumed = resume_deadline(base, suspended_from, now, calendar, rt.tz)
    # Store what the suspension added as extra days (or hours) so a later recomputation
    # (a corrected calendar) keeps it.
    if clock.unit == "hours":
        added = round((resumed.due_at - base.due_at).total_seconds() / 3600)
    else:
        added = _days_added(base, resumed)
    computation = dict(clock.computation or {})
    computation["extra"] = extra + added
    clock.computation = computation
    clock.suspended_seconds += int((now - suspended_from).total_seconds())
    clock.suspended_at = None
    clock.status = "running"
    clock_service.recompute(
        clock, clock_def, calendar, rt.tz, now, clock_service.fired_steps(session, clock.id)
    )
    private = {"reason": reason} if reason else None
    append_event(
        session,
        rt,
        case,
        "resume_clock",
        actor.id,
        now,
        {"clock": name, "due_at": clock.due_at.isoformat()},
        private,
    )
    return case


def _days_added(base: Any, resumed: Any) -> int:
    if base.last_day is not None and resumed.last_day is not None:
        return (resumed.last_day - base.last_day).days
    return 0
