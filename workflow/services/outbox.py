"""The outbox: claim committed work, perform it once in effect, and keep dead letters."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    BigInteger,
    Insert,
    Select,
    String,
    Text,
    Update,
    any_,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.runtime import Runtime
from workflow.services import messages, recipients
from workflow.storage.models import Case, Notification, OutboxMessage, Referral, User
from workflow.storage.types import UTCDateTime

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

_OUTBOX = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
_CASES = Case.metadata.tables[Case.__tablename__]
_USERS = User.metadata.tables[User.__tablename__]
_NOTIFICATIONS = Notification.metadata.tables[Notification.__tablename__]
_REFERRALS = Referral.metadata.tables[Referral.__tablename__]


def _ids_in(dialect: str, column: Any, name: str) -> Any:
    """``column IN (ids)``; on PostgreSQL ``= ANY(one array parameter)``: the same statement
    text for any number of ids, so neither SQLAlchemy nor psycopg renders or parses it
    again per call (psycopg caches the parsing of statements of at most 50 parameters)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))


def _claim_statements_sqlite() -> tuple[Select[Any], Update, Update]:
    # One writer at a time on SQLite (BEGIN IMMEDIATE): no SKIP LOCKED to need.
    due = (
        select(_OUTBOX.c.id, _OUTBOX.c.attempts)
        .where(_OUTBOX.c.status == "pending", _OUTBOX.c.available_at <= bindparam("now"))
        .order_by(_OUTBOX.c.available_at, _OUTBOX.c.id)
        .limit(bindparam("limit"))
    )
    ids_in = _ids_in("sqlite", _OUTBOX.c.id, "ids")
    bury = update(_OUTBOX).where(ids_in).values(status="dead")
    # The lease: until it expires no other relay hands the row out again.
    lease = (
        update(_OUTBOX)
        .where(ids_in)
        .values(
            available_at=bindparam("until"),
            lease_until=bindparam("until"),
            attempts=_OUTBOX.c.attempts + 1,
        )
    )
    return due, bury, lease


def _claim_statement_pg() -> Update:
    """Select, lease and bury in one statement: WITH due AS (… SKIP LOCKED) UPDATE … FROM due.

    A row handed out ``MAX_ATTEMPTS`` times becomes a dead letter (and keeps its other
    columns); every other due row is leased: until the lease expires no other relay hands
    it out again. RETURNING gives the new status of each.
    """
    due = (
        select(_OUTBOX.c.id, _OUTBOX.c.attempts)
        .where(_OUTBOX.c.status == "pending", _OUTBOX.c.available_at <= bindparam("now"))
        .order_by(_OUTBOX.c.available_at, _OUTBOX.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    spent = due.c.attempts >= MAX_ATTEMPTS
    until = bindparam("until", type_=UTCDateTime())

    def unless_spent(column: Any, value: Any) -> Any:
        return case((spent, column), else_=value)

    return (
        update(_OUTBOX)
        .where(_OUTBOX.c.id == due.c.id)
        .values(
            status=case((spent, "dead"), else_=_OUTBOX.c.status),
            available_at=unless_spent(_OUTBOX.c.available_at, until),
            lease_until=unless_spent(_OUTBOX.c.lease_until, until),
            attempts=unless_spent(_OUTBOX.c.attempts, _OUTBOX.c.attempts + 1),
        )
        .returning(_OUTBOX.c.id, _OUTBOX.c.status)
    )


_CLAIM_PG = _claim_statement_pg()
_CLAIM_SQLITE = _claim_statements_sqlite()


def claim(rt: Runtime, limit: int = 100) -> list[int]:
    """Lease up to ``limit`` due rows (returned in id order); rows handed out too often
    become dead letters. Core statements built once on a plain connection, not a Session:
    the relay claims on every wake-up, many times a second under load."""
    now = rt.now()
    until = now + timedelta(seconds=rt.settings.outbox_lease_seconds)
    with rt.engine.begin() as connection:
        if rt.is_postgres:
            params = {"now": now, "limit": limit, "until": until}
            rows = connection.execute(_CLAIM_PG, params).all()
            dead = [row.id for row in rows if row.status == "dead"]
            live = sorted(row.id for row in rows if row.status != "dead")
        else:
            due, bury, lease = _CLAIM_SQLITE
            rows = connection.execute(due, {"now": now, "limit": limit}).all()
            dead = [row.id for row in rows if row.attempts >= MAX_ATTEMPTS]
            live = sorted(row.id for row in rows if row.attempts < MAX_ATTEMPTS)
            if dead:
                connection.execute(bury, {"ids": dead})
            if live:
                connection.execute(lease, {"ids": live, "until": until})
    if dead:
        log.warning("outbox: %s message(s) became dead letters", len(dead))
    return live


def record_failure(rt: Runtime, outbox_id: int, reason: str) -> None:
    with rt.sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(last_error=reason[:2000])
        )


# -- performing ------------------------------------------------------------------------

# Built once: a wave performs these thousands of times.
_ROW = select(OutboxMessage).where(OutboxMessage.id == bindparam("outbox_id"))
_ROW_FOR_UPDATE = _ROW.with_for_update()
_MARK_DONE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(status="done", done_at=bindparam("done_at"), lease_until=None)
)
# Only what telling people needs: no sealed columns, no ORM object per case.
_CASE_COLUMNS = ("id", "number", "station_id", "station_path", "assignee_id", "referral_panel_id")


class CaseRow(NamedTuple):
    id: int
    number: str
    station_id: int
    station_path: str
    assignee_id: int | None
    referral_panel_id: int | None


# Notifications as the batch writes them; ``created_at`` is one value per batch.
_NOTIFICATION_COLUMNS = ("user_id", "case_id", "outbox_id", "kind", "message", "link")


@dataclass(frozen=True)
class _BatchStatements:
    """The statements of one transaction per chunk, built once per dialect."""

    pending: Select[Any]
    case_refs: Select[Any]
    deliver_packages: Update
    mark_done: Update
    insert_notifications: Insert
    columnar: bool  # the insert takes one array per column, not a list of rows


def _batch_statements(dialect: str) -> _BatchStatements:
    def ids_in(column: Any, name: str) -> Any:
        return _ids_in(dialect, column, name)

    # The pending rows with their cases and the cases' assignees, in one round trip.
    assignee = _USERS.alias("assignee")
    pending = (
        select(
            _OUTBOX.c.id,
            _OUTBOX.c.case_id,
            _OUTBOX.c.event_id,
            _OUTBOX.c.work,
            _OUTBOX.c.payload,
            *(_CASES.c[name] for name in _CASE_COLUMNS if name != "id"),
            assignee.c.email.label("assignee_email"),
            assignee.c.language.label("assignee_language"),
            assignee.c.active.label("assignee_active"),
        )
        .select_from(
            _OUTBOX.outerjoin(_CASES, _CASES.c.id == _OUTBOX.c.case_id).outerjoin(
                assignee, assignee.c.id == _CASES.c.assignee_id
            )
        )
        .where(ids_in(_OUTBOX.c.id, "ids"), _OUTBOX.c.status == "pending")
        .order_by(_OUTBOX.c.id)
    )
    case_refs = select(*(_CASES.c[name] for name in _CASE_COLUMNS)).where(
        ids_in(_CASES.c.id, "ids")
    )
    deliver_packages = (
        update(_REFERRALS)
        .where(ids_in(_REFERRALS.c.event_id, "event_ids"), _REFERRALS.c.delivered_at.is_(None))
        .values(delivered_at=bindparam("delivered_at"))
    )
    mark_done = (
        update(_OUTBOX)
        .where(ids_in(_OUTBOX.c.id, "row_ids"))
        .values(status="done", done_at=bindparam("done_at"), lease_until=None)
    )
    if dialect == "postgresql":
        # A row another worker holds is left to it: it marks the row done, or its lease
        # expires and the relay hands the row out again.
        pending = pending.with_for_update(skip_locked=True, of=_OUTBOX)
        # INSERT … SELECT FROM unnest(one array per column): one short statement for any
        # number of rows (a multi-row VALUES list grows with them, and psycopg parses a
        # long statement again on every execution).
        types = {"kind": String(), "message": Text(), "link": String()}
        rows = (
            func.unnest(
                *(
                    bindparam(name, type_=ARRAY(types.get(name, BigInteger())))
                    for name in _NOTIFICATION_COLUMNS
                )
            )
            .table_valued(*_NOTIFICATION_COLUMNS)
            .render_derived()
        )
        insert: Insert = (
            pg_insert(_NOTIFICATIONS)
            .from_select(
                [*_NOTIFICATION_COLUMNS, "created_at"],
                select(
                    *(rows.c[name] for name in _NOTIFICATION_COLUMNS),
                    bindparam("created_at", type_=UTCDateTime()),
                ),
            )
            .on_conflict_do_nothing(index_elements=["outbox_id", "user_id"])
        )
        return _BatchStatements(pending, case_refs, deliver_packages, mark_done, insert, True)
    # Executed with a list of rows: with RETURNING, SQLAlchemy's "insertmanyvalues" sends
    # one multi-row INSERT … ON CONFLICT DO NOTHING rather than one per row.
    insert = (
        sqlite_insert(_NOTIFICATIONS)
        .on_conflict_do_nothing(index_elements=["outbox_id", "user_id"])
        .returning(_NOTIFICATIONS.c.id)
    )
    return _BatchStatements(pending, case_refs, deliver_packages, mark_done, insert, False)


_BATCH = {name: _batch_statements(name) for name in ("postgresql", "sqlite")}


class Mail(NamedTuple):
    to: str
    subject: str
    body: str
    idempotency_key: str


@dataclass
class Effects:
    """What performing rows writes and sends, collected so a batch does each in one go."""

    created_at: datetime
    # (user_id, case_id, outbox_id, kind, message, link), as _NOTIFICATION_COLUMNS.
    notifications: list[tuple[int, int, int, str, str, str]] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)

    def apply(self, session: Session, ports: Ports) -> None:
        """Insert the notifications in one statement, then send the mail (before commit:
        a failed send rolls the rows back, and a retry sends with the same keys)."""
        if self.notifications:
            statements = _BATCH[session.get_bind().dialect.name]
            if statements.columnar:
                columns = zip(*self.notifications, strict=True)
                params: dict[str, Any] = dict(
                    zip(_NOTIFICATION_COLUMNS, map(list, columns), strict=True)
                )
                params["created_at"] = self.created_at
                session.execute(statements.insert_notifications, params)
            else:
                rows = [
                    {
                        **dict(zip(_NOTIFICATION_COLUMNS, row, strict=True)),
                        "created_at": self.created_at,
                    }
                    for row in self.notifications
                ]
                session.execute(statements.insert_notifications, rows)
        if ports.mailer is not None:
            for mail in self.mails:
                ports.mailer.send(
                    mail.to, mail.subject, mail.body, idempotency_key=mail.idempotency_key
                )


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


def perform_batch(
    rt: Runtime,
    ids: Iterable[int],
    ports: Ports,
    *,
    retry_on: tuple[type[BaseException], ...] = (),
) -> dict[int, str]:
    """Perform a chunk of rows in one transaction; if that fails, each row on its own.

    Returns each id's outcome: ``done``, ``skipped`` (not pending any more, or held by
    another worker), ``failed`` (recorded on the row) or ``retry``. The fast path locks
    the pending rows in one statement, resolves recipients once per distinct question,
    inserts every notification in one statement and marks every row done in one. When
    anything in it raises, the whole chunk rolls back and each row is performed by
    ``perform`` in its own transaction, so one bad row fails alone (see ``perform_each``).
    """
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        return {}
    try:
        return _perform_together(rt, ids, ports)
    except Exception:  # noqa: BLE001 - whatever it was, the rows are tried one by one
        log.warning(
            "outbox: a batch of %s row(s) failed; performing each on its own",
            len(ids),
            exc_info=True,
        )
    return perform_each(rt, ids, ports, retry_on=retry_on)


def perform_each(
    rt: Runtime,
    ids: Iterable[int],
    ports: Ports,
    *,
    retry_on: tuple[type[BaseException], ...] = (),
) -> dict[int, str]:
    """Perform rows one transaction each; a failure is recorded on its row alone.

    An error of a ``retry_on`` class (the infrastructure) is raised once every other row
    had its turn, so the caller retries (rows done meanwhile are skipped then); any other
    error is an answer about that row: recorded in ``last_error``, and its lease hands
    the row out again until it becomes a dead letter.
    """
    outcomes: dict[int, str] = {}
    deferred: BaseException | None = None
    for outbox_id in ids:
        try:
            outcomes[outbox_id] = perform(rt, outbox_id, ports)
        except retry_on as exc:
            outcomes[outbox_id] = "retry"
            deferred = deferred or exc
        except Exception as exc:  # noqa: BLE001 - recorded on the row; others go on
            log.exception("outbox %s failed", outbox_id)
            record_failure(rt, outbox_id, f"{type(exc).__name__}: {exc}")
            outcomes[outbox_id] = "failed"
    if deferred is not None:
        raise deferred
    return outcomes


def _perform_together(rt: Runtime, ids: list[int], ports: Ports) -> dict[int, str]:
    outcomes = dict.fromkeys(ids, "skipped")
    statements = _BATCH[rt.engine.dialect.name]
    with rt.sessions() as session, session.begin():
        rows = session.execute(statements.pending, {"ids": ids}).all()
        if not rows:
            return outcomes
        for row in rows:
            if row.work not in HANDLERS:
                raise ValueError(f"unknown work {row.work!r}")
        resolver = recipients.Resolver(session)
        cases: dict[int, CaseRow] = {}
        for row in rows:
            if row.number is None or row.case_id in cases:
                continue  # no such case (any more), or seen already
            cases[row.case_id] = CaseRow(
                row.case_id,
                row.number,
                row.station_id,
                row.station_path,
                row.assignee_id,
                row.referral_panel_id,
            )
            if row.assignee_id is not None:
                active = row.assignee_active
                found = recipients.Recipient(
                    row.assignee_id, row.assignee_email, row.assignee_language
                )
                resolver.know(row.assignee_id, found if active else None)
        notify = [row for row in rows if row.work == "notify"]
        resolver.prefetch(
            (cases[row.case_id], row.payload.get("to", []), row.payload.get("panel_id"))
            for row in notify
            if row.case_id in cases
        )
        now = rt.now()
        effects = Effects(now)
        packages: list[int] = []
        for row in rows:
            if row.work == "notify":
                case = cases.get(row.case_id)
                if case is not None:
                    _plan_notify(rt, resolver, row.id, row.payload, case, ports, effects)
            elif row.work == "referral_package":
                if row.event_id is not None:
                    packages.append(row.event_id)
            else:
                # Rarer work (an SMS) runs its handler on the ORM row, as `perform` does.
                orm_row = session.get(OutboxMessage, row.id)  # locked by this transaction
                if orm_row is None:
                    raise LookupError(f"outbox row {row.id} vanished")
                HANDLERS[row.work](rt, session, orm_row, ports)
        if packages:
            params = {"event_ids": packages, "delivered_at": now}
            session.execute(statements.deliver_packages, params)
        effects.apply(session, ports)
        done = [row.id for row in rows]
        session.execute(statements.mark_done, {"row_ids": done, "done_at": now})
    outcomes.update(dict.fromkeys(done, "done"))
    return outcomes


def _case_refs(
    session: Session, statements: _BatchStatements, case_ids: set[int]
) -> dict[int, Any]:
    if not case_ids:
        return {}
    rows = session.execute(statements.case_refs, {"ids": list(case_ids)})
    return {case.id: case for case in rows}


def _message_for(rt: Runtime, payload: dict[str, Any], number: str, language: str) -> str:
    if payload.get("step"):
        due = local_deadline_text(payload.get("due_at", ""), rt.tz)
        return messages.step_message(language, number, payload["clock"], payload["step"], due)
    if payload.get("reason") == "emergency":
        return messages.event_message(language, number, "emergency")
    return messages.event_message(language, number, payload.get("event", ""))


def local_deadline_text(due_at: str, tz: Any) -> str:
    """A deadline as people say it: the end of a day is "24:00" of that day, not "00:00"."""
    try:
        local = datetime.fromisoformat(due_at).astimezone(tz)
    except ValueError:
        return due_at
    if local.hour == 0 and local.minute == 0:
        return f"{(local - timedelta(days=1)).strftime('%Y-%m-%d')} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def _plan_notify(
    rt: Runtime,
    resolver: recipients.Resolver,
    outbox_id: int,
    payload: dict[str, Any],
    case: Any,
    ports: Ports,
    effects: Effects,
) -> None:
    """One notification per recipient (never the actor), and mail where asked for."""
    users = resolver.resolve(case, payload.get("to", []), payload.get("panel_id"))
    link = f"{rt.settings.base_url}/cases/{case.id}"
    kind = payload.get("step") or payload.get("reason") or payload.get("event", "event")
    actor_id = payload.get("actor_id")
    mail = bool(payload.get("email")) and ports.mailer is not None
    texts: dict[str, str] = {}
    for user in users:
        if user.id == actor_id:
            continue  # never to the actor
        message = texts.get(user.language)
        if message is None:
            message = texts[user.language] = _message_for(rt, payload, case.number, user.language)
        effects.notifications.append((user.id, case.id, outbox_id, kind, message, link))
        if mail and user.email:
            effects.mails.append(
                Mail(
                    user.email,
                    messages.email_subject(user.language, case.number),
                    f"{message}\n\n{link}\n",
                    f"carnation-outbox-{outbox_id}-user-{user.id}",
                )
            )


def _notify(rt: Runtime, session: Session, row: OutboxMessage, ports: Ports) -> None:
    if row.case_id is None:
        return
    statements = _BATCH[session.get_bind().dialect.name]
    case = _case_refs(session, statements, {row.case_id}).get(row.case_id)
    if case is None:
        return
    effects = Effects(rt.now())
    resolver = recipients.Resolver(session)
    _plan_notify(rt, resolver, row.id, row.payload, case, ports, effects)
    effects.apply(session, ports)


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
