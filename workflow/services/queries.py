"""Reading cases: one case, pages of cases, timelines, the referral package, the access log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden, NotFound, ValidationFailed
from workflow.privacy import mask_text
from workflow.runtime import Runtime
from workflow.services import clocks as clock_service
from workflow.services.actors import Actor, case_scope, load_case_in_scope, require_case_reader
from workflow.services.cases import allowed_events
from workflow.services.views import CaseBatch, case_view, iso
from workflow.storage.models import (
    AccessLogEntry,
    Case,
    CaseEvent,
    ClockInstance,
    Referral,
    Station,
    User,
)

REVEALED_FIELDS = ["complainant", "victim", "respondent", "summary"]


def record_reveal(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case: Case,
    fields: list[str],
    channel: str,
    address: str | None,
) -> None:
    """Every reveal of personal data is appended to the access log."""
    if actor.role == "volunteer":
        raise Forbidden("volunteers may not reveal personal data")
    session.add(
        AccessLogEntry(
            case_id=case.id,
            user_id=actor.id,
            fields=fields,
            channel=channel,
            address=address,
            at=rt.now(),
        )
    )


def views_of(
    rt: Runtime, session: Session, actor: Actor, cases: list[Case], reveal: bool = False
) -> list[dict]:
    batch = CaseBatch(session, cases, rt.directory)
    now = rt.now()
    out = []
    for case in cases:
        compiled = rt.workflow(case.workflow_key, session)
        open_clocks = [c for c in batch.clocks.get(case.id, []) if clock_service.is_open(c)]
        allowed = allowed_events(rt, compiled, actor, case, open_clocks)
        out.append(case_view(case, batch, rt.sealer, compiled.definition, allowed, now, reveal))
    return out


def get_case(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reveal: bool = False,
    channel: str = "api",
    address: str | None = None,
) -> dict[str, Any]:
    case = load_case_in_scope(session, actor, case_id)
    if reveal:
        record_reveal(rt, session, actor, case, REVEALED_FIELDS, channel, address)
    return views_of(rt, session, actor, [case], reveal)[0]


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    station: str | None = None
    overdue: bool | None = None
    assignee: str | None = None  # "me" or a user id
    q: str | None = None
    page: int = 1
    per_page: int = 20


def _overdue_condition(now: Any) -> Any:
    return exists().where(
        ClockInstance.case_id == Case.id,
        ClockInstance.stopped_at.is_(None),
        or_(
            ClockInstance.status == "breached",
            and_(ClockInstance.status == "running", ClockInstance.due_at <= now),
        ),
    )


def list_cases(rt: Runtime, session: Session, actor: Actor, flt: CaseFilter) -> dict[str, Any]:
    require_case_reader(actor)
    conditions = [case_scope(actor)]
    if flt.state:
        conditions.append(Case.state == flt.state)
    if flt.station:
        station = session.scalar(select(Station).where(Station.code == flt.station))
        if station is None:
            raise ValidationFailed({"station": "no such station"})
        conditions.append(Case.station_path.startswith(station.path, autoescape=True))
    if flt.overdue is not None:
        overdue = _overdue_condition(rt.now())
        conditions.append(overdue if flt.overdue else ~overdue)
    if flt.assignee:
        if flt.assignee == "me":
            conditions.append(Case.assignee_id == actor.id)
        elif flt.assignee.isascii() and flt.assignee.isdigit() and len(flt.assignee) <= 18:
            conditions.append(Case.assignee_id == int(flt.assignee))
        else:
            raise ValidationFailed({"assignee": "'me' or a user id"})
    if flt.q:
        digest = rt.sealer.blind_index(flt.q)
        conditions.append(
            or_(
                Case.number.startswith(flt.q.upper(), autoescape=True),
                Case.phone_index == digest,
                Case.id_number_index == digest,
            )
        )
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    cases = list(
        session.scalars(
            select(Case)
            .where(where)
            .order_by(Case.received_at.desc(), Case.id.desc())
            .limit(flt.per_page)
            .offset((flt.page - 1) * flt.per_page)
        )
    )
    return {
        "items": views_of(rt, session, actor, cases),
        "total": total,
        "page": flt.page,
        "per_page": flt.per_page,
    }


def timeline(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reveal: bool = False,
    address: str | None = None,
    channel: str = "api",
) -> list[dict[str, Any]]:
    case = load_case_in_scope(session, actor, case_id)
    if reveal:
        record_reveal(rt, session, actor, case, ["timeline"], channel, address)
    return _timeline_entries(rt, session, case, reveal)


def _timeline_entries(
    rt: Runtime, session: Session, case: Case, reveal: bool
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(CaseEvent, User.username)
        .outerjoin(User, User.id == CaseEvent.actor_id)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.seq)
    ).all()
    out = []
    for event, username in rows:
        data = dict(event.data or {})
        if event.sealed:
            private = rt.sealer.open_json(event.sealed) or {}
            for key, value in private.items():
                data[key] = value if reveal else _mask_any(value)
        out.append(
            {
                "seq": event.seq,
                "type": event.type,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "actor": {"id": event.actor_id, "username": username} if event.actor_id else None,
                "at": iso(event.at),
                "data": data,
            }
        )
    return out


def _mask_any(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [mask_text(str(v)) for v in value]
    return mask_text(str(value))


def referral_package(
    rt: Runtime,
    session: Session,
    actor: Actor,
    case_id: int,
    address: str | None = None,
    channel: str = "referral_package",
) -> dict[str, Any]:
    """What the panel needs: the case (revealed: this is a reveal), mediation record, parties."""
    case = load_case_in_scope(session, actor, case_id)
    if case.referral_panel_id is None and not session.scalar(
        select(Referral.id).where(Referral.case_id == case.id).limit(1)
    ):
        raise NotFound("this case has not been referred")
    record_reveal(rt, session, actor, case, REVEALED_FIELDS + ["timeline"], channel, address)
    view = views_of(rt, session, actor, [case], reveal=True)[0]
    events = _timeline_entries(rt, session, case, reveal=True)
    referrals = session.execute(
        select(Referral, Station.code)
        .join(Station, Station.id == Referral.panel_id)
        .where(Referral.case_id == case.id)
        .order_by(Referral.id)
    ).all()
    return {
        "case": view,
        "parties": {k: view[k] for k in ("complainant", "victim", "respondent")},
        "mediation_record": [
            e
            for e in events
            if e["type"] in ("record_session", "settle", "close_unresolved", "note")
        ],
        "referrals": [
            {"panel": code, "kind": r.kind, "referred_at": iso(r.referred_at), "status": r.status}
            for r, code in referrals
        ],
        "timeline": events,
    }


def access_log(rt: Runtime, session: Session, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    if actor.role == "admin":
        if session.get(Case, case_id) is None:
            raise NotFound("no such case")
    else:
        load_case_in_scope(session, actor, case_id)
        if actor.role != "supervisor":
            raise Forbidden("only supervisors and administrators read the access log")
    rows = session.execute(
        select(AccessLogEntry, User.username)
        .join(User, User.id == AccessLogEntry.user_id)
        .where(AccessLogEntry.case_id == case_id)
        .order_by(AccessLogEntry.id)
    ).all()
    return [
        {
            "user": {"id": e.user_id, "username": name},
            "fields": e.fields,
            "channel": e.channel,
            "address": e.address,
            "at": iso(e.at),
        }
        for e, name in rows
    ]


def referral_inbox(rt: Runtime, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """A liaison's inbox: referrals to their panel, those awaiting acknowledgement first."""
    if actor.role != "court_liaison":
        raise Forbidden("the referral inbox is for court liaisons")
    rows = session.execute(
        select(Referral, Case)
        .join(Case, Case.id == Referral.case_id)
        .where(Referral.panel_id == actor.station_id)
        .order_by((Referral.status != "awaiting"), Referral.referred_at.desc())
    ).all()
    views = {
        v["id"]: v for v in views_of(rt, session, actor, list({c.id: c for _, c in rows}.values()))
    }
    return [
        {
            "referral": {"kind": r.kind, "status": r.status, "referred_at": iso(r.referred_at)},
            "case": views[c.id],
        }
        for r, c in rows
    ]


QUEUE_LIMIT = 500


def _nearest_deadlines() -> Any:
    """Per case, the nearest deadline among its clocks still running (or breached, open)."""
    return (
        select(ClockInstance.case_id, func.min(ClockInstance.due_at).label("due_at"))
        .where(
            ClockInstance.stopped_at.is_(None), ClockInstance.status.in_(("running", "breached"))
        )
        .group_by(ClockInstance.case_id)
        .subquery()
    )


def work_queue(
    rt: Runtime,
    session: Session,
    actor: Actor,
    *,
    station: str | None = None,
    assignee_only: bool = False,
    limit: int = QUEUE_LIMIT,
) -> list[dict[str, Any]]:
    """Cases in scope with work left, nearest deadline first (overdue ones lead).

    Work left: an open state, or a clock still counting (a closed case's follow-up or
    mandatory report). Cases without a counting clock come last, newest first.
    """
    require_case_reader(actor)
    nearest = _nearest_deadlines()
    conditions = [case_scope(actor), or_(Case.state != "closed", nearest.c.due_at.is_not(None))]
    if station:
        root = session.scalar(select(Station).where(Station.code == station))
        if root is None:
            raise ValidationFailed({"station": "no such station"})
        conditions.append(Case.station_path.startswith(root.path, autoescape=True))
    if assignee_only:
        conditions.append(Case.assignee_id == actor.id)
    cases = list(
        session.scalars(
            select(Case)
            .outerjoin(nearest, nearest.c.case_id == Case.id)
            .where(*conditions)
            .order_by(
                nearest.c.due_at.is_(None), nearest.c.due_at, Case.received_at.desc(), Case.id
            )
            .limit(limit)
        )
    )
    return views_of(rt, session, actor, cases)


def station_counts(rt: Runtime, session: Session, actor: Actor) -> dict[str, dict[str, int]]:
    """Per station code in scope: open cases, overdue cases, cases with an open escalation."""
    require_case_reader(actor)
    now = rt.now()
    overdue = _overdue_condition(now)
    escalated = exists().where(
        ClockInstance.case_id == Case.id,
        ClockInstance.stopped_at.is_(None),
        ClockInstance.escalation_level > 0,
    )
    rows = session.execute(
        select(
            Station.code,
            func.count().filter(Case.state != "closed"),
            func.count().filter(overdue),
            func.count().filter(escalated),
        )
        .join(Station, Station.id == Case.station_id)
        .where(case_scope(actor), or_(Case.state != "closed", overdue, escalated))
        .group_by(Station.code)
    ).all()
    return {
        code: {"open": int(open_), "overdue": int(late), "escalated": int(up)}
        for code, open_, late, up in rows
    }
