"""The outbox: claim committed work, perform it once in effect, and keep dead letters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.runtime import Runtime
from workflow.services import messages, recipients
from workflow.storage.models import Case, Notification, OutboxMessage, Referral, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str, idempotency_key: str) -> None: ...


class SmsGateway(Protocol):
    def send(self, to: str, message: str, idempotency_key: str) -> None: ...


@dataclass
class Ports:
    """The outside world the work reaches; absent ports mean the channel is off."""

    mailer: Mailer | None = None
    sms: SmsGateway | None = None
    wake: Callable[[], None] = field(default=lambda: None)


# -- claiming --------------------------------------------------------------------------


def claim(rt: Runtime, limit: int = 100) -> list[int]:
    """Lease up to ``limit`` due rows; rows handed out too often become dead letters."""
    now = rt.now()
    lease = timedelta(seconds=rt.settings.outbox_lease_seconds)
    with rt.sessions() as session, session.begin():
        statement = (
            select(OutboxMessage.id, OutboxMessage.attempts)
            .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= now)
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(limit)
        )
        if rt.is_postgres:
            statement = statement.with_for_update(skip_locked=True)
        rows = session.execute(statement).all()
        dead = [row.id for row in rows if row.attempts >= MAX_ATTEMPTS]
        live = [row.id for row in rows if row.attempts < MAX_ATTEMPTS]
        if dead:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(dead)).values(status="dead")
            )
            log.warning("outbox: %s message(s) became dead letters", len(dead))
        if live:
            # The lease: until it expires no other relay hands the row out again.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(live))
                .values(
                    available_at=now + lease,
                    lease_until=now + lease,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
        return live


def record_failure(rt: Runtime, outbox_id: int, reason: str) -> None:
    with rt.sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(last_error=reason[:2000])
        )


# -- performing ------------------------------------------------------------------------


# Built once: one task per outbox row runs these, thousands of times in a wave.
_ROW = select(OutboxMessage).where(OutboxMessage.id == bindparam("outbox_id"))
_ROW_FOR_UPDATE = _ROW.with_for_update()
_OUTBOX = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
_MARK_DONE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(status="done", done_at=bindparam("done_at"), lease_until=None)
)
_NOTIFICATIONS = Notification.metadata.tables[Notification.__tablename__]
_INSERT_NOTIFICATION = {
    name: insert_fn(_NOTIFICATIONS)
    .on_conflict_do_nothing(index_elements=["outbox_id", "user_id"])
    .returning(_NOTIFICATIONS.c.id)
    for name, insert_fn in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def perform(rt: Runtime, outbox_id: int, ports: Ports) -> str:
    """Make the row's effect and mark it done in one transaction; a second run is a no-op."""
    with rt.sessions() as session, session.begin():
        statement = _ROW_FOR_UPDATE if rt.is_postgres else _ROW
        row = session.scalar(statement, {"outbox_id": outbox_id})
        if row is None or row.status != "pending":
            return "skipped"
        handler = HANDLERS.get(row.work)
        if handler is None:
            raise ValueError(f"unknown work {row.work!r}")
        handler(rt, session, row, ports)
        # A prebuilt UPDATE rather than a unit-of-work flush of the loaded row.
        session.execute(_MARK_DONE, {"row_id": row.id, "done_at": rt.now()})
        return "done"


def _insert_notification(session: Session, values: dict[str, Any]) -> bool:
    statement = _INSERT_NOTIFICATION[session.get_bind().dialect.name]
    return session.execute(statement, values).first() is not None


def _message_for(rt: Runtime, row: OutboxMessage, case: Case, user: User) -> str:
    payload = row.payload
    if payload.get("step"):
        due = local_deadline_text(payload.get("due_at", ""), rt.tz)
        return messages.step_message(
            user.language, case.number, payload["clock"], payload["step"], due
        )
    if payload.get("reason") == "emergency":
        return messages.event_message(user.language, case.number, "emergency")
    return messages.event_message(user.language, case.number, payload.get("event", ""))


def local_deadline_text(due_at: str, tz: Any) -> str:
    """A deadline as people say it: the end of a day is "24:00" of that day, not "00:00"."""
    try:
        local = datetime.fromisoformat(due_at).astimezone(tz)
    except ValueError:
        return due_at
    if local.hour == 0 and local.minute == 0:
        return f"{(local - timedelta(days=1)).strftime('%Y-%m-%d')} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def _notify(rt: Runtime, session: Session, row: OutboxMessage, ports: Ports) -> None:
    case = session.get(Case, row.case_id)
    if case is None:
        return
    payload = row.payload
    users = recipients.resolve(session, case, payload.get("to", []), payload.get("panel_id"))
    link = f"{rt.settings.base_url}/cases/{case.id}"
    kind = payload.get("step") or payload.get("reason") or payload.get("event", "event")
    for user in users:
        if user.id == payload.get("actor_id"):
            continue  # never to the actor
        message = _message_for(rt, row, case, user)
        _insert_notification(
            session,
            {
                "user_id": user.id,
                "case_id": case.id,
                "outbox_id": row.id,
                "kind": kind,
                "message": message,
                "link": link,
                "created_at": rt.now(),
            },
        )
        if payload.get("email") and user.email and ports.mailer is not None:
            ports.mailer.send(
                user.email,
                messages.email_subject(user.language, case.number),
                f"{message}\n\n{link}\n",
                idempotency_key=f"carnation-outbox-{row.id}-user-{user.id}",
            )


def _referral_package(rt: Runtime, session: Session, row: OutboxMessage, ports: Ports) -> None:
    referral = session.scalar(select(Referral).where(Referral.event_id == row.event_id))
    if referral is not None and referral.delivered_at is None:
        referral.delivered_at = rt.now()


def _sms_complainant(rt: Runtime, session: Session, row: OutboxMessage, ports: Ports) -> None:
    case = session.get(Case, row.case_id)
    if case is None or ports.sms is None:
        return
    facts = (case.facts or {}).get("complainant") or {}
    if not facts.get("consents_to_sms"):
        return  # without her consent nothing is sent to her
    identity = rt.sealer.open_json(case.complainant_sealed) or {}
    number = identity.get("safe_phone") or identity.get("phone")
    if not number:
        return
    ports.sms.send(
        number,
        messages.event_message("zh", case.number, row.payload.get("event", "")),
        idempotency_key=f"carnation-outbox-{row.id}",
    )


HANDLERS: dict[str, Callable[[Runtime, Session, OutboxMessage, Ports], None]] = {
    "notify": _notify,
    "referral_package": _referral_package,
    "sms_complainant": _sms_complainant,
}


# -- dead letters and metrics --------------------------------------------------------------


def dead_letters(rt: Runtime, session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "dead").order_by(OutboxMessage.id)
    )
    return [
        {
            "id": r.id,
            "case_id": r.case_id,
            "work": r.work,
            "attempts": r.attempts,
            "created_at": r.created_at.isoformat(),
            "last_error": r.last_error,
        }
        for r in rows
    ]


def retry_dead_letter(rt: Runtime, session: Session, outbox_id: int) -> None:
    row = session.get(OutboxMessage, outbox_id)
    if row is None or row.status != "dead":
        raise NotFound("no such dead letter")
    row.status = "pending"
    row.attempts = 0
    row.available_at = rt.now()
    row.lease_until = None


def outbox_depth(session: Session) -> tuple[int, float]:
    """Pending rows and the age in seconds of the oldest (for metrics)."""
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == "pending"
        )
    ).one()
    return count, oldest.timestamp() if oldest else 0.0
