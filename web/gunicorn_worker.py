"""Gunicorn's threaded worker, made to share kept-alive connections evenly between workers.

Every worker is woken by a new connection and the first to call ``accept`` takes it;
a kept-alive connection then stays with that worker for good. A client or a proxy that
opens its connections together could so leave one worker holding all of them, serving
them on one core while the others idle: seen under 16 connections and two workers, 16
on one of them about one time in three, at half the throughput and twice the latency.

Here a worker that already holds as many connections as it has threads steps back for
a moment before accepting one more, a longer moment the more it holds, so the least
loaded worker takes the connection. When no worker is less loaded, the connection
waits for that moment only (a millisecond per connection held beyond the threads) and
is then taken.
"""

from __future__ import annotations

import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# Seconds a worker steps back per connection it holds beyond its threads.
STEP_BACK_SECONDS = 0.001


def step_back(connections: int, threads: int, step: float = STEP_BACK_SECONDS) -> float:
    """How long a worker holding ``connections`` leaves a new one to the other workers."""
    excess = connections - threads + 1
    return step * excess if excess > 0 else 0.0


class LeastLoadedThreadWorker(ThreadWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resume_at: float | None = None  # stepping back until then
        self._granted = False  # stepped back already: the next pending connection is ours

    def accept(self, listener: Any) -> None:
        if self._granted:
            self._granted = False
            super().accept(listener)
            return
        pause = step_back(self.nr_conns, self.cfg.threads)
        if pause == 0.0:
            super().accept(listener)
            return
        self._resume_at = time.monotonic() + pause
        super().set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        # The worker's loop re-enables accepting whenever it has room: not while stepping back.
        super().set_accept_enabled(enabled and self._resume_at is None)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self._resume_at is not None:
            remaining = self._resume_at - time.monotonic()
            if remaining > 0:
                timeout = min(timeout, remaining)
            else:
                self._resume_at = None
                if self.alive:  # never again once shutting down
                    self._granted = True
                    super().set_accept_enabled(self.nr_conns < self.worker_connections)
        try:
            super().wait_for_and_dispatch_events(timeout)
        finally:
            # A connection still pending was reported (and taken) in that pass; a later
            # one finds the worker as loaded as it is then.
            self._granted = False
