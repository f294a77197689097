"""The composition root: settings → engine, sessions, sealer, clock, definitions, calendar."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from workflow.calendar import CalendarOverride, DayKind, WorkCalendar
from workflow.clock import Clock, SystemClock
from workflow.crypto import Sealer
from workflow.definition import WorkflowDefinition, load_definition, parse_definition
from workflow.machine import CompiledWorkflow, compile_workflow
from workflow.services.views import Directory
from workflow.storage.db import make_engine, make_session_factory
from workflow.storage.models import CalendarDay, CalendarYear, WorkflowVersion

CALENDAR_TTL_SECONDS = 30.0


@dataclass
class Runtime:
    """Everything a service call needs, built once per process from the settings."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    sealer: Sealer
    clock: Clock
    _definitions: dict[str, CompiledWorkflow] = field(default_factory=dict)
    _active_key: str | None = None
    _calendar: WorkCalendar | None = None
    _calendar_loaded: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _outbox_listeners: list[Callable[[], None]] = field(default_factory=list)
    directory: Directory = field(default_factory=Directory)

    def __post_init__(self) -> None:
        @event.listens_for(self.sessions, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop("outbox_written", False):
                for listener in list(self._outbox_listeners):
                    listener()

        @event.listens_for(self.sessions, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop("outbox_written", None)

    def on_outbox_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that wrote outbox rows (in this process)."""
        self._outbox_listeners.append(listener)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def now(self):  # noqa: ANN201 - a datetime; kept short for the hot path
        return self.clock.now()

    # -- workflow definitions -------------------------------------------------
    def workflow(self, key: str, session: Session | None = None) -> CompiledWorkflow:
        """The compiled machine of definition ``key`` (compiled once per process)."""
        compiled = self._definitions.get(key)
        if compiled is not None:
            return compiled
        with self._lock:
            compiled = self._definitions.get(key)
            if compiled is None:
                source = self._definition_source(key, session)
                compiled = compile_workflow(parse_definition(source, key))
                self._definitions[key] = compiled
            return compiled

    def _definition_source(self, key: str, session: Session | None) -> str:
        def read(s: Session) -> str | None:
            return s.scalar(select(WorkflowVersion.source).where(WorkflowVersion.key == key))

        if session is not None:
            source = read(session)
        else:
            with self.sessions() as fresh:
                source = read(fresh)
        if source is None:
            raise LookupError(f"workflow definition {key} is not stored")
        return source

    def active_workflow(self, session: Session) -> CompiledWorkflow:
        key = session.scalar(select(WorkflowVersion.key).where(WorkflowVersion.active.is_(True)))
        if key is None:
            key = self.ensure_default_workflow(session)
        return self.workflow(key, session)

    def ensure_default_workflow(self, session: Session) -> str:
        """Store and activate the shipped definition if none is active yet."""
        definition = load_definition(self.settings.workflow_file)
        store_definition(session, definition, self.now(), activate=True)
        return definition.key

    # -- calendar ---------------------------------------------------------------
    def calendar(self, session: Session) -> WorkCalendar:
        """The work calendar with the database's days; cached briefly per process."""
        if (
            self._calendar is not None
            and time.monotonic() - self._calendar_loaded < CALENDAR_TTL_SECONDS
        ):
            return self._calendar
        overrides = {
            row.day: CalendarOverride(day=row.day, kind=DayKind(row.kind), name=row.name)
            for row in session.scalars(select(CalendarDay))
        }
        years = frozenset(session.scalars(select(CalendarYear.year)))
        self._calendar = WorkCalendar(overrides=overrides, official_years=years)
        self._calendar_loaded = time.monotonic()
        return self._calendar

    def forget_calendar(self) -> None:
        self._calendar = None


def store_definition(
    session: Session,
    definition: WorkflowDefinition,
    now,
    *,
    activate: bool,  # noqa: ANN001
) -> WorkflowVersion:
    """Store a definition's source under its key; optionally make it the active one."""
    row = session.scalar(select(WorkflowVersion).where(WorkflowVersion.key == definition.key))
    if row is None:
        row = WorkflowVersion(
            key=definition.key, source=definition.source, active=False, activated_at=now
        )
        session.add(row)
    elif row.source != definition.source:
        raise ValueError(
            f"{definition.key} is already stored with other content: raise its version"
        )
    if activate:
        for other in session.scalars(
            select(WorkflowVersion).where(WorkflowVersion.active.is_(True))
        ):
            other.active = False
        row.active = True
        row.activated_at = now
    session.flush()
    return row


def bootstrap(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> Runtime:
    """Build the runtime for one process. Never called at import time."""
    engine = engine or make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        sealer=Sealer(settings.encryption_keys),
        clock=clock or SystemClock(),
    )
