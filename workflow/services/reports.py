"""The summary report: counts, overdue share and time to acceptance over a date range."""

from __future__ import annotations

import statistics
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session

from workflow.errors import ValidationFailed
from workflow.runtime import Runtime
from workflow.services.actors import Actor, case_scope
from workflow.storage.models import Case, ClockInstance, Station

SECONDS_PER_DAY = 86_400


def _scope(actor: Actor) -> ColumnElement[bool]:
    # Administrators read no case contents, but counts carry none: they see every station.
    return true() if actor.role == "admin" else case_scope(actor)


def _counts(session: Session, where: ColumnElement[bool], *columns: Any) -> list[Any]:
    statement = (
        select(*columns, func.count(Case.id)).where(where).group_by(*columns).order_by(*columns)
    )
    return list(session.execute(statement))


def summary(
    rt: Runtime,
    session: Session,
    actor: Actor,
    start: date,
    end: date,
    station_code: str | None = None,
) -> dict[str, Any]:
    """Cases in the actor's scope whose local `received_at` date lies in [start, end]."""
    if end < start:
        raise ValidationFailed({"to": "must not be before from"})
    conditions = [_scope(actor), Case.received_on >= start, Case.received_on <= end]
    if station_code:
        station = session.scalar(select(Station).where(Station.code == station_code))
        if station is None:
            raise ValidationFailed({"station": "no such station"})
        conditions.append(Case.station_path.startswith(station.path, autoescape=True))
    where = and_(*conditions)
    total = session.scalar(select(func.count(Case.id)).where(where)) or 0

    now = rt.now()
    breached = exists().where(
        ClockInstance.case_id == Case.id,
        or_(
            ClockInstance.status == "breached",
            and_(
                ClockInstance.status == "running",
                ClockInstance.stopped_at.is_(None),
                ClockInstance.due_at <= now,
            ),
        ),
    )
    overdue = session.scalar(select(func.count(Case.id)).where(where, breached)) or 0

    waits = [
        (left - received).total_seconds() / SECONDS_PER_DAY
        for received, left in session.execute(
            select(Case.received_at, Case.first_exit_intake_at).where(
                where, Case.first_exit_intake_at.is_not(None)
            )
        )
        if left is not None
    ]
    closures = _counts(
        session, and_(where, Case.state == "closed"), Case.closed_by, Case.closure_outcome
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "station": station_code,
        "total": total,
        "by_channel": {k: n for k, n in _counts(session, where, Case.channel)},
        "by_category": {k: n for k, n in _counts(session, where, Case.category)},
        "by_state": {k: n for k, n in _counts(session, where, Case.state)},
        "by_closure": [
            {"event": event, "outcome": outcome, "count": n} for event, outcome, n in closures
        ],
        "overdue_share": round(overdue / total, 4) if total else None,
        "median_days_to_acceptance": round(statistics.median(waits), 1) if waits else None,
    }


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The report flattened to (section, key, value) rows, for CSV."""
    rows: list[tuple[str, str, Any]] = [
        ("range", "from", report["from"]),
        ("range", "to", report["to"]),
        ("range", "station", report["station"] or ""),
        ("total", "cases", report["total"]),
    ]
    for section in ("by_channel", "by_category", "by_state"):
        rows += [(section, key, n) for key, n in report[section].items()]
    rows += [
        (
            "by_closure",
            f"{item['event']}:{item['outcome']}" if item["outcome"] else item["event"],
            item["count"],
        )
        for item in report["by_closure"]
    ]
    for key in ("overdue_share", "median_days_to_acceptance"):
        value = report[key]
        rows.append((key, "", "" if value is None else value))
    return rows
