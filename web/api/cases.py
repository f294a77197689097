"""Case calls: register, list, read, reassess, transition, and the actions beside the workflow.

Every `/cases/{id}/...` call checks scope first (404 for a case the user may not see,
403 for an administrator), then the body, then hands over to the service, so a
malformed request about someone else's case learns nothing about it.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from web.api.support import (
    acting,
    bearer_token,
    body,
    case_json,
    client_address,
    query,
    read_json,
    reply,
    runtime,
    transaction,
)
from web.openapi import documented
from web.schemas import (
    AssignmentRequest,
    CaseListQuery,
    CaseRegistration,
    CaseUpdate,
    FollowUpRequest,
    NoteRequest,
    ReportFiledRequest,
    ResumeRequest,
    RevealQuery,
    SessionRequest,
    SuspendRequest,
    TransferRequest,
    TransitionRequest,
    validate,
)
from workflow.errors import Unavailable, ValidationFailed
from workflow.runtime import Runtime
from workflow.services import actions
from workflow.services.actors import Actor, load_case_in_scope
from workflow.services.auth import actor_for_token
from workflow.services.cases import register_case, transition_options, trigger_event
from workflow.services.idempotency import KeyTaken, claim_key, request_digest, stored_answer
from workflow.services.queries import (
    CaseFilter,
    access_log,
    case_detail,
    list_cases,
    read_case,
    referral_package,
    timeline,
)
from workflow.storage.models import CaseEvent

bp = Blueprint("cases", __name__, url_prefix="/api/v1")

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}\Z")
CASE = "/cases/<id:case_id>"


# -- registration, with idempotency -------------------------------------------------------


def _stored_answer(rt: Runtime, user_id: int, key: str, digest: str) -> Response | None:
    with transaction() as session:
        row = stored_answer(rt, session, user_id, key)
        if row is None:
            return None
        if row.request_hash != digest:
            raise ValidationFailed(
                {IDEMPOTENCY_HEADER: "this key was already used with another body"}
            )
        return reply(row.response, row.status_code)


def _register_once(rt: Runtime, token: str, key: str | None) -> Response:
    with transaction() as session:
        actor = actor_for_token(rt, session, token)
        raw = read_json()
        payload = validate(CaseRegistration, raw)
        if key is not None and not _KEY_PATTERN.match(key):
            raise ValidationFailed({IDEMPOTENCY_HEADER: "1 to 200 printable ASCII characters"})
        digest = request_digest(raw)
        record = claim_key(rt, session, actor.id, key, digest) if key is not None else None
        case = register_case(rt, session, actor, payload.model_dump())
        view = case_json(rt, session, actor, case)
        if record is not None:
            record.status_code, record.response, record.case_id = 201, view, case.id
        return reply(view, 201)


@bp.post("/cases")
@documented(
    "Register a complaint (Idempotency-Key makes retries safe)",
    body=CaseRegistration,
    status=201,
    headers=(IDEMPOTENCY_HEADER,),
)
def create() -> Response:
    rt = runtime()
    token = bearer_token()
    key = request.headers.get(IDEMPOTENCY_HEADER)
    # A key taken by a transaction that then rolled back is free again: try once more.
    for _ in range(3):
        try:
            return _register_once(rt, token, key)
        except KeyTaken:
            assert key is not None
            with transaction() as session:
                user_id = actor_for_token(rt, session, token).id
            stored = _stored_answer(rt, user_id, key, request_digest(read_json()))
            if stored is not None:
                return stored
    raise Unavailable("the idempotency key is busy; retry")


# -- reading -------------------------------------------------------------------------------


@bp.get("/cases")
@documented("Cases in scope, newest first", query=CaseListQuery)
def index() -> Response:
    rt = runtime()
    with acting() as (session, actor):
        params = query(CaseListQuery)
        flt = CaseFilter(
            state=params.state,
            station=params.station,
            overdue=params.overdue,
            assignee=params.assignee,
            q=params.q,
            page=params.page,
            per_page=params.per_page,
        )
        return reply(list_cases(rt, session, actor, flt))


@bp.get(CASE)
@documented("One case; ?reveal=true shows personal data and is logged", query=RevealQuery)
def detail(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        read = read_case(rt, session, actor, case_id)
        reveal = query(RevealQuery).reveal
        return reply(
            case_detail(
                rt, session, actor, read, reveal=reveal, channel="api", address=client_address()
            )
        )


@bp.get(CASE + "/timeline")
@documented("Every event of the case, oldest first", query=RevealQuery)
def history(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        reveal = query(RevealQuery).reveal
        return reply(timeline(rt, session, actor, case_id, reveal=reveal, address=client_address()))


@bp.get(CASE + "/referral-package")
@documented("The referral package for the panel (a reveal: logged)")
def package(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        return reply(referral_package(rt, session, actor, case_id, address=client_address()))


@bp.get(CASE + "/access-log")
@documented("Who revealed this case's personal data (supervisors, administrators)")
def reveals(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        return reply(access_log(rt, session, actor, case_id))


# -- changing --------------------------------------------------------------------------------


@bp.patch(CASE)
@documented("Reassess risk, category or the victim's facts", body=CaseUpdate)
def update(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        change = body(CaseUpdate)
        changes = {
            "risk": change.risk,
            "category": change.category,
            "victim": change.victim.model_dump() if change.victim is not None else None,
        }
        case = actions.update_case(rt, session, actor, case_id, change.version, changes)
        return reply(case_json(rt, session, actor, case))


@bp.post(CASE + "/transitions")
@documented("Trigger a workflow event", body=TransitionRequest)
def transition(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        request_ = body(TransitionRequest)
        result = trigger_event(
            rt,
            session,
            actor,
            case_id,
            request_.event,
            request_.version,
            request_.data or {},
            request_.occurred_at,
        )
        return reply(case_json(rt, session, actor, result.case))


@bp.get(CASE + "/transitions")
@documented("The events this user may trigger now, with their data fields")
def options(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        return reply(transition_options(rt, session, actor, case_id))


def _entry(rt: Runtime, session: Session, actor: Actor, case_id: int, event: CaseEvent) -> dict:
    """The new timeline entry as the timeline shows it (masked)."""
    session.flush()
    entries = timeline(rt, session, actor, case_id)
    return next(item for item in entries if item["seq"] == event.seq)


@bp.post(CASE + "/notes")
@documented("Add a note", body=NoteRequest, status=201)
def add_note(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        note = body(NoteRequest)
        event = actions.add_note(rt, session, actor, case_id, note.text)
        return reply(_entry(rt, session, actor, case_id, event), 201)


@bp.post(CASE + "/sessions")
@documented("Record a mediation session", body=SessionRequest, status=201)
def record_session(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        held = body(SessionRequest)
        event = actions.record_session(
            rt, session, actor, case_id, held.held_at, held.participants, held.result, held.notes
        )
        return reply(_entry(rt, session, actor, case_id, event), 201)


@bp.post(CASE + "/assignment")
@documented("Assign the case", body=AssignmentRequest)
def assign(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        change = body(AssignmentRequest)
        case = actions.assign_case(rt, session, actor, case_id, change.version, change.assignee_id)
        return reply(case_json(rt, session, actor, case))


@bp.post(CASE + "/transfer")
@documented(
    "Transfer the case to another station of the subtree (supervisor)", body=TransferRequest
)
def transfer(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        change = body(TransferRequest)
        case = actions.transfer_case(rt, session, actor, case_id, change.version, change.station)
        return reply(case_json(rt, session, actor, case))


@bp.post(CASE + "/follow-ups")
@documented("Record the return visit after closure", body=FollowUpRequest, status=201)
def record_follow_up(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        visit = body(FollowUpRequest)
        event = actions.record_follow_up(
            rt, session, actor, case_id, visit.contacted_at, visit.result
        )
        return reply(_entry(rt, session, actor, case_id, event), 201)


@bp.post(CASE + "/reports")
@documented("Record the mandatory report", body=ReportFiledRequest, status=201)
def record_report(case_id: int) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        report = body(ReportFiledRequest)
        event = actions.record_report(
            rt, session, actor, case_id, report.filed_at, report.agency, report.reference
        )
        return reply(_entry(rt, session, actor, case_id, event), 201)


CLOCK = CASE + "/clocks/<string(maxlength=40):clock>"


@bp.post(CLOCK + "/suspend")
@documented("Suspend a running clock (supervisor)", body=SuspendRequest)
def suspend_clock(case_id: int, clock: str) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        reason = body(SuspendRequest).reason
        case = actions.suspend_clock(rt, session, actor, case_id, clock, reason)
        return reply(case_json(rt, session, actor, case))


@bp.post(CLOCK + "/resume")
@documented("Resume a suspended clock (supervisor)", body=ResumeRequest)
def resume_clock(case_id: int, clock: str) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        load_case_in_scope(session, actor, case_id)
        reason = body(ResumeRequest, optional=True).reason
        case = actions.resume_clock(rt, session, actor, case_id, clock, reason)
        return reply(case_json(rt, session, actor, case))
