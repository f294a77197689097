"""One case: register it, read it (masked, or revealed and logged), act on it, print its package.

Every action posts a form to its own URL; a refusal re-renders the case page with the
services' reasons beside the fields, a version conflict says so plainly, and a success
redirects back to the case (post/redirect/get).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC
from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from web.console import labels
from web.console.forms import REGISTRATION_FIELDS, RegistrationForm
from web.console.messages import translate, translate_fields
from web.console.support import (
    CASE_READERS,
    STAFF,
    acting,
    client_address,
    form_flag,
    form_text,
    format_local,
    input_value,
    parse_local_input,
    roles,
    runtime,
)
from web.schemas import CaseRegistration, validate
from workflow.errors import (
    GuardFailed,
    InvalidTransition,
    ValidationFailed,
    VersionConflict,
)
from workflow.services import actions
from workflow.services.actors import Actor, load_case_in_scope
from workflow.services.admin import stations_in_scope, users_in_scope
from workflow.services.cases import register_case, transition_options, trigger_event
from workflow.services.clocks import mandatory_report_duty
from workflow.services.idempotency import KeyTaken, claim_key, request_digest, stored_answer
from workflow.services.queries import access_log, get_case, referral_package, timeline
from workflow.storage.models import Case, Station

bp = Blueprint("cases", __name__, url_prefix="/cases")

CASE = "/<id:case_id>"
TEXT_LIMIT = 20_000
NAME_LIMIT = 200


# -- registering ------------------------------------------------------------------------------


def _registration_stations(session: Session, me: Actor) -> list[tuple[str, str]]:
    if me.role == "supervisor":
        return [
            (s["code"], f"{s['code']} · {s['name']}")
            for s in stations_in_scope(session, me)
            if s["kind"] != "court"
        ]
    return [(me.station_code, me.station_code)]


def _duty(session: Session, form: RegistrationForm) -> bool:
    """Whether the complaint as filled in carries the mandatory-report duty (the service's rule)."""
    definition = runtime().active_workflow(session).definition
    victim = (
        {"is_minor": form.v_is_minor.data, "lacks_capacity": form.v_lacks_capacity.data}
        if form.victim_given()
        else None
    )
    draft = SimpleNamespace(
        category=form.category.data,
        facts={
            "complainant": {
                "is_minor": form.c_is_minor.data,
                "lacks_capacity": form.c_lacks_capacity.data,
            },
            "victim": victim,
        },
    )
    return mandatory_report_duty(draft, definition)  # type: ignore[arg-type]


def _payload(form: RegistrationForm, me: Actor) -> dict[str, Any]:
    def text(field: Any) -> str | None:
        value = (field.data or "").strip()
        return value or None

    received = parse_local_input(form.received_at.data)
    payload: dict[str, Any] = {
        "channel": form.channel.data,
        "received_at": received.isoformat() if received else None,
        "station": form.station.data or None if me.role == "supervisor" else None,
        "category": form.category.data,
        "risk": form.risk.data,
        "complainant": {
            "name": text(form.c_name),
            "phone": text(form.c_phone),
            "id_number": text(form.c_id_number),
            "address": text(form.c_address),
            "is_minor": bool(form.c_is_minor.data),
            "lacks_capacity": bool(form.c_lacks_capacity.data),
            "consents_to_sms": bool(form.c_consents_to_sms.data),
            "safe_phone": text(form.c_safe_phone),
        },
        "victim": None,
        "respondent": None,
        "summary": text(form.summary),
    }
    if form.victim_given():
        payload["victim"] = {
            "name": text(form.v_name),
            "is_minor": bool(form.v_is_minor.data),
            "lacks_capacity": bool(form.v_lacks_capacity.data),
            "relation": text(form.v_relation),
        }
    if text(form.r_name) or text(form.r_relation):
        payload["respondent"] = {"name": text(form.r_name), "relation": text(form.r_relation)}
    return payload


def _attach_errors(form: RegistrationForm, fields: dict[str, str]) -> list[str]:
    """Put the services' field messages on the form's fields; the rest are returned."""
    loose = []
    for name, message in translate_fields(fields).items():
        target = REGISTRATION_FIELDS.get(name)
        field = getattr(form, target, None) if target else None
        if field is None:
            loose.append(message)
        else:
            field.errors = [*field.errors, message]
    return loose


def _register_once(form: RegistrationForm) -> tuple[int, str]:
    """Register the form's complaint, or find the case its submission already made."""
    rt = runtime()
    key = f"console:{form.submission.data}" if form.submission.data else None
    try:
        with acting() as (session, me):
            payload = validate(CaseRegistration, _payload(form, me)).model_dump()
            record = None
            if key is not None:
                record = claim_key(rt, session, me.id, key, request_digest(key))
            case = register_case(rt, session, me, payload)
            if record is not None:
                record.status_code, record.response, record.case_id = 201, {}, case.id
            return case.id, case.number
    except KeyTaken:
        with acting() as (session, me):
            first = stored_answer(rt, session, me.id, key or "")
            if first is None or first.case_id is None:
                raise
            case = session.get(Case, first.case_id)
            assert case is not None
            return case.id, case.number


@bp.route("/new", methods=["GET", "POST"])
@roles("caseworker", "volunteer", "supervisor")
def register() -> Response | tuple[str, int]:
    form = RegistrationForm()
    status = 200
    problems: list[str] = []
    duty = False
    with acting() as (session, me):
        form.fill_choices(_registration_stations(session, me))
        if request.method == "GET":
            form.received_at.data = input_value()
            form.station.data = me.station_code
            form.submission.data = uuid.uuid4().hex
        if request.method == "POST":
            duty = _duty(session, form)
    checking = request.form.get("action") == "check"
    if request.method == "POST" and not checking:
        if form.validate():
            try:
                case_id, number = _register_once(form)
            except ValidationFailed as refused:
                problems = _attach_errors(form, refused.fields)
                status = 422
            else:
                flash(_("Complaint registered as %(number)s.", number=number), "success")
                if duty:
                    flash(
                        _(
                            "Mandatory report: this case must be reported to the public "
                            "security organ within 24 hours. Record the report on this page."
                        ),
                        "warning",
                    )
                return redirect(url_for("console.cases.detail", case_id=case_id))
        else:
            status = 422
    html = render_template(
        "cases/register.html",
        form=form,
        problems=problems,
        duty=duty,
        checked=checking,
        duty_categories=_duty_categories(),
    )
    return make_response(html, status)


def _duty_categories() -> list[str]:
    with runtime().sessions() as session:
        definition = runtime().active_workflow(session).definition
        return sorted(definition.mandatory_report_categories)


# -- reading ----------------------------------------------------------------------------------


def _assignable(session: Session, me: Actor, view: dict[str, Any]) -> list[dict[str, Any]]:
    station = view["station"]["code"] if view.get("station") else None
    return [
        u
        for u in users_in_scope(session, me, None)
        if (u["role"] == "caseworker" and u["station"] == station) or u["role"] == "supervisor"
    ]


def _panels(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Station.code, Station.name).where(Station.kind == "court").order_by(Station.code)
    ).all()
    return [(code, f"{code} · {name}") for code, name in rows]


def render_case(
    case_id: int,
    *,
    reveal: bool = False,
    status: int = 200,
    open_form: str | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    conflict: bool = False,
    values: MultiDict[str, str] | None = None,
) -> Response:
    rt = runtime()
    address = client_address()
    with acting() as (session, me):
        view = get_case(rt, session, me, case_id, reveal=reveal, channel="console", address=address)
        entries = timeline(
            rt, session, me, case_id, reveal=reveal, address=address, channel="console"
        )
        options = transition_options(rt, session, me, case_id)
        definition = rt.workflow(view["workflow_version"], session).definition
        staff = me.role in STAFF
        assignable = _assignable(session, me, view) if staff else []
        transfer_to = (
            [
                s
                for s in stations_in_scope(session, me)
                if s["kind"] != "court" and s["code"] != (view["station"] or {}).get("code")
            ]
            if me.role == "supervisor"
            else []
        )
        panels = _panels(session) if any(o["event"] == "refer" for o in options) else []
        users = {u["id"]: u["username"] for u in users_in_scope(session, me, None)}
    for entry in entries:
        if entry.get("actor"):
            users.setdefault(entry["actor"]["id"], entry["actor"]["username"])
    if view.get("assignee"):
        users.setdefault(view["assignee"]["id"], view["assignee"]["username"])
    suspendable = {name for name, c in definition.clocks.items() if c.suspendable}
    open_clock_names = {
        c["clock"]
        for c in view["clocks"]
        if c["stopped_at"] is None and c["status"] in ("running", "suspended", "breached")
    }
    liaison_may_write = me.role == "court_liaison" and bool(options)
    html = render_template(
        "cases/detail.html",
        case=view,
        entries=entries,
        options=options,
        revealed=reveal,
        staff=staff,
        may_note=me.role in ("caseworker", "supervisor", "volunteer") or liaison_may_write,
        may_reveal=me.role != "volunteer",
        suspendable=suspendable,
        report_due="mandatory_report" in open_clock_names,
        assignable=assignable,
        transfer_to=transfer_to,
        panels=panels,
        users=users,
        open_form=open_form,
        errors=errors or {},
        form_error=form_error,
        conflict=conflict,
        values=values or MultiDict(),
        now_input=input_value(),
        show=describe,
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


USER_KEYS = frozenset({"assignee_id", "previous_assignee_id", "by"})
TIME_KEYS = frozenset({"from", "to", "due_at", "filed_at", "contacted_at", "held_at"})


def describe(key: str, value: Any, users: dict[int, str]) -> str:
    """A timeline value as a reader wants it: labels, local times, names for user ids."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{labels.label(labels.PERSON_FIELDS, k)}: {describe(k, v, users)}"
            for k, v in value.items()
            if v is not None
        )
    if key in USER_KEYS and isinstance(value, int):
        return users.get(value, f"#{value}")
    if key == "clock":
        return labels.label(labels.CLOCKS, value)
    if key == "risk":
        return labels.label(labels.RISKS, value)
    if key == "category":
        return labels.label(labels.CATEGORIES, value)
    if key == "channel":
        return labels.label(labels.CHANNELS, value)
    if (
        key in ("kind", "outcome", "applicant", "reason", "step")
        and str(value) in labels.ENUM_VALUES
    ):
        return labels.label(labels.ENUM_VALUES, value)
    if key in TIME_KEYS and isinstance(value, str) and "T" in value:
        return format_local(value)
    return str(value)


@bp.get(CASE)
@roles(*CASE_READERS, "admin")
def detail(case_id: int) -> Response:
    return render_case(case_id)


@bp.post(CASE + "/reveal")
@roles(*CASE_READERS, "admin")
def reveal(case_id: int) -> Response:
    """Showing personal data is a POST: it writes the access log."""
    return render_case(case_id, reveal=True)


@bp.get(CASE + "/referral-package")
@roles(*CASE_READERS, "admin")
def package(case_id: int) -> Response:
    with acting() as (session, me):
        found = referral_package(
            runtime(), session, me, case_id, address=client_address(), channel="console"
        )
    response = make_response(render_template("cases/package.html", package=found))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(CASE + "/access-log")
@roles(*CASE_READERS, "admin")
def reveals(case_id: int) -> str:
    with acting() as (session, me):
        entries = access_log(runtime(), session, me, case_id)
        number = None
        if me.role != "admin":
            number = load_case_in_scope(session, me, case_id).number
    return render_template("cases/access_log.html", entries=entries, case_id=case_id, number=number)


# -- acting -----------------------------------------------------------------------------------


def _act(case_id: int, form: str, do: Callable[[Session, Actor], Any], done: str) -> Response:
    """Run one action in one transaction; refusals re-render the case with their reasons."""
    try:
        with acting() as (session, me):
            load_case_in_scope(session, me, case_id)  # scope first: 404 before anything else
            do(session, me)
    except VersionConflict:
        return render_case(case_id, status=409, conflict=True)
    except ValidationFailed as refused:
        return render_case(
            case_id,
            status=422,
            open_form=form,
            errors=translate_fields(refused.fields),
            form_error=_("Please correct the marked fields."),
            values=request.form,
        )
    except GuardFailed as refused:
        return render_case(
            case_id,
            status=422,
            open_form=form,
            form_error=labels.label(labels.GUARDS, refused.rule),
            values=request.form,
        )
    except InvalidTransition as refused:
        return render_case(
            case_id,
            status=409,
            open_form=form,
            form_error=_(
                "This is not possible in the case's current state: %(reason)s",
                reason=translate(refused.message),
            ),
        )
    flash(done, "success")
    return redirect(url_for("console.cases.detail", case_id=case_id))


def _version() -> int:
    raw = request.form.get("version", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ValidationFailed({"version": "required"})
    return int(raw)


def _required_text(name: str, limit: int = TEXT_LIMIT) -> str:
    value = form_text(name, limit)
    if value is None:
        raise ValidationFailed({name: "required"})
    return value


def _instant(name: str, required: bool = True) -> Any:
    try:
        moment = parse_local_input(request.form.get(name))
    except ValueError:
        raise ValidationFailed({name: "must be a date and time"}) from None
    if moment is None and required:
        raise ValidationFailed({name: "required"})
    return moment.astimezone(UTC) if moment is not None else None


def _event_data(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The event's data from the form, typed as its fields say; the service checks the rest."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in fields.items():
        key = f"data.{name}"
        kind = spec.get("type")
        if kind == "boolean":
            if form_flag(key):
                data[name] = True
            continue
        raw = form_text(key, TEXT_LIMIT)
        if raw is None:
            continue
        if kind == "integer":
            if raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 12:
                data[name] = int(raw)
            else:
                errors[name] = "must be a whole number"
        else:
            data[name] = raw
    return data, errors


@bp.post(CASE + "/transitions")
@roles(*CASE_READERS)
def transition(case_id: int) -> Response:
    event = form_text("event", 64) or ""

    def do(session: Session, me: Actor) -> None:
        rt = runtime()
        version = _version()
        options = {o["event"]: o for o in transition_options(rt, session, me, case_id)}
        fields = options[event]["fields"] if event in options else {}
        data, errors = _event_data(fields)
        occurred_at = _instant("occurred_at", required=False)
        if errors:
            raise ValidationFailed(errors)
        trigger_event(rt, session, me, case_id, event, version, data, occurred_at)

    done = _("Done: %(event)s.", event=labels.label(labels.EVENTS, event))
    return _act(case_id, f"event-{event}", do, done)


@bp.post(CASE + "/notes")
@roles(*CASE_READERS)
def note(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        actions.add_note(runtime(), session, me, case_id, _required_text("text"))

    return _act(case_id, "note", do, _("The note was added."))


@bp.post(CASE + "/sessions")
@roles(*STAFF)
def mediation_session(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        participants = [
            line.strip()[:NAME_LIMIT]
            for line in (request.form.get("participants") or "").splitlines()
            if line.strip()
        ][:50]
        if not participants:
            raise ValidationFailed({"participants": "required"})
        actions.record_session(
            runtime(),
            session,
            me,
            case_id,
            _instant("held_at"),
            participants,
            _required_text("result"),
            form_text("notes"),
        )

    return _act(case_id, "session", do, _("The mediation session was recorded."))


@bp.post(CASE + "/follow-ups")
@roles(*STAFF)
def follow_up(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        actions.record_follow_up(
            runtime(), session, me, case_id, _instant("contacted_at"), _required_text("result")
        )

    return _act(case_id, "follow_up", do, _("The follow-up visit was recorded."))


@bp.post(CASE + "/reports")
@roles(*STAFF)
def mandatory_report(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        actions.record_report(
            runtime(),
            session,
            me,
            case_id,
            _instant("filed_at"),
            _required_text("agency", NAME_LIMIT),
            form_text("reference", NAME_LIMIT),
        )

    return _act(case_id, "report", do, _("The mandatory report was recorded."))


@bp.post(CASE + "/assignment")
@roles(*STAFF)
def assign(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        raw = request.form.get("assignee_id", "")
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise ValidationFailed({"assignee_id": "required"})
        actions.assign_case(runtime(), session, me, case_id, _version(), int(raw))

    return _act(case_id, "assign", do, _("The case was assigned."))


@bp.post(CASE + "/transfer")
@roles("supervisor")
def transfer(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        station = _required_text("station", 32)
        actions.transfer_case(runtime(), session, me, case_id, _version(), station)

    return _act(case_id, "transfer", do, _("The case was transferred."))


@bp.post(CASE + "/reassessment")
@roles(*STAFF)
def reassess(case_id: int) -> Response:
    def do(session: Session, me: Actor) -> None:
        changes: dict[str, Any] = {}
        risk = form_text("risk", 20)
        category = form_text("category", 40)
        if risk is not None:
            if risk not in labels.RISKS:
                raise ValidationFailed({"risk": "must be one of: " + ", ".join(labels.RISKS)})
            changes["risk"] = risk
        if category is not None:
            if category not in labels.CATEGORIES:
                raise ValidationFailed(
                    {"category": "must be one of: " + ", ".join(labels.CATEGORIES)}
                )
            changes["category"] = category
        if form_flag("victim_facts"):
            victim: dict[str, Any] = {
                "is_minor": form_flag("victim_is_minor"),
                "lacks_capacity": form_flag("victim_lacks_capacity"),
            }
            name = form_text("victim_name", NAME_LIMIT)
            relation = form_text("victim_relation", 100)
            if name:
                victim["name"] = name
            if relation:
                victim["relation"] = relation
            changes["victim"] = victim
        actions.update_case(runtime(), session, me, case_id, _version(), changes)

    return _act(case_id, "reassess", do, _("The case was reassessed; its deadlines were updated."))


@bp.post(CASE + "/clocks/<string(maxlength=40):clock>/suspend")
@roles("supervisor")
def suspend(case_id: int, clock: str) -> Response:
    def do(session: Session, me: Actor) -> None:
        actions.suspend_clock(runtime(), session, me, case_id, clock, _required_text("reason"))

    return _act(case_id, f"suspend-{clock}", do, _("The clock was suspended."))


@bp.post(CASE + "/clocks/<string(maxlength=40):clock>/resume")
@roles("supervisor")
def resume(case_id: int, clock: str) -> Response:
    def do(session: Session, me: Actor) -> None:
        actions.resume_clock(runtime(), session, me, case_id, clock, form_text("reason"))

    return _act(case_id, f"resume-{clock}", do, _("The clock was resumed."))
