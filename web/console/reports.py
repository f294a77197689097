"""The summary report: counts by channel, category, state and closure, as SVG bars and CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from web.console import labels
from web.console.messages import translate_fields
from web.console.support import acting, now, roles, runtime
from workflow.errors import ValidationFailed
from workflow.services.admin import stations_in_scope
from workflow.services.reports import summary, summary_rows

bp = Blueprint("reports", __name__, url_prefix="/reports")

REPORT_ROLES = ("caseworker", "supervisor", "admin")
DEFAULT_DAYS = 90
BAR_WIDTH = 200  # the longest bar, in SVG user units


def _day(name: str, default: date) -> tuple[date, str | None]:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return default, name


def _params() -> tuple[date, date, str | None, list[str]]:
    today = now().astimezone(runtime().tz).date()
    start, bad_start = _day("from", today - timedelta(days=DEFAULT_DAYS - 1))
    end, bad_end = _day("to", today)
    station = (request.args.get("station") or "").strip()[:32] or None
    return start, end, station, [n for n in (bad_start, bad_end) if n]


def bars(counts: dict[str, int], table: Any) -> dict[str, Any]:
    """Rows of a horizontal bar chart: label, count and bar length (longest = BAR_WIDTH)."""
    top = max(counts.values(), default=0)
    rows = [
        {
            "label": labels.label(table, key) if table is not None else str(key),
            "count": count,
            "width": round(BAR_WIDTH * count / top) if top else 0,
            "y": index * 28,
        }
        for index, (key, count) in enumerate(
            sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        )
    ]
    return {"rows": rows, "height": max(len(rows), 1) * 28, "bar_width": BAR_WIDTH}


def _closures(report: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in report["by_closure"]:
        name = labels.label(labels.EVENTS, item["event"])
        if item["outcome"]:
            name = f"{name}: {labels.label(labels.ENUM_VALUES, item['outcome'])}"
        out[name] = out.get(name, 0) + item["count"]
    return out


@bp.get("")
@roles(*REPORT_ROLES)
def index() -> tuple[str, int]:
    start, end, station, bad = _params()
    errors: dict[str, str] = {name: _("Must be a date.") for name in bad}
    report = None
    with acting() as (session, me):
        stations = [s for s in stations_in_scope(session, me) if s["kind"] != "court"]
        if not errors:
            try:
                report = summary(runtime(), session, me, start, end, station)
            except ValidationFailed as refused:
                errors = translate_fields(refused.fields)
    charts = None
    if report is not None:
        charts = [
            (_("By channel"), bars(report["by_channel"], labels.CHANNELS)),
            (_("By category"), bars(report["by_category"], labels.CATEGORIES)),
            (_("By state"), bars(report["by_state"], labels.STATES)),
            (_("Closures"), bars(_closures(report), None)),
        ]
    html = render_template(
        "reports/index.html",
        report=report,
        charts=charts,
        stations=stations,
        params={"from": start.isoformat(), "to": end.isoformat(), "station": station or ""},
        errors=errors,
    )
    return html, 422 if errors else 200


@bp.get("/summary.csv")
@roles(*REPORT_ROLES)
def csv_export() -> Response:
    start, end, station, bad = _params()
    if bad:
        raise ValidationFailed({name: "must be a date (YYYY-MM-DD)" for name in bad})
    with acting() as (session, me):
        report = summary(runtime(), session, me, start, end, station)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "key", "value"])
    writer.writerows(summary_rows(report))
    filename = f"summary-{report['from']}-{report['to']}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM, so spreadsheet programs read the Chinese right
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
