"""Figures for monitoring, read from the database so every process reports the same truth."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflow.runtime import Runtime
from workflow.storage.models import CaseEvent, ClockInstance, EscalationStep, OutboxMessage


@dataclass(frozen=True)
class Figures:
    events_by_type: dict[str, int]
    outbox_pending: int
    outbox_oldest_age_seconds: float
    outbox_dead: int
    outbox_failed_attempts: int
    clocks_running: int
    clocks_breached: int
    clocks_due_steps: int
    escalations_by_step: dict[str, int]


def read_figures(rt: Runtime, session: Session) -> Figures:
    now = rt.now()
    events = dict(
        session.execute(select(CaseEvent.type, func.count()).group_by(CaseEvent.type)).all()
    )
    pending, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == "pending"
        )
    ).one()
    dead = session.scalar(select(func.count()).where(OutboxMessage.status == "dead")) or 0
    failed = session.scalar(select(func.count()).where(OutboxMessage.last_error.is_not(None))) or 0
    open_clock = ClockInstance.stopped_at.is_(None)
    running = session.scalar(
        select(func.count()).where(open_clock, ClockInstance.status.in_(("running", "suspended")))
    )
    breached = session.scalar(
        select(func.count()).where(
            open_clock,
            or_(
                ClockInstance.status == "breached",
                and_(ClockInstance.status == "running", ClockInstance.due_at <= now),
            ),
        )
    )
    due_steps = session.scalar(
        select(func.count()).where(
            ClockInstance.next_step_at.is_not(None), ClockInstance.next_step_at <= now
        )
    )
    steps = dict(
        session.execute(
            select(EscalationStep.step, func.count()).group_by(EscalationStep.step)
        ).all()
    )
    return Figures(
        events_by_type={str(k): int(v) for k, v in events.items()},
        outbox_pending=int(pending or 0),
        outbox_oldest_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        outbox_dead=int(dead),
        outbox_failed_attempts=int(failed),
        clocks_running=int(running or 0),
        clocks_breached=int(breached or 0),
        clocks_due_steps=int(due_steps or 0),
        escalations_by_step={str(k): int(v) for k, v in steps.items()},
    )
