"""A user's in-app notifications and the open escalations in their scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.runtime import Runtime
from workflow.services.actors import Actor, case_scope, require_case_reader
from workflow.services.views import iso
from workflow.storage.models import Case, ClockInstance, EscalationStep, Notification

NOTIFICATION_PAGE = 200


def notifications(
    rt: Runtime,
    session: Session,
    actor: Actor,
    unread_only: bool = False,
    limit: int = NOTIFICATION_PAGE,
) -> list[dict[str, Any]]:
    statement = select(Notification).where(Notification.user_id == actor.id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    rows = session.scalars(statement.order_by(Notification.id.desc()).limit(limit))
    return [
        {
            "id": n.id,
            "case_id": n.case_id,
            "kind": n.kind,
            "message": n.message,
            "link": n.link,
            "created_at": iso(n.created_at),
            "read_at": iso(n.read_at),
        }
        for n in rows
    ]


def unread_count(session: Session, actor: Actor) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(rt: Runtime, session: Session, actor: Actor, notification_id: int) -> dict[str, Any]:
    row = session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == actor.id
        )
    )
    if row is None:
        raise NotFound("no such notification")
    if row.read_at is None:
        row.read_at = rt.now()
    return {"id": row.id, "read_at": iso(row.read_at)}


def mark_all_read(rt: Runtime, session: Session, actor: Actor) -> None:
    session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=rt.now())
    )


def escalations(rt: Runtime, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Open escalations (breached, not stopped, level ≥ 1) of cases in the actor's scope."""
    require_case_reader(actor)
    last_step = (
        select(EscalationStep.clock_id, func.max(EscalationStep.fired_at).label("escalated_at"))
        .where(EscalationStep.step != "reminder")
        .group_by(EscalationStep.clock_id)
        .subquery()
    )
    rows = session.execute(
        select(ClockInstance, Case.number, Case.station_id, last_step.c.escalated_at)
        .join(Case, Case.id == ClockInstance.case_id)
        .join(last_step, last_step.c.clock_id == ClockInstance.id)
        .where(
            case_scope(actor),
            ClockInstance.stopped_at.is_(None),
            ClockInstance.escalation_level > 0,
        )
        .order_by(ClockInstance.escalation_level.desc(), ClockInstance.due_at)
    ).all()
    return [
        {
            "case_id": clock.case_id,
            "number": number,
            "clock": clock.name,
            "level": clock.escalation_level,
            "due_at": iso(clock.due_at),
            "escalated_at": iso(escalated_at),
        }
        for clock, number, _station_id, escalated_at in rows
    ]
