"""The outbox relay: woken right after commit, with a periodic pass as the safety net."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from celery import Celery
from sqlalchemy import update

from tasks.app import NOTIFICATIONS, PERFORM_OUTBOX_BATCH, pool_size
from workflow.runtime import Runtime
from workflow.storage.models import OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "carnation_outbox"
PASS_SECONDS = 2.0
BROKER_DOWN_BACKOFF = timedelta(seconds=5)


# A chunk is at most MAX_CHUNK rows: large enough that a wave's per-task overhead
# vanishes, small enough that the pool's children share a claim and a chunk is done
# well within its lease. A claim is split for the children only into chunks of at
# least MIN_CHUNK rows: below that a task's own overhead outweighs the rows' work,
# and the stream of small claims under load is shared by the children anyway.
MAX_CHUNK = 50
MIN_CHUNK = 4
# Under load (rows handed out a moment ago) a wake-up waits until this long after the
# last pass, so the commits of a few more transitions go out in the same claim; at idle
# it is served at once. When rows are committed faster than STREAM_ROWS_PER_SECOND
# (smoothed over the recent claims) the wait is longer: each task then carries
# more rows, and the task's own cost (claim, publish, consume, transaction) is shared by
# them. Measured end to end (bench measure 3, 2 cores): 219 transitions/s with 20 ms for
# all, 276-316 with 60 ms above 200 rows/s. A slower flow keeps the short wait and its
# latency (p50 21-22 ms under 100 transitions/s either way).
GATHER_SECONDS = 0.02
GATHER_STREAM_SECONDS = 0.06
STREAM_ROWS_PER_SECOND = 200
RATE_SMOOTHING = 0.2  # weight of the newest pass in the smoothed rate


class Gathering:
    """How long a wake-up waits for more commits, from when the last claims took rows."""

    def __init__(self, short: float = GATHER_SECONDS, stream: float = GATHER_STREAM_SECONDS):
        self.short = short
        self.stream = stream
        self.busy_at = float("-inf")  # when the last pass that handed rows out ended
        self.claimed_at = float("-inf")  # when the last pass began to claim
        self.rate = 0.0  # rows committed per second, smoothed over the recent passes

    def pause(self, now: float) -> float:
        """Seconds to wait before claiming at ``now``: none after a quiet spell."""
        window = self.stream if self.rate >= STREAM_ROWS_PER_SECOND else self.short
        return max(0.0, window - (now - self.busy_at))

    def claimed(self, began: float, ended: float, rows: int) -> None:
        """A pass began to claim at ``began``, ended at ``ended`` and handed ``rows`` out."""
        # The rows committed between the previous claim and this one, smoothed:
        # arrivals are bursty, and one quick pair of commits is not a stream.
        since, self.claimed_at = self.claimed_at, began
        self.rate += RATE_SMOOTHING * (rows / max(began - since, 1e-3) - self.rate)
        if rows:
            self.busy_at = ended


def chunked(ids: list[int], parts: int) -> list[list[int]]:
    """Split a claim into even chunks, one per pool child (``parts``) where each is worth it.

    A claim of one row, the usual case at idle, goes out at once as a chunk of one.
    """
    if not ids:
        return []
    count = max(-(-len(ids) // MAX_CHUNK), min(parts, len(ids) // MIN_CHUNK), 1)
    size = -(-len(ids) // count)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def chunk_task_id(chunk: list[int]) -> str:
    """Deterministic, for tracing: ``outbox-17`` for one row, ``outbox-17-42`` for a chunk
    from row 17 to row 42 (claims are in id order within an instant)."""
    return f"outbox-{chunk[0]}" if len(chunk) == 1 else f"outbox-{chunk[0]}-{chunk[-1]}"


def send_claimed(app: Celery, rt: Runtime, ids: list[int]) -> int:
    """Publish the claimed rows as batch tasks; on a broker failure give the rest back.

    Returns how many rows reached the broker.
    """
    sent = 0
    for chunk in chunked(ids, pool_size(app)):
        try:
            app.send_task(
                PERFORM_OUTBOX_BATCH,
                args=[chunk],
                task_id=chunk_task_id(chunk),
                queue=NOTIFICATIONS,
            )
        except Exception as exc:  # noqa: BLE001 - any publish failure: the broker is away
            log.warning(
                "relay: broker unavailable (%s); %s row(s) wait",
                type(exc).__name__,
                len(ids) - sent,
            )
            release(rt, ids[sent:])
            return sent
        sent += len(chunk)
    return sent


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

    def __init__(
        self,
        app: Celery,
        rt: Runtime,
        interval: float = PASS_SECONDS,
        gather: float = GATHER_SECONDS,
        gather_stream: float = GATHER_STREAM_SECONDS,
    ) -> None:
        self.app = app
        self.rt = rt
        self.interval = interval
        self.gather = gather
        self.gather_stream = gather_stream
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

        gathering = Gathering(self.gather, self.gather_stream)
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            if self._stop.is_set():
                return
            # Commits arriving back to back: let a few more gather into this claim
            # (fewer claims, tasks and transactions per row); the first after a quiet
            # spell goes at once, so a lone transition's work is not delayed.
            pause = gathering.pause(time.monotonic())
            if pause > 0 and self._stop.wait(pause):
                return
            self._wake.clear()
            began = time.monotonic()
            rows = self._guarded(lambda: relay_pass(self.app, self.rt))
            gathering.claimed(began, time.monotonic(), rows)

    def _guarded(self, action: Callable[[], int]) -> int:
        try:
            return action()
        except Exception:  # noqa: BLE001 - the relay must outlive database hiccups
            log.exception("relay pass failed; retrying")
            self._stop.wait(1.0)
            return 0

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
