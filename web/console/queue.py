"""Work lists: my queue (nearest deadline first), all cases in scope, the supervisor dashboard."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import Session

from web.console.support import (
    CASE_READERS,
    acting,
    nearest_deadline,
    now,
    overdue_for,
    parse_instant,
    roles,
    runtime,
)
from workflow.errors import ValidationFailed
from workflow.services.actors import Actor
from workflow.services.admin import stations_in_scope
from workflow.services.inbox import escalations
from workflow.services.queries import CaseFilter, list_cases, station_counts, work_queue

bp = Blueprint("queue", __name__)

OPEN_STATES = ("intake", "mediation", "referred", "court")


def open_work(session: Session, me: Actor, station: str | None = None) -> list[dict[str, Any]]:
    """Cases in scope with work left, nearest deadline first (the service orders them)."""
    return work_queue(runtime(), session, me, station=station)


def by_deadline(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nearest deadline first (overdue ones lead); cases without a running clock last."""

    def key(case: dict[str, Any]) -> tuple[int, float, str]:
        due = nearest_deadline(case)
        received = case.get("received_at") or ""
        if due is None:
            return (1, 0.0, received)
        return (0, due.timestamp(), received)

    return sorted(cases, key=key)


def decorate(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each case with its nearest deadline and how long it has been overdue, for the table."""
    at = now()
    rows = []
    for case in cases:
        due = nearest_deadline(case)
        late = overdue_for(case, at)
        clock = None
        if due is not None:
            clock = next(
                (
                    c
                    for c in case["clocks"]
                    if c.get("stopped_at") is None and parse_instant(c["due_at"]) == due
                ),
                None,
            )
        rows.append({"case": case, "due": due, "late": late, "clock": clock})
    return rows


def _station_param(session: Session, me: Actor) -> tuple[str | None, list[dict[str, Any]]]:
    stations = [s for s in stations_in_scope(session, me) if s["kind"] != "court"]
    code = request.args.get("station") or None
    if code is not None and code not in {s["code"] for s in stations}:
        code = None
    return code, stations


@bp.get("/queue")
@roles(*CASE_READERS)
def mine() -> str:
    with acting() as (session, me):
        if me.role == "court_liaison":
            abort(404)  # a liaison's work list is the referral inbox
        station, stations = _station_param(session, me) if me.role == "supervisor" else (None, [])
        cases = open_work(session, me, station)
        mine_ = [c for c in cases if c.get("assignee") and c["assignee"]["id"] == me.id]
        others = [c for c in cases if not (c.get("assignee") and c["assignee"]["id"] == me.id)]
        return render_template(
            "queue/mine.html",
            mine=decorate(mine_),
            others=decorate(others),
            stations=stations,
            station=station,
        )


@bp.get("/cases")
@roles(*CASE_READERS)
def search() -> tuple[str, int] | str:
    args = request.args
    state = args.get("state") or None
    q = (args.get("q") or "").strip()[:100] or None
    overdue = True if args.get("overdue") == "true" else None
    assignee = "me" if args.get("assignee") in ("me", "true") else None
    try:
        page = max(1, min(int(args.get("page", "1")), 100_000))
    except ValueError:
        page = 1
    with acting() as (session, me):
        code, stations = _station_param(session, me)
        if state is not None and state not in (*OPEN_STATES, "closed"):
            state = None
        try:
            found = list_cases(
                runtime(),
                session,
                me,
                CaseFilter(
                    state=state,
                    station=code,
                    overdue=overdue,
                    assignee=assignee,
                    q=q,
                    page=page,
                    per_page=25,
                ),
            )
        except ValidationFailed:
            found = {"items": [], "total": 0, "page": page, "per_page": 25}
        pages = max(1, (found["total"] + 24) // 25)
        return render_template(
            "queue/search.html",
            rows=decorate(found["items"]),
            total=found["total"],
            page=page,
            pages=pages,
            stations=stations,
            filters={
                "state": state or "",
                "station": code or "",
                "q": q or "",
                "overdue": bool(overdue),
                "assignee": assignee or "",
            },
            states=(*OPEN_STATES, "closed"),
        )


@bp.get("/dashboard")
@roles("supervisor")
def dashboard() -> str:
    with acting() as (session, me):
        rt = runtime()
        stations = [s for s in stations_in_scope(session, me) if s["kind"] != "court"]
        counts = station_counts(rt, session, me)
        open_escalations = escalations(rt, session, me)
        escalated_ids = {e["case_id"] for e in open_escalations}
        attention = [
            c for c in work_queue(rt, session, me) if c["overdue"] or c["id"] in escalated_ids
        ]
    by_id = {c["id"]: c for c in attention}
    overdue_by_station: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in attention:
        code = case["station"]["code"] if case.get("station") else "?"
        overdue_by_station[code].append(case)
    rows = [{"station": s, **counts[s["code"]]} for s in stations if s["code"] in counts]
    totals = {key: sum(row[key] for row in rows) for key in ("open", "overdue", "escalated")}
    escalation_rows = []
    for item in open_escalations:
        case = by_id.get(item["case_id"])
        escalation_rows.append({**item, "case": case})
    groups = [
        {"station": s, "rows": decorate(by_deadline(overdue_by_station[s["code"]]))}
        for s in stations
        if overdue_by_station.get(s["code"])
    ]
    return render_template(
        "queue/dashboard.html",
        rows=rows,
        totals=totals,
        escalations=escalation_rows,
        groups=groups,
    )
