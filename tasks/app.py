"""The Celery app factory: queues, reliability settings and the periodic schedule."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from kombu import Queue

from config.settings import Settings
from workflow.runtime import Runtime

NOTIFICATIONS, DEADLINES, DEFAULT = "notifications", "deadlines", "carnation"
# One outbox row per task: still registered, so messages already queued are performed.
PERFORM_OUTBOX = "carnation.perform_outbox"
# A chunk of outbox rows per task: what the relay sends.
PERFORM_OUTBOX_BATCH = "carnation.perform_outbox_batch"
SWEEP_DEADLINES = "carnation.sweep_deadlines"
RELAY_OUTBOX = "carnation.relay_outbox"
RELAY_SAFETY_SECONDS = 10.0
# Above the longest task (a sweep over a large wave takes well under this); Redis
# redelivers unacknowledged messages after it, counted from delivery.
VISIBILITY_TIMEOUT = 900


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url or "memory://",
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": DEFAULT,
        "task_queues": [Queue(NOTIFICATIONS), Queue(DEADLINES), Queue(DEFAULT)],
        "task_routes": {
            PERFORM_OUTBOX: {"queue": NOTIFICATIONS},
            PERFORM_OUTBOX_BATCH: {"queue": NOTIFICATIONS},
            SWEEP_DEADLINES: {"queue": DEADLINES},
            RELAY_OUTBOX: {"queue": DEFAULT},
        },
        # A publish must not hang a relay or a request for long when the broker is away:
        # the work is safe in the outbox and is handed out again later.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "enable_utc": True,
        "timezone": "UTC",
        "beat_schedule": {
            "sweep-deadlines": {"task": SWEEP_DEADLINES, "schedule": settings.sweep_seconds},
            "relay-outbox": {"task": RELAY_OUTBOX, "schedule": RELAY_SAFETY_SECONDS},
        },
    }


def create_celery(settings: Settings, runtime: Runtime | None = None) -> Celery:
    """Build a Celery app for ``settings``; the runtime is made lazily per process."""
    app = Celery("carnation", set_as_current=False)
    app.conf.update(celery_config(settings))
    app.carnation_settings = settings  # type: ignore[attr-defined]
    app.carnation_runtime = runtime  # type: ignore[attr-defined]
    _learn_pool_size(app)
    from tasks import jobs

    jobs.register(app)
    return app


def _learn_pool_size(app: Celery) -> None:
    """Remember the pool size of a worker started on ``app``: the relay splits claims by it.

    The size comes from the command line or the embedded worker, not from the settings,
    so it is read off the worker as it starts (before prefork children fork: they inherit
    it, and so does a sweep task's hand-off in a child).
    """

    def on_worker_init(sender: Any, **_: Any) -> None:
        concurrency = getattr(sender, "concurrency", None)
        if getattr(sender, "app", None) is not app or not isinstance(concurrency, int):
            return  # another app's worker, or an "auto" size not resolved yet
        app.carnation_pool_size = concurrency  # type: ignore[union-attr]

    # A weak receiver kept alive by the app itself: it goes when the app goes.
    app.carnation_on_worker_init = on_worker_init  # type: ignore[attr-defined]
    signals.worker_init.connect(on_worker_init, weak=True)


def pool_size(app: Celery) -> int:
    """How many tasks ``app``'s worker runs at once (this machine's cores if unknown)."""
    size = getattr(app, "carnation_pool_size", None) or app.conf.worker_concurrency
    return int(size) if isinstance(size, int) and size > 0 else (os.cpu_count() or 2)
