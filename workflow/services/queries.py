"""Reading cases: one case, pages of cases, timelines, the referral package, the access log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden, NotFound, ValidationFailed
from workflow.privacy import mask_text
from workflow.runtime import Runtime
from workflow.services import clocks as clock_service
from workflow.services.actors import Actor, case_scope, load_case_in_scope, require_case_reader
from workflow.services.cases import allowed_events
from workflow.services.views import (
    CASE_WITH_CLOCKS,
    LISTED_CASE_COLUMNS,
    LISTED_CLOCK_COLUMNS,
    CaseBatch,
    GuardFacts,
    at_moment,
    case_view,
    case_with_clocks,
    iso,
    listed_page,
    with_json_read,
)
from workflow.storage.driver import PreparedSelect
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
    case_id: int,
    fields: list[str],
    channel: str,
    address: str | None,
) -> None:
    """Every reveal of personal data is appended to the access log."""
    if actor.role == "volunteer":
        raise Forbidden("volunteers may not reveal personal data")
    session.add(
        AccessLogEntry(
            case_id=case_id,
            user_id=actor.id,
            fields=fields,
            channel=channel,
            address=address,
            at=rt.now(),
        )
    )


class _AllowedEvents:
    """The allowed events of a batch of cases at one instant, asked once per distinct key.

    `allowed_events` reads only the `GuardFacts` of a case and the names and effective
    statuses of its open clocks, so cases alike in those get the same answer: a page of
    fifty cases in a handful of states costs a handful of guard evaluations.
    """

    def __init__(self, rt: Runtime, session: Session, actor: Actor, now: datetime) -> None:
        self.rt, self.session, self.actor, self.now = rt, session, actor, now
        self._known: dict[Hashable, tuple[str, ...]] = {}

    def __call__(self, case: Any, open_clocks: list[Any]) -> list[str]:
        facts = GuardFacts.of(case)
        now = self.now
        key = (facts, tuple((c.name, clock_service.effective_status(c, now)) for c in open_clocks))
        found = self._known.get(key)
        if found is None:
            compiled = self.rt.workflow(facts.workflow_key, self.session)
            found = self._known[key] = tuple(
                allowed_events(
                    self.rt,
                    compiled,
                    self.actor,
                    cast(Case, facts),
                    cast(list[ClockInstance], open_clocks),
                )
            )
        return list(found)


def views_of(
    rt: Runtime,
    session: Session,
    actor: Actor,
    cases: Sequence[Any],
    reveal: bool = False,
    clocks: Mapping[int, list[Any]] | None = None,
) -> list[dict]:
    """The views of ``cases``: ORM cases or `CaseRecord`s (their ``clocks`` if read already).

    Records read with `MASKED_CASE_VIEW_COLUMNS` serve masked views only (no summary).
    """
    batch = CaseBatch(session, cases, rt.directory, clocks)
    now = rt.now()
    allowed = _AllowedEvents(rt, session, actor, now)
    is_open = clock_service.is_open
    out = []
    for case in cases:
        definition = rt.workflow(case.workflow_key, session).definition
        open_clocks = [c for c in batch.clocks[case.id] if is_open(c)]
        out.append(
            case_view(case, batch, rt.sealer, definition, allowed(case, open_clocks), now, reveal)
        )
    return out


def listed_views(
    rt: Runtime,
    session: Session,
    actor: Actor,
    cases: Sequence[Any],
    clocks: Mapping[int, list[Any]],
) -> list[dict[str, Any]]:
    """The masked views of a listed page (`listed_page`).

    A case's masked view, all but what depends on the moment and on the reader, is a
    function of its row and its clocks' rows alone (names by id and definitions by key
    never change), so it is kept by those rows, their JSON as stored text: a case shown
    before costs no decoding and no drawing, and a case that changed in any way has other
    rows, so a kept view is never out of date. The clocks' statuses, the overdue flag and
    the allowed events are worked out anew each time (`at_moment`).
    """
    kept = rt.directory.views
    keys = [(case, tuple(clocks[case.id])) for case in cases]
    found = [kept.find(key) for key in keys]
    missing = [case for case, view in zip(cases, found, strict=True) if view is None]
    drawn = _draw_masked(rt, session, actor, missing, clocks) if missing else {}
    now = rt.now()
    allowed = _AllowedEvents(rt, session, actor, now)
    is_open = clock_service.is_open
    out = []
    for case, key, view in zip(cases, keys, found, strict=True):
        if view is None:
            view = drawn[case.id]
            kept.put(key, view)
        own = clocks[case.id]
        out.append(at_moment(view, own, now, allowed(case, [c for c in own if is_open(c)])))
    return out


def _draw_masked(
    rt: Runtime,
    session: Session,
    actor: Actor,
    cases: Sequence[Any],
    clocks: Mapping[int, list[Any]],
) -> dict[int, dict[str, Any]]:
    """The masked views of ``cases``, their JSON decoded, by case id."""
    decoded = [with_json_read(case, "facts") for case in cases]
    decoded_clocks = {
        case.id: [with_json_read(clock, "computation") for clock in clocks[case.id]]
        for case in cases
    }
    views = views_of(rt, session, actor, decoded, clocks=decoded_clocks)
    return {case.id: view for case, view in zip(cases, views, strict=True)}


class CaseRead(NamedTuple):
    """A case as `read_case` found it: its `CaseRecord` and its `ClockRecord`s."""

    case: Any
    clocks: list[Any]


def read_case(rt: Runtime, session: Session, actor: Actor, case_id: int) -> CaseRead:
    """What a view of the case needs, if ``actor`` may see it (404 otherwise).

    `load_case_in_scope` without an ORM object, for calls that only show the case: one
    statement, built once per reader, reads the case and its clocks.
    """
    require_case_reader(actor)
    statement = rt.directory.statements.get(
        ("case", actor),
        lambda: PreparedSelect(
            CASE_WITH_CLOCKS.where(Case.id == bindparam("case_id"), case_scope(actor))
        ),
    )
    rows = statement.rows(session.connection(), {"case_id": case_id})
    if not rows:
        raise NotFound("no such case")
    return CaseRead(*case_with_clocks(rows))


def case_detail(
    rt: Runtime,
    session: Session,
    actor: Actor,
    read: CaseRead,
    *,
    reveal: bool = False,
    channel: str = "api",
    address: str | None = None,
) -> dict[str, Any]:
    """The view of a case `read_case` returned; a reveal is recorded in the access log."""
    case = read.case
    if reveal:
        record_reveal(rt, session, actor, case.id, REVEALED_FIELDS, channel, address)
    return views_of(rt, session, actor, [case], reveal, {case.id: read.clocks})[0]


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
    read = read_case(rt, session, actor, case_id)
    return case_detail(rt, session, actor, read, reveal=reveal, channel=channel, address=address)


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


def _assignee_id(actor: Actor, assignee: str) -> int:
    if assignee == "me":
        return actor.id
    if assignee.isascii() and assignee.isdigit() and len(assignee) <= 18:
        return int(assignee)
    raise ValidationFailed({"assignee": "'me' or a user id"})


def _list_condition(
    rt: Runtime, session: Session, actor: Actor, flt: CaseFilter
) -> ColumnElement[bool]:
    conditions = [case_scope(actor)]
    if flt.state:
        conditions.append(Case.state == flt.state)
    if flt.station:
        path = session.scalar(select(Station.path).where(Station.code == flt.station))
        if path is None:
            raise ValidationFailed({"station": "no such station"})
        conditions.append(Case.station_path.startswith(path, autoescape=True))
    if flt.overdue is not None:
        overdue = _overdue_condition(rt.now())
        conditions.append(overdue if flt.overdue else ~overdue)
    if flt.assignee:
        conditions.append(Case.assignee_id == _assignee_id(actor, flt.assignee))
    if flt.q:
        digest = rt.sealer.blind_index(flt.q)
        conditions.append(
            or_(
                Case.number.startswith(flt.q.upper(), autoescape=True),
                Case.phone_index == digest,
                Case.id_number_index == digest,
            )
        )
    return and_(*conditions)


def _listing_key(actor: Actor, flt: CaseFilter) -> Hashable:
    """Who is asking and every filter but the page: what a listing's total depends on.

    The whole actor, not only its scope: never a total across scopes. The search text
    only as a hash: no phone or ID number kept in memory.
    """
    q = hashlib.sha256(flt.q.encode()).hexdigest() if flt.q else None
    return (actor, replace(flt, q=q, page=1, per_page=0))


def _listing_total(
    rt: Runtime,
    session: Session,
    flt: CaseFilter,
    key: Hashable,
    where: Callable[[], ColumnElement[bool]],
    shown: int,
) -> int:
    """Exact up to the cap; above it, a full count kept a few seconds (`ListingTotals`)."""
    offset = (flt.page - 1) * flt.per_page
    if shown < flt.per_page and (shown or not offset):
        return offset + shown  # the last page: its rows tell the total
    totals, now = rt.directory.totals, rt.now()
    # A large total counted moments ago stands for its few seconds, even if the cases
    # have since dropped below the cap: the same lag any large total may have.
    recent = totals.fresh(key, now)
    if recent is not None:
        return recent
    condition = where()
    capped = session.scalar(
        select(func.count()).select_from(
            select(Case.id).where(condition).limit(totals.cap + 1).subquery()
        )
    )
    if capped is not None and capped <= totals.cap:
        return int(capped)

    def count() -> int:
        return int(session.scalar(select(func.count()).select_from(Case).where(condition)) or 0)

    return totals.get(key, now, count)


def _page_statement(where: ColumnElement[bool], flt: CaseFilter) -> Select[Any]:
    """A page of cases with their clocks, in one statement (a row per clock)."""
    page = (
        select(*LISTED_CASE_COLUMNS)
        .where(where)
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(flt.per_page)
        .offset((flt.page - 1) * flt.per_page)
        .subquery("page")
    )
    clocks = [column.label(f"clock_{column.name}") for column in LISTED_CLOCK_COLUMNS]
    return (
        select(page, *clocks)
        .select_from(page.outerjoin(ClockInstance, ClockInstance.case_id == page.c.id))
        .order_by(page.c.received_at.desc(), page.c.id.desc(), ClockInstance.id)
    )


def list_cases(rt: Runtime, session: Session, actor: Actor, flt: CaseFilter) -> dict[str, Any]:
    """A page of the cases in scope, newest ``received_at`` first, then id; masked views.

    The lean path: the page is Core rows of the view's columns, the clocks one query,
    names from the directory, allowed events once per distinct case (`_AllowedEvents`).
    A page statement is kept for the next request alike, unless it embeds the time
    (``overdue``) or a search text (``q``: no phone number kept in memory).
    """
    require_case_reader(actor)
    built: list[ColumnElement[bool]] = []

    def where() -> ColumnElement[bool]:
        # Built (and the filters checked) at most once, and only when needed.
        if not built:
            built.append(_list_condition(rt, session, actor, flt))
        return built[0]

    connection = session.connection()
    if flt.overdue is None and flt.q is None:
        page = rt.directory.statements.get(
            ("list", actor, flt), lambda: PreparedSelect(_page_statement(where(), flt))
        )
        rows = page.rows(connection, {})
    else:
        rows = connection.execute(_page_statement(where(), flt)).all()
    cases, clocks = listed_page(rows)
    key = _listing_key(actor, flt)
    return {
        "items": listed_views(rt, session, actor, cases, clocks),
        "total": _listing_total(rt, session, flt, key, where, len(cases)),
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
        record_reveal(rt, session, actor, case.id, ["timeline"], channel, address)
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
    record_reveal(rt, session, actor, case.id, REVEALED_FIELDS + ["timeline"], channel, address)
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
