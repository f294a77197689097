"""The Celery app factory: queues, reliability settings and the periodic schedule."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from config.settings import Settings
from workflow.runtime import Runtime

NOTIFICATIONS, DEADLINES, DEFAULT = "notifications", "deadlines", "carnation"
PERFORM_OUTBOX = "carnation.perform_outbox"
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
    from tasks import jobs

    jobs.register(app)
    return app
