"""The SQLAlchemy models: every table of Carnation, with the indexes its queries use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workflow.storage.types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    # Materialized path "/D01/T03/V012/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(400))
    level: Mapped[int] = mapped_column(Integer)
    # Subtree queries are prefix matches (LIKE '/D01/T03/%'): on PostgreSQL only a
    # pattern_ops index serves them under a non-C collation.
    __table_args__ = (
        Index("ix_stations_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)


class WorkflowVersion(Base):
    __tablename__ = "workflow_versions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    source: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseSequence(Base):
    """The last case number given per station and local year."""

    __tablename__ = "case_sequences"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # The station's materialized path, copied so a supervisor's scope is one prefix match.
    station_path: Mapped[str] = mapped_column(String(400))
    workflow_key: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    risk: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Personal data, sealed (workflow.crypto): never plaintext in the database.
    complainant_sealed: Mapped[str | None] = mapped_column(Text)
    victim_sealed: Mapped[str | None] = mapped_column(Text)
    respondent_sealed: Mapped[str | None] = mapped_column(Text)
    summary_sealed: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(64))
    id_number_index: Mapped[str | None] = mapped_column(String(64))
    # Facts without identity (is_minor, lacks_capacity, consents_to_sms, relations).
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType)
    session_count: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    referral_kind: Mapped[str | None] = mapped_column(String(40))
    referral_panel_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    closed_by: Mapped[str | None] = mapped_column(String(40))
    closure_outcome: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreement_effective_on: Mapped[date | None] = mapped_column(Date)
    first_exit_intake_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_on: Mapped[date] = mapped_column(Date)  # local date, for reports
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_cases_station_received", "station_id", "received_at", "id"),
        Index(
            "ix_cases_station_path",
            "station_path",
            "received_at",
            postgresql_ops={"station_path": "varchar_pattern_ops"},
        ),
        Index("ix_cases_received", "received_at", "id"),
        # A state filter (`list_cases`) walks this in page order; without it, a rare
        # state meant reading through every other case received since.
        Index("ix_cases_state_received", "state", "received_at", "id"),
        Index("ix_cases_assignee", "assignee_id", "state"),
        Index("ix_cases_registered_by", "registered_by_id"),
        Index("ix_cases_phone_index", "phone_index"),
        Index("ix_cases_id_number_index", "id_number_index"),
        Index("ix_cases_received_on", "received_on"),
    )


class CaseEvent(Base):
    """One timeline entry; ``data`` holds no personal data, ``sealed`` holds the rest."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sealed: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)


class Referral(Base):
    """Every referral of a case to a panel: a liaison's scope and inbox."""

    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    kind: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # awaiting | acknowledged | returned | ...
    # Set by the background work that prepares the package and tells the liaisons.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_referrals_panel_status", "panel_id", "status", "referred_at"),)


class ClockInstance(Base):
    __tablename__ = "clocks"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # running|suspended|met|breached|stopped
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unit: Mapped[str] = mapped_column(String(20))
    length: Mapped[int] = mapped_column(Integer)
    last_day: Mapped[date | None] = mapped_column(Date)
    computation: Mapped[dict[str, Any]] = mapped_column(JSONType)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_seconds: Mapped[int] = mapped_column(Integer, default=0)
    opened_by_event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    # The next ladder step and when it is due: the sweep claims through this index,
    # so its cost grows with what is due, not with the number of open cases.
    next_step: Mapped[str | None] = mapped_column(String(20))
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_clocks_case_status", "case_id", "status"),
        Index(
            "ix_clocks_due_steps",
            "next_step_at",
            postgresql_where=text("next_step_at IS NOT NULL"),
            sqlite_where=text("next_step_at IS NOT NULL"),
        ),
    )


class EscalationStep(Base):
    """A ladder step that fired: the unique key makes each step happen once."""

    __tablename__ = "escalation_steps"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("clocks.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("clock_id", "step", name="uq_escalation_steps_clock_step"),)


class OutboxMessage(Base):
    """Background work committed with the transition that caused it (ids only, no PII)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    work: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|done|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "available_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_outbox_status", "status"),
    )


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("outbox_id", "user_id", name="uq_notifications_outbox_user"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    fields: Mapped[list[str]] = mapped_column(JSONType)
    channel: Mapped[str] = mapped_column(String(20))  # api | console | referral_package
    address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarDay(Base):
    """A day of an official schedule or an administrator's correction."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # rest | work
    name: Mapped[str] = mapped_column(String(100))


class CalendarYear(Base):
    """A year whose whole official schedule an administrator loaded."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
