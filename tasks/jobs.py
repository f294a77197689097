"""The tasks: thin wrappers that take ids and call the service layer."""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from typing import Any

from celery import Celery, Task
from sqlalchemy.exc import DBAPIError, OperationalError

from tasks.app import PERFORM_OUTBOX, PERFORM_OUTBOX_BATCH, RELAY_OUTBOX, SWEEP_DEADLINES
from workflow.runtime import Runtime, bootstrap
from workflow.services import outbox, sweep

log = logging.getLogger(__name__)

# Only infrastructure errors are retried; a domain refusal is an answer, not a failure.
INFRASTRUCTURE_ERRORS = (
    OperationalError,
    DBAPIError,
    ConnectionError,
    TimeoutError,
    smtplib.SMTPException,
    OSError,
)


def runtime_of(app: Celery) -> Runtime:
    runtime = getattr(app, "carnation_runtime", None)
    if runtime is None:
        runtime = bootstrap(app.carnation_settings)  # type: ignore[attr-defined]
        app.carnation_runtime = runtime  # type: ignore[attr-defined]
    return runtime


def ports_of(app: Celery) -> outbox.Ports:
    ports = getattr(app, "carnation_ports", None)
    if ports is None:
        settings = app.carnation_settings  # type: ignore[attr-defined]
        mailer = sms = None
        if settings.smtp_url:
            from workflow.adapters.mail import SmtpMailer

            mailer = SmtpMailer(settings.smtp_url, settings.smtp_from)
        if settings.sms_gateway_url:
            from workflow.adapters.sms import HttpSmsGateway

            sms = HttpSmsGateway(settings.sms_gateway_url)
        ports = outbox.Ports(mailer=mailer, sms=sms)
        app.carnation_ports = ports  # type: ignore[attr-defined]
    return ports


# The outbox tasks, one row or a chunk: infrastructure errors retried with backoff.
OUTBOX_TASK_OPTIONS: dict[str, Any] = {
    "shared": False,
    "bind": True,
    "autoretry_for": INFRASTRUCTURE_ERRORS,
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}


def register(app: Celery) -> None:
    @app.task(name=PERFORM_OUTBOX, **OUTBOX_TASK_OPTIONS)
    def perform_outbox(self: Task, outbox_id: int) -> str:
        """Make the effect of one outbox row (notification, package, SMS); idempotent.

        The relay sends chunks now; this stays for messages queued before it did.
        """
        rt = runtime_of(self.app)
        outcomes = outbox.perform_each(
            rt, [outbox_id], ports_of(self.app), retry_on=INFRASTRUCTURE_ERRORS
        )
        return outcomes[outbox_id]

    @app.task(name=PERFORM_OUTBOX_BATCH, **OUTBOX_TASK_OPTIONS)
    def perform_outbox_batch(self: Task, outbox_ids: list[int]) -> dict[str, int]:
        """Make the effects of a chunk of outbox rows in one transaction; idempotent.

        A row that fails is recorded on its own and the others are done; an
        infrastructure error retries the chunk, whose rows already done are skipped.
        """
        rt = runtime_of(self.app)
        outcomes = outbox.perform_batch(
            rt, outbox_ids, ports_of(self.app), retry_on=INFRASTRUCTURE_ERRORS
        )
        return dict(Counter(outcomes.values()))  # {"done": 48, "skipped": 2}: ids only

    @app.task(
        name=SWEEP_DEADLINES,
        shared=False,
        bind=True,
        autoretry_for=INFRASTRUCTURE_ERRORS,
        max_retries=3,
        retry_backoff=2,
        retry_backoff_max=30,
    )
    def sweep_deadlines(self: Task) -> int:
        """Fire the due ladder steps, then hand their work out at once (in chunks)."""
        rt = runtime_of(self.app)
        fired = sweep.sweep(rt)
        if fired:
            relay_pass(self.app, rt)
        return fired

    @app.task(name=RELAY_OUTBOX, bind=True, shared=False)
    def relay_outbox(self: Task) -> int:
        """The periodic safety net of the relay: hand out what no wake-up handed out."""
        return relay_pass(self.app, runtime_of(self.app))


def relay_pass(app: Celery, rt: Runtime, limit: int = 500) -> int:
    """Claim committed outbox rows and send them in chunks, one batch task per chunk."""
    from tasks.relay import send_claimed

    total = 0
    while True:
        ids = outbox.claim(rt, limit)
        if not ids:
            return total
        total += send_claimed(app, rt, ids)
        if len(ids) < limit:
            return total
