"""Administration: stations, users, the holiday calendar, dead letters, access logs."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from web.console.forms import CalendarDayForm, ScheduleForm, StationForm, UserForm
from web.console.messages import translate_fields
from web.console.support import acting, actor, now, roles, runtime
from workflow.errors import ValidationFailed
from workflow.services import admin, outbox

bp = Blueprint("admin", __name__, url_prefix="/admin")

FIRST_YEAR, LAST_YEAR = 1900, 2999
SCHEDULE_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(rest|work)\s*(.*)$")


def _attach(form: Any, fields: dict[str, str], names: dict[str, str] | None = None) -> list[str]:
    loose = []
    for name, message in translate_fields(fields).items():
        field = getattr(form, (names or {}).get(name, name), None)
        if field is None or not hasattr(field, "errors"):
            loose.append(message)
        else:
            field.errors = [*field.errors, message]
    return loose


# -- stations ---------------------------------------------------------------------------------


@bp.route("/stations", methods=["GET", "POST"])
@roles("admin")
def stations() -> Response | tuple[str, int]:
    form = StationForm()
    status = 200
    problems: list[str] = []
    with acting() as (session, me):
        listing = admin.stations_in_scope(session, me)
    form.fill_choices(
        [
            (s["code"], f"{s['code']} · {s['name']}")
            for s in listing
            if s["kind"] in ("district", "town")
        ]
    )
    if request.method == "POST":
        if form.validate():
            try:
                with acting() as (session, _me):
                    admin.create_station(
                        session,
                        form.code.data.strip(),
                        form.name.data.strip(),
                        form.kind.data,
                        form.parent.data or None,
                    )
            except ValidationFailed as refused:
                problems = _attach(form, refused.fields)
                status = 422
            else:
                flash(_("Station %(code)s was added.", code=form.code.data.strip()), "success")
                return redirect(url_for("console.admin.stations"))
        else:
            status = 422
    html = render_template("admin/stations.html", stations=listing, form=form, problems=problems)
    return html, status


# -- users ------------------------------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@roles("admin")
def users() -> Response | tuple[str, int]:
    form = UserForm()
    status = 200
    problems: list[str] = []
    with acting() as (session, me):
        listing = admin.stations_in_scope(session, me)
    form.fill_choices([(s["code"], f"{s['code']} · {s['name']}") for s in listing])
    if request.method == "GET":
        form.language.data = "zh"
    if request.method == "POST":
        if form.validate():
            try:
                with acting() as (session, _me):
                    admin.create_user(
                        session,
                        runtime(),
                        form.username.data.strip(),
                        form.role.data,
                        form.station.data,
                        form.password.data,
                        email=(form.email.data or "").strip() or None,
                        language=form.language.data,
                    )
            except ValidationFailed as refused:
                problems = _attach(form, refused.fields)
                status = 422
            else:
                flash(_("User %(name)s was added.", name=form.username.data.strip()), "success")
                return redirect(url_for("console.admin.users"))
        else:
            status = 422
    with acting() as (session, me):
        accounts = admin.all_users(session, me)
    html = render_template("admin/users.html", users=accounts, form=form, problems=problems)
    return html, status


@bp.post("/users/<string(maxlength=80):username>/deactivate")
@roles("admin")
def deactivate(username: str) -> Response:
    if username == actor().username:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("console.admin.users"))
    with acting() as (session, _me):
        admin.deactivate_user(session, runtime(), username)
    flash(_("%(name)s can no longer sign in.", name=username), "success")
    return redirect(url_for("console.admin.users"))


# -- calendar ---------------------------------------------------------------------------------


def _year() -> int:
    raw = request.values.get("year") or ""
    if raw.isascii() and raw.isdigit() and FIRST_YEAR <= int(raw) <= LAST_YEAR:
        return int(raw)
    return now().astimezone(runtime().tz).year


def _calendar_page(
    year: int,
    day_form: CalendarDayForm,
    schedule_form: ScheduleForm,
    problems: list[str],
    status: int,
) -> tuple[str, int]:
    day_form.fill_choices()
    with acting() as (session, _me):
        view = runtime().calendar(session).year_view(year)
    html = render_template(
        "admin/calendar.html",
        view=view,
        year=year,
        day_form=day_form,
        schedule_form=schedule_form,
        problems=problems,
    )
    return html, status


@bp.get("/calendar")
@roles("admin")
def calendar() -> tuple[str, int]:
    year = _year()
    schedule = ScheduleForm(formdata=None)
    schedule.year.data = str(year)
    return _calendar_page(year, CalendarDayForm(formdata=None), schedule, [], 200)


@bp.post("/calendar/days")
@roles("admin")
def calendar_day() -> Response | tuple[str, int]:
    form = CalendarDayForm()
    form.fill_choices()
    year = _year()
    schedule = ScheduleForm(formdata=None)
    schedule.year.data = str(year)
    if not form.validate():
        return _calendar_page(year, form, schedule, [], 422)
    try:
        day = date.fromisoformat(form.day.data)
    except ValueError:
        form.day.errors = [*form.day.errors, _("Must be a date.")]
        return _calendar_page(year, form, schedule, [], 422)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        form.day.errors = [*form.day.errors, _("Must be a date.")]
        return _calendar_page(year, form, schedule, [], 422)
    with acting() as (session, _me):
        moved = admin.set_calendar_days(
            runtime(), session, [(day, form.kind.data, form.name.data.strip())]
        )
    flash(
        _("%(day)s saved; %(n)d open deadline(s) recomputed.", day=day.isoformat(), n=moved),
        "success",
    )
    return redirect(url_for("console.admin.calendar", year=day.year))


@bp.post("/calendar/schedule")
@roles("admin")
def calendar_schedule() -> Response | tuple[str, int]:
    """A year's whole official schedule, one `YYYY-MM-DD rest|work name` line per day."""
    form = ScheduleForm()
    year = _year()
    day_form = CalendarDayForm(formdata=None)
    if not form.validate():
        return _calendar_page(year, day_form, form, [], 422)
    year = int(form.year.data)
    days: list[tuple[date, str, str]] = []
    for number, line in enumerate(form.days.data.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = SCHEDULE_LINE.match(line)
        problem = None
        if match is None:
            problem = _("Line %(n)d: write “YYYY-MM-DD rest|work name”.", n=number)
        else:
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                problem = _("Line %(n)d: not a date.", n=number)
            else:
                if day.year != year:
                    problem = _("Line %(n)d: the date is not in %(year)d.", n=number, year=year)
                else:
                    days.append((day, match.group(2), match.group(3).strip()[:100]))
        if problem:
            form.days.errors = [*form.days.errors, problem]
    if form.days.errors or not days:
        if not days and not form.days.errors:
            form.days.errors = [_("Write at least one day.")]
        return _calendar_page(year, day_form, form, [], 422)
    with acting() as (session, _me):
        moved = admin.set_calendar_days(runtime(), session, days, official_year=year)
    flash(
        _(
            "The official schedule of %(year)d was saved (%(days)d days); "
            "%(n)d open deadline(s) recomputed.",
            year=year,
            days=len(days),
            n=moved,
        ),
        "success",
    )
    return redirect(url_for("console.admin.calendar", year=year))


# -- dead letters -----------------------------------------------------------------------------


@bp.get("/dead-letters")
@roles("admin")
def dead_letters() -> str:
    with acting() as (session, _me):
        letters = outbox.dead_letters(runtime(), session)
    return render_template("admin/dead_letters.html", letters=letters)


@bp.post("/dead-letters/<id:outbox_id>/retry")
@roles("admin")
def retry(outbox_id: int) -> Response:
    with acting() as (session, _me):
        outbox.retry_dead_letter(runtime(), session, outbox_id)
    flash(_("Handed out again: the work will be retried."), "success")
    return redirect(url_for("console.admin.dead_letters"))


@bp.get("/access-log")
@roles("admin")
def access_lookup() -> Response | str:
    raw = request.args.get("case") or ""
    if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18:
        return redirect(url_for("console.cases.reveals", case_id=int(raw)))
    return render_template("admin/access_lookup.html")
