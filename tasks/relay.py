"""The outbox relay: woken right after commit, with a periodic pass as the safety net."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from celery import Celery
from sqlalchemy import update

from tasks.app import NOTIFICATIONS, PERFORM_OUTBOX
from workflow.runtime import Runtime
from workflow.storage.models import OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "carnation_outbox"
PASS_SECONDS = 2.0
BROKER_DOWN_BACKOFF = timedelta(seconds=5)


def send_claimed(app: Celery, rt: Runtime, ids: list[int]) -> int:
    """Publish one task per claimed row; on a broker failure give the rest back unharmed."""
    for index, outbox_id in enumerate(ids):
        try:
            app.send_task(
                PERFORM_OUTBOX,
                args=[outbox_id],
                task_id=f"outbox-{outbox_id}",
                queue=NOTIFICATIONS,
            )
        except Exception as exc:  # noqa: BLE001 - any publish failure: the broker is away
            log.warning(
                "relay: broker unavailable (%s); %s row(s) wait",
                type(exc).__name__,
                len(ids) - index,
            )
            release(rt, ids[index:])
            return index
    return len(ids)


def release(rt: Runtime, ids: list[int]) -> None:
    """Undo a lease that never reached the broker: it must not count towards a dead letter."""
    with rt.sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
            .values(
                available_at=rt.now() + BROKER_DOWN_BACKOFF,
                lease_until=None,
                attempts=OutboxMessage.attempts - 1,
            )
        )


class Relay:
    """A thread that hands committed outbox rows to Celery.

    Woken by PostgreSQL NOTIFY (other processes' commits) or by an in-process nudge
    (this process's commits); a pass every few seconds catches whatever a wake-up
    missed (NOTIFY is not stored for a listener that was away) and expired leases.
    """

    def __init__(self, app: Celery, rt: Runtime, interval: float = PASS_SECONDS) -> None:
        self.app = app
        self.rt = rt
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def nudge(self) -> None:
        self._wake.set()

    def start(self) -> Relay:
        self.rt.on_outbox_commit(self.nudge)
        runner = threading.Thread(target=self._run, name="carnation-relay", daemon=True)
        runner.start()
        self._threads.append(runner)
        if self.rt.is_postgres:
            listener = threading.Thread(
                target=self._listen, name="carnation-relay-listen", daemon=True
            )
            listener.start()
            self._threads.append(listener)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        from tasks.jobs import relay_pass

        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            self._guarded(lambda: relay_pass(self.app, self.rt))

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:  # noqa: BLE001 - the relay must outlive database hiccups
            log.exception("relay pass failed; retrying")
            self._stop.wait(1.0)

    def _listen(self) -> None:
        import psycopg

        url = self.rt.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except Exception:  # noqa: BLE001 - reconnect; the periodic pass covers the gap
                log.warning("relay: LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)
