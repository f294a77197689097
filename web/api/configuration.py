"""The active workflow definition and the work calendar (read by all, corrected by admins)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response

from web.api.support import acting, body, reply, runtime
from web.openapi import documented
from web.schemas import CalendarDayRequest, parse_day
from workflow.definition import ClockDef, EventDef, FieldSpec, WorkflowDefinition
from workflow.errors import ValidationFailed
from workflow.services.admin import require_admin, set_calendar_days

bp = Blueprint("configuration", __name__, url_prefix="/api/v1")

# Years the calendar answers for: wide enough for any case, narrow enough for date math.
FIRST_YEAR, LAST_YEAR = 1900, 2999


def _condition(when: Mapping[str, tuple[object, ...]]) -> dict[str, list[object]]:
    return {key: list(values) for key, values in when.items()}


def _field(spec: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": spec.type, "required": spec.required}
    if spec.enum is not None:
        out["enum"] = list(spec.enum)
    if spec.min is not None:
        out["min"] = spec.min
    if spec.max is not None:
        out["max"] = spec.max
    return out


def _event(event: EventDef) -> dict[str, Any]:
    return {
        "name": event.name,
        "from": list(event.sources),
        "to": event.dest,
        "internal": event.internal,
        "roles": sorted(event.roles),
        "data": {name: _field(spec) for name, spec in event.data.items()},
        "guards": list(event.guards),
    }


def _clock(clock: ClockDef) -> dict[str, Any]:
    return {
        "name": clock.name,
        "opens_on": [{"on": t.on, "when": _condition(t.when)} for t in clock.opens_on],
        "met_by": [{"on": t.on, "when": _condition(t.when)} for t in clock.met_by],
        "runs_in": clock.runs_in,
        "lengths": [
            {"when": _condition(rule.when), "unit": rule.unit, "length": rule.length}
            for rule in clock.lengths
        ],
        "until": clock.until,
        "reminder_days_before": clock.reminder_days_before,
        "suspendable": clock.suspendable,
        "extendable_by": clock.extendable_by,
        "court": clock.court,
        "once": clock.once,
        "basis": clock.basis,
    }


def definition_json(definition: WorkflowDefinition) -> dict[str, Any]:
    return {
        "key": definition.key,
        "name": definition.name,
        "version": definition.version,
        "initial": definition.initial,
        "roles": sorted(definition.roles),
        "states": [
            {"name": s.name, "label": dict(s.label), "final": s.final}
            for s in definition.states.values()
        ],
        "events": [_event(e) for e in definition.events.values()],
        "clocks": [_clock(c) for c in definition.clocks.values()],
        "outcomes": {
            kind: {event: list(values) for event, values in by_event.items()}
            for kind, by_event in definition.outcomes.items()
        },
        "mandatory_report_categories": sorted(definition.mandatory_report_categories),
    }


@bp.get("/workflow")
@documented("The active workflow definition: states, events, clocks")
def workflow() -> Response:
    rt = runtime()
    with acting() as (session, _actor):
        return reply(definition_json(rt.active_workflow(session).definition))


@bp.get("/calendar/<int:year>")
@documented("A year's rest days and adjusted working days; official or provisional")
def calendar_year(year: int) -> Response:
    rt = runtime()
    with acting() as (session, _actor):
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationFailed({"year": f"between {FIRST_YEAR} and {LAST_YEAR}"})
        view = rt.calendar(session).year_view(year)
        return reply(
            {
                "year": view.year,
                "status": view.status,
                "rest_days": [{"date": d.isoformat(), "name": n} for d, n in view.rest_days],
                "working_days": [{"date": d.isoformat(), "name": n} for d, n in view.working_days],
            }
        )


@bp.put("/calendar/days/<string(maxlength=40):day>")
@documented(
    "Correct one day of the calendar (admin); open clocks are recomputed", body=CalendarDayRequest
)
def calendar_day(day: str) -> Response:
    rt = runtime()
    with acting() as (session, actor):
        change = body(CalendarDayRequest)
        require_admin(actor)
        try:
            when = parse_day(day)
        except ValueError:
            raise ValidationFailed({"date": "must be a date (YYYY-MM-DD)"}) from None
        if not FIRST_YEAR <= when.year <= LAST_YEAR:
            raise ValidationFailed({"date": f"a year between {FIRST_YEAR} and {LAST_YEAR}"})
        moved = set_calendar_days(rt, session, [(when, change.kind, change.name)])
        return reply(
            {
                "date": when.isoformat(),
                "kind": change.kind,
                "name": change.name,
                "recomputed": moved,
            }
        )
