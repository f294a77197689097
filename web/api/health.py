"""`/healthz`: is the database reachable, is the broker reachable."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from web.api.support import reply, runtime
from web.openapi import documented

bp = Blueprint("health", __name__)
log = logging.getLogger("carnation.web")
TIMEOUT_SECONDS = 1


def _database_ok() -> bool:
    # A raw connection: a SQLAlchemy one would BEGIN IMMEDIATE on SQLite and queue
    # behind writers; the probe needs no transaction.
    try:
        connection = runtime().engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - a probe reports every failure as "down"
        log.warning("health: database unreachable (%s)", type(exc).__name__)
        return False
    return True


def _broker_ok() -> bool:
    url = runtime().settings.broker_url
    if url is None:
        return True  # the embedded in-process transport cannot be down on its own
    try:
        from kombu import Connection

        with Connection(url, connect_timeout=TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT_SECONDS
            )
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("health: broker unreachable (%s)", type(exc).__name__)
        return False
    return True


@bp.get("/healthz")
@documented("Liveness: database and broker", public=True)
def healthz() -> Response:
    parts = {
        "database": "ok" if _database_ok() else "unavailable",
        "broker": "ok" if _broker_ok() else "unavailable",
    }
    healthy = all(value == "ok" for value in parts.values())
    return reply({"status": "ok" if healthy else "unavailable", **parts}, 200 if healthy else 503)
