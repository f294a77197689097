"""Registering complaints and moving them through the workflow: one transaction per call."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from workflow.definition import EventDef, WorkflowDefinition
from workflow.errors import (
    Forbidden,
    GuardFailed,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from workflow.eventdata import validate_event_data
from workflow.guards import GuardContext, evaluate_guards
from workflow.machine import CompiledWorkflow
from workflow.runtime import Runtime
from workflow.services import clocks as clock_service
from workflow.services.actors import Actor, case_scope, load_case_in_scope, require_case_reader
from workflow.storage.driver import (
    DriverStatement,
    as_loaded,
    new_object,
    require_attribute_keys,
)
from workflow.storage.models import (
    Case,
    CaseEvent,
    CaseSequence,
    ClockInstance,
    OutboxMessage,
    Referral,
    Station,
    User,
)
from workflow.storage.oneshot import flush_as_one_statement

FUTURE_TOLERANCE = timedelta(minutes=5)
# Guards that cannot be judged before the data is known; the others refuse, without
# data, only what no data could make pass (GuardContext.without_data).
DATA_GUARDS = frozenset({"assignee_scope"})


@dataclass
class Transitioned:
    case: Case
    event: CaseEvent


# -- shared writers ------------------------------------------------------------------


def append_event(
    session: Session,
    rt: Runtime,
    case: Case,
    type_: str,
    actor_id: int | None,
    at: datetime,
    data: Mapping[str, Any] | None = None,
    private: Mapping[str, Any] | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    event_id: int | None = None,
) -> CaseEvent:
    """Append a timeline entry; ``private`` (free texts, names) is sealed, never stored plain.

    With ``event_id`` (taken from the sequence beforehand) the entry waits in the session
    and is written with the rest of the transition, in the same round trip.
    """
    now = rt.now()
    case.last_seq += 1
    if actor_id is not None:
        # Only people's records bound a later `occurred_at`; the system's own entries
        # (sweep, recomputations) must not block entering a paper record.
        case.last_event_at = max(case.last_event_at, at)
    case.updated_at = now
    values = {
        "case_id": case.id,
        "seq": case.last_seq,
        "type": type_,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor_id,
        "at": at,
        "recorded_at": now,
        "data": dict(data or {}),
        "sealed": rt.sealer.seal_json(dict(private)) if private else None,
    }
    if event_id is not None:
        event = new_object(CaseEvent, {"id": event_id, **values})
        session.add(event)
        return event
    # One prebuilt INSERT … RETURNING id instead of a flush of the unit of work: the
    # event's id is all the caller needs now (the case's own changes are flushed with
    # the rest at commit). The row enters the session as if loaded, persistent and clean.
    event_id = session.execute(_INSERT_EVENT, values).scalar_one()
    event = CaseEvent(id=event_id, **values)
    make_transient_to_detached(event)
    session.add(event)
    return event


_EVENTS = CaseEvent.metadata.tables[CaseEvent.__tablename__]
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)


def emit(
    session: Session,
    rt: Runtime,
    case: Case,
    event: CaseEvent,
    work: str,
    payload: Mapping[str, Any],
) -> None:
    """Record background work in the outbox, in the caller's transaction (ids only, no PII)."""
    now = rt.now()
    # Wakes this process's relay after commit; on PostgreSQL a trigger on `outbox`
    # NOTIFYs the relays of other processes (delivered at commit, a wake-up, not a queue).
    session.info["outbox_written"] = True
    ids = {"case_id": case.id, "event_id": event.id}
    session.add(
        new_object(
            OutboxMessage,
            {
                **ids,
                "work": work,
                "payload": {**ids, "event": event.type, **payload},
                "status": "pending",
                "attempts": 0,
                "available_at": now,
                "created_at": now,
            },
        )
    )


def _emit_for_event(
    session: Session, rt: Runtime, case: Case, event: CaseEvent, event_def: EventDef, actor: Actor
) -> None:
    for item in event_def.emits:
        payload: dict[str, Any] = {"actor_id": actor.id}
        if case.referral_panel_id is not None:
            # Pin the panel: the case may have moved on before the work runs.
            payload["panel_id"] = case.referral_panel_id
        if item.work == "notify":
            payload.update({"to": list(item.to), "email": item.email})
        emit(session, rt, case, event, item.work, payload)


def json_ready(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value.isoformat() if isinstance(value, (date, datetime)) else value
    return out


def split_private(event_def: EventDef, data: Mapping[str, Any]) -> tuple[dict, dict]:
    """Separate free-text fields (sealed) from the rest (stored plain)."""
    public: dict[str, Any] = {}
    private: dict[str, Any] = {}
    for key, value in json_ready(data).items():
        spec = event_def.data.get(key)
        (private if spec is not None and spec.type == "text" else public)[key] = value
    return public, private


def check_stated_time(
    rt: Runtime, case: Case, at: datetime | None, field: str, not_before: datetime | None = None
) -> datetime:
    """A stated time may be neither in the future nor before the case's latest event."""
    now = rt.now()
    if at is None:
        return now
    if at > now:
        raise ValidationFailed({field: "must not be in the future"})
    floor = not_before if not_before is not None else case.last_event_at
    if at < floor:
        raise ValidationFailed({field: "must not be before the case's latest event"})
    return at


# -- assignment ------------------------------------------------------------------------


_ASSIGNEE = (
    select(User.role, User.station_id, User.active, Station.path)
    .join(Station, Station.id == User.station_id)
    .where(User.id == bindparam("user_id"))
)


def assignee_allowed(session: Session, case: Case, user_id: int) -> bool:
    """A caseworker of the case's station, or a supervisor at or above it."""
    return candidate_allowed(case, session.execute(_ASSIGNEE, {"user_id": user_id}).first())


def candidate_allowed(case: Case, row: Any) -> bool:
    """``row``: the user's (role, station_id, active, station path), None if no such user."""
    if row is None:
        return False
    role, station_id, active, path = row
    if not active:
        return False
    if role == "caseworker":
        return bool(station_id == case.station_id)
    if role == "supervisor":
        return case.station_path.startswith(path)
    return False


# -- guards and allowed events ---------------------------------------------------------


def guard_context(
    rt: Runtime,
    case: Case,
    definition: WorkflowDefinition,
    event: str,
    data: Mapping[str, Any],
    open_clocks: list[ClockInstance],
    assignee_in_scope: bool = True,
) -> GuardContext:
    now = rt.now().astimezone(rt.tz)  # guards count days in the local zone
    resolution_breached = any(
        c.name == "resolution" and clock_service.effective_status(c, now) == "breached"
        for c in open_clocks
    )
    return GuardContext(
        state=case.state,
        event=event,
        data=data,
        now=now,
        risk=case.risk,
        category=case.category,
        session_count=case.session_count,
        extended=case.extended,
        resolution_breached=resolution_breached,
        referral_kind=case.referral_kind,
        closed_by=case.closed_by,
        closed_at=case.closed_at,
        closure_outcome=case.closure_outcome,
        agreement_effective_on=case.agreement_effective_on,
        assignee_in_scope=assignee_in_scope,
        outcomes=definition.outcomes,
    )


def role_may(actor: Actor, case: Case, event_def: EventDef) -> bool:
    if actor.role not in event_def.roles:
        return False
    if actor.role == "court_liaison":
        # Liaisons act only on the referral that is with their own panel now.
        return case.referral_panel_id == actor.station_id
    return True


def allowed_events(
    rt: Runtime,
    compiled: CompiledWorkflow,
    actor: Actor,
    case: Case,
    open_clocks: list[ClockInstance],
) -> list[str]:
    """Events that pass the state, role and data-free guard checks for ``actor`` now."""
    definition = compiled.definition
    allowed = []
    for name in compiled.allowed_in(case.state):
        event_def = definition.events[name]
        if not role_may(actor, case, event_def):
            continue
        guards = [g for g in event_def.guards if g not in DATA_GUARDS]
        if guards:
            ctx = guard_context(rt, case, definition, name, {}, open_clocks).without_data()
            if evaluate_guards(guards, ctx) is not None:
                continue
        allowed.append(name)
    return allowed


def transition_options(rt: Runtime, session: Session, actor: Actor, case_id: int) -> list[dict]:
    case = load_case_in_scope(session, actor, case_id)
    compiled = rt.workflow(case.workflow_key, session)
    open_clocks = clock_service.open_clocks_of(session, case.id)
    options = []
    for name in allowed_events(rt, compiled, actor, case, open_clocks):
        fields = {}
        for field in compiled.definition.events[name].data.values():
            spec: dict[str, Any] = {"type": field.type, "required": field.required}
            if field.enum:
                spec["enum"] = list(field.enum)
            if field.min is not None:
                spec["min"] = field.min
            if field.max is not None:
                spec["max"] = field.max
            fields[field.name] = spec
        options.append({"event": name, "fields": fields})
    return options


# -- the transition service ------------------------------------------------------------


def _resolve_panel(session: Session, data: dict[str, Any]) -> Station:
    code = data.get("panel")
    courts = select(Station).where(Station.kind == "court")
    if code:
        panel = session.scalar(courts.where(Station.code == code))
        if panel is None:
            raise ValidationFailed({"panel": "no such court panel"})
        return panel
    panels = list(session.scalars(courts.limit(2)))
    if len(panels) != 1:
        raise ValidationFailed({"panel": "required: name the court panel"})
    return panels[0]


def trigger_event(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    event: str,
    version: int,
    data: Mapping[str, Any] | None,
    occurred_at: datetime | None = None,
) -> Transitioned:
    """Check and apply one event, in the caller's transaction; a refusal writes nothing."""
    loaded = _load_for_transition(rt, session, actor, case_id, event, data or {})
    case, open_clocks = loaded.case, loaded.open_clocks
    if case.version != version:
        raise VersionConflict(
            f"the case is at version {case.version}, not {version}",
            {"current_version": case.version},
        )
    compiled = rt.workflow(case.workflow_key, session)
    definition = compiled.definition
    if event not in definition.events or not compiled.is_allowed(case.state, event):
        raise InvalidTransition(
            f"{event!r} is not allowed in state {case.state!r}",
            {"state": case.state, "event": event},
        )
    event_def = definition.events[event]
    if not role_may(actor, case, event_def):
        raise Forbidden(f"a {actor.role} may not {event} this case")
    at = check_stated_time(rt, case, occurred_at, "occurred_at")
    today = at.astimezone(rt.tz).date()
    clean, errors = validate_event_data(event_def, data or {}, today)
    if errors:
        raise ValidationFailed(errors)
    assignee_ok = True
    if event == "accept":
        given = clean.get("assignee_id")
        chosen = given if isinstance(given, int) else (case.assignee_id or actor.id)
        if loaded.candidate_id == chosen:
            assignee_ok = candidate_allowed(case, loaded.candidate)
        else:
            assignee_ok = assignee_allowed(session, case, chosen)
        clean["assignee_id"] = chosen
    panel = _resolve_panel(session, clean) if event == "refer" else None
    ctx = guard_context(rt, case, definition, event, clean, open_clocks, assignee_ok)
    result = compiled.fire(case.state, event, ctx)
    if result.failed_rule is not None or result.dest is None:
        raise GuardFailed(result.failed_rule or "unknown")
    return _apply(
        rt,
        session,
        actor,
        case,
        compiled,
        event_def,
        clean,
        at,
        panel,
        open_clocks,
        result.dest,
        today,
        loaded.event_id,
    )


@dataclass(frozen=True)
class _Loaded:
    case: Case
    open_clocks: list[ClockInstance]
    event_id: int | None = None  # drawn from the sequence (PostgreSQL)
    candidate_id: int | None = None  # the assignee an `accept` would choose, and
    candidate: Any = None  # its role, station and path (None: no such user)


def _load_for_transition(
    rt: Runtime, session: Session, actor: Actor, case_id: int, event: str, data: Mapping[str, Any]
) -> _Loaded:
    """The case locked, its open clocks and what the event will need.

    On PostgreSQL one prepared statement run by the driver: the open clocks joined to
    the locked case, the new event's id drawn from its sequence (a refused transition
    leaves a gap, as a rollback would) and, for an `accept`, the assignee it would
    choose with their station. The rows become the session's objects as a query's would.
    """
    if not rt.is_postgres:
        case = load_case_in_scope(session, actor, case_id, lock=True)
        return _Loaded(case, clock_service.open_clocks_of(session, case.id))
    require_case_reader(actor)
    with_candidate = event == "accept"
    key = (actor, with_candidate)
    statement = _TRANSITION_LOADS.get(key)
    if statement is None:
        with _BUILDING:
            if len(_TRANSITION_LOADS) >= 1024:
                _TRANSITION_LOADS.clear()  # a bound, not an LRU: rebuilding is cheap enough
            statement = _TRANSITION_LOADS[key] = _transition_load(
                actor, with_candidate, session.get_bind().dialect
            )
    given = data.get("assignee_id")
    hint = given if isinstance(given, int) and not isinstance(given, bool) else None
    rows = statement.rows(
        session.connection(), {"case_id": case_id, "given": hint, "actor_id": actor.id}
    )
    if not rows:
        raise NotFound("no such case")
    first = rows[0]
    case = as_loaded(session, Case, dict(zip(_CASE_KEYS, first[:_CLOCKS_AT], strict=True)))
    clocks = [
        as_loaded(
            session, ClockInstance, dict(zip(_CLOCK_KEYS, row[_CLOCKS_AT:_EXTRA_AT], strict=True))
        )
        for row in rows
        if row[_CLOCKS_AT] is not None
    ]
    event_id = first[_EXTRA_AT]
    if not with_candidate:
        return _Loaded(case, clocks, event_id)
    candidate = first[_EXTRA_AT + 2 :] if first[_EXTRA_AT + 2] is not None else None
    return _Loaded(case, clocks, event_id, first[_EXTRA_AT + 1], candidate)


_NOT_READ_BY_TRANSITIONS = frozenset(
    {
        "number",
        "channel",
        "registered_by_id",
        "complainant_sealed",
        "victim_sealed",
        "respondent_sealed",
        "summary_sealed",
        "phone_index",
        "id_number_index",
        "received_on",
        "created_at",
        "facts",
    }
)
_CASES = Case.metadata.tables[Case.__tablename__]
_CLOCKS = ClockInstance.metadata.tables[ClockInstance.__tablename__]
# Columns no transition reads stay unread (each costs the driver on every row); they
# load on access, as deferred columns do.
_CASE_COLUMNS = [c for c in _CASES.c if c.key not in _NOT_READ_BY_TRANSITIONS]
_CASE_KEYS = tuple(c.key for c in _CASE_COLUMNS)
_CLOCK_KEYS = tuple(c.key for c in _CLOCKS.c)
_CLOCKS_AT = len(_CASE_KEYS)
_EXTRA_AT = _CLOCKS_AT + len(_CLOCK_KEYS)
require_attribute_keys(Case, _CASE_KEYS)
require_attribute_keys(ClockInstance, _CLOCK_KEYS)
# Plain table aliases: an ORM alias adapts its columns lazily, which is not safe when
# two threads build their first statement at the same moment.
_CANDIDATE = User.metadata.tables[User.__tablename__].alias("candidate")
_CANDIDATE_STATION = Station.metadata.tables[Station.__tablename__].alias("candidate_station")
# Built once per actor (the scope is part of the statement), as building costs more
# than running it; one thread builds at a time.
_TRANSITION_LOADS: dict[tuple[Actor, bool], DriverStatement] = {}
_BUILDING = threading.Lock()


def _transition_load(actor: Actor, with_candidate: bool, dialect: Any) -> DriverStatement:
    columns: list[Any] = [*_CASE_COLUMNS, *_CLOCKS.c, _NEXT_EVENT_ID]
    joined = _CASES.outerjoin(_CLOCKS, clock_service.open_clock_of_case())
    if with_candidate:
        chosen = func.coalesce(
            bindparam("given", type_=BigInteger),
            _CASES.c.assignee_id,
            bindparam("actor_id", type_=BigInteger),
        )
        candidate, station = _CANDIDATE.c, _CANDIDATE_STATION.c
        columns += [
            chosen.label("candidate_id"),
            candidate.role,
            candidate.station_id,
            candidate.active,
            station.path,
        ]
        joined = joined.outerjoin(_CANDIDATE, candidate.id == chosen).outerjoin(
            _CANDIDATE_STATION, station.id == candidate.station_id
        )
    statement = (
        select(*columns)
        .select_from(joined)
        .where(_CASES.c.id == bindparam("case_id", type_=BigInteger), case_scope(actor))
        .with_for_update(of=_CASES)
    )
    return DriverStatement(statement, dialect, columns)


# One value per statement: an uncorrelated sub-select is evaluated once.
def event_id_from_sequence() -> Any:
    """The next timeline id, taken ahead of the insert (PostgreSQL), so the rows that
    name the event can be written in the same round trip as the event itself."""
    return func.nextval(func.pg_get_serial_sequence("case_events", "id"))


_NEXT_EVENT_ID = select(event_id_from_sequence()).scalar_subquery().label("next_event_id")


def _apply(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case: Case,
    compiled: CompiledWorkflow,
    event_def: EventDef,
    clean: dict[str, Any],
    at: datetime,
    panel: Station | None,
    open_clocks: list[ClockInstance],
    dest: str,
    today: date,
    event_id: int | None = None,
) -> Transitioned:
    definition = compiled.definition
    source = case.state
    name = event_def.name
    if name == "refer" and panel is not None:
        clean["panel"] = panel.code
    if name == "settle" and "effective_on" not in clean:
        clean["effective_on"] = at.astimezone(rt.tz).date()
    public, private = split_private(event_def, clean)
    case.state = dest
    case.version += 1
    event = append_event(
        session, rt, case, name, actor.id, at, public, private, source, dest, event_id
    )
    _update_case_facts(rt, session, case, name, clean, at, source, dest, panel, event)
    calendar = rt.calendar(session)
    if name == "extend":
        _extend_resolution(case, definition, open_clocks, clean["days"], calendar, rt)
    clock_service.react_to(
        session,
        case,
        definition,
        name,
        at,
        source,
        dest,
        clean,
        event.id,
        calendar,
        rt.tz,
        rt.now(),
        open_clocks,
    )
    _emit_for_event(session, rt, case, event, event_def, actor)
    flush_as_one_statement(session)
    return Transitioned(case=case, event=event)


def _update_case_facts(
    rt: Runtime,
    session: Session,
    case: Case,
    name: str,
    clean: dict[str, Any],
    at: datetime,
    source: str,
    dest: str,
    panel: Station | None,
    event: CaseEvent,
) -> None:
    if source == "intake" and dest != "intake" and case.first_exit_intake_at is None:
        case.first_exit_intake_at = at
    if name == "accept":
        case.assignee_id = clean["assignee_id"]
    if dest == "closed":
        case.closed_by = name
        case.closed_at = at
        case.closure_outcome = clean.get("outcome") if name == "decide" else None
    if name == "settle":
        case.agreement_effective_on = clean["effective_on"]
    current = None
    if source == "referred" or source == "court":
        current = session.scalar(
            select(Referral)
            .where(Referral.case_id == case.id)
            .order_by(Referral.id.desc())
            .limit(1)
        )
    if current is not None:
        current.status = {
            "acknowledge": "acknowledged",
            "return": "returned",
            "rule": "ruled",
            "decide": "decided",
            "withdraw": "withdrawn",
        }.get(name, current.status)
    if name == "refer" and panel is not None:
        case.referral_kind = clean["kind"]
        case.referral_panel_id = panel.id
        session.add(
            Referral(
                case_id=case.id,
                panel_id=panel.id,
                kind=clean["kind"],
                event_id=event.id,
                referred_at=at,
                status="awaiting",
            )
        )
    elif name in ("return", "decide", "withdraw") and source in ("referred", "court"):
        # The referral is no longer with the panel; its history stays in `referrals`.
        case.referral_panel_id = None


def _extend_resolution(
    case: Case,
    definition: WorkflowDefinition,
    open_clocks: list[ClockInstance],
    days: int,
    calendar: Any,
    rt: Runtime,
) -> None:
    case.extended = True
    for clock in open_clocks:
        if clock.name == "resolution" and clock.status in ("running", "suspended"):
            computation = dict(clock.computation or {})
            computation["extra"] = int(computation.get("extra", 0)) + days
            clock.computation = computation
            clock_service.recompute(
                clock, definition.clocks["resolution"], calendar, rt.tz, rt.now()
            )


# -- registration ----------------------------------------------------------------------


def next_case_number(session: Session, station: Station, year: int) -> str:
    """Atomically take the next five-digit sequence of a station and local year."""
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert_fn(CaseSequence)
        .values(station_id=station.id, year=year, last=1)
        .on_conflict_do_update(
            index_elements=[CaseSequence.station_id, CaseSequence.year],
            set_={"last": CaseSequence.last + 1},
        )
        .returning(CaseSequence.last)
    )
    sequence = session.execute(statement).scalar_one()
    return f"{station.code}-{year}-{sequence:05d}"


REGISTER_ROLES = frozenset({"caseworker", "volunteer", "supervisor"})


def _registration_station(session: Session, actor: Actor, code: str | None) -> Station:
    """Caseworkers and volunteers register at their own station, supervisors in their subtree."""
    if code is None or code == actor.station_code:
        station = session.get(Station, actor.station_id)
        assert station is not None
        if station.kind == "court":
            raise ValidationFailed({"station": "cases are registered at a service station"})
        return station
    if actor.role != "supervisor":
        raise ValidationFailed({"station": "you may register only at your own station"})
    station = session.scalar(select(Station).where(Station.code == code))
    if (
        station is None
        or station.kind == "court"
        or not station.path.startswith(actor.station_path)
    ):
        raise ValidationFailed({"station": "not a station in your area"})
    return station


def _person_parts(
    person: Mapping[str, Any] | None, identity_keys: tuple[str, ...]
) -> tuple[dict | None, dict]:
    if not person:
        return None, {}
    identity = {k: person[k] for k in identity_keys if person.get(k) is not None}
    facts = {k: v for k, v in person.items() if k not in identity_keys and v is not None}
    return (identity or None), facts


COMPLAINANT_IDENTITY = ("name", "phone", "id_number", "address", "safe_phone")


def register_case(rt: Runtime, session: Session, actor: Actor, payload: Mapping[str, Any]) -> Case:
    """Register a complaint (payload already shape-checked); opens its clocks and emits its work."""
    if actor.role not in REGISTER_ROLES:
        raise Forbidden("this role may not register complaints")
    now = rt.now()
    received_at: datetime = payload.get("received_at") or now
    if received_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed({"received_at": "must not be more than five minutes in the future"})
    station = _registration_station(session, actor, payload.get("station"))
    compiled = rt.active_workflow(session)
    definition = compiled.definition
    local_year = received_at.astimezone(rt.tz).year
    complainant_identity, complainant_facts = _person_parts(
        payload.get("complainant"), COMPLAINANT_IDENTITY
    )
    victim_identity, victim_facts = _person_parts(payload.get("victim"), ("name",))
    respondent_identity, respondent_facts = _person_parts(payload.get("respondent"), ("name",))
    complainant = payload.get("complainant") or {}
    sealer = rt.sealer
    case = Case(
        number=next_case_number(session, station, local_year),
        station_id=station.id,
        station_path=station.path,
        workflow_key=definition.key,
        state=definition.initial,
        version=1,
        channel=payload["channel"],
        category=payload["category"],
        risk=payload["risk"],
        assignee_id=actor.id if actor.role == "caseworker" else None,
        registered_by_id=actor.id,
        complainant_sealed=sealer.seal_json(complainant_identity),
        victim_sealed=sealer.seal_json(victim_identity),
        respondent_sealed=sealer.seal_json(respondent_identity),
        summary_sealed=sealer.seal(payload["summary"]) if payload.get("summary") else None,
        phone_index=sealer.blind_index(complainant.get("phone")),
        id_number_index=sealer.blind_index(complainant.get("id_number")),
        facts={
            "complainant": complainant_facts,
            "victim": victim_facts if payload.get("victim") else None,
            "respondent": respondent_facts if payload.get("respondent") else None,
        },
        session_count=0,
        extended=False,
        received_at=received_at,
        received_on=received_at.astimezone(rt.tz).date(),
        last_event_at=received_at,
        last_seq=0,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    event = append_event(
        session,
        rt,
        case,
        "registered",
        actor.id,
        received_at,
        {
            "channel": case.channel,
            "category": case.category,
            "risk": case.risk,
            "station": station.code,
        },
        None,
        None,
        case.state,
    )
    calendar = rt.calendar(session)
    clock_service.react_to(
        session,
        case,
        definition,
        "register",
        received_at,
        "",
        case.state,
        {},
        event.id,
        calendar,
        rt.tz,
        now,
        [],
    )
    if case.risk == "emergency":
        alert_emergency(session, rt, case, event, actor)
    return case


def alert_emergency(
    session: Session, rt: Runtime, case: Case, event: CaseEvent, actor: Actor
) -> None:
    """An emergency (at registration or on reassessment) tells the district supervisors at once."""
    emit(
        session,
        rt,
        case,
        event,
        "notify",
        {
            "actor_id": actor.id,
            "to": ["district_supervisors"],
            "email": True,
            "reason": "emergency",
        },
    )
