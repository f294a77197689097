"""Crash tests: workers killed with SIGKILL under load lose and duplicate nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.support import REDIS_URL, Network, referred_case, registration, tx, wait_for
from workflow.clock import SystemClock
from workflow.services import cases
from workflow.storage.models import EscalationStep, Notification, OutboxMessage

ROOT = Path(__file__).resolve().parents[2]


def worker_process(network: Network, tmp_path: Path) -> subprocess.Popen:
    settings = network.rt.settings
    env = {
        **os.environ,
        "CARNATION_DATABASE_URL": settings.database_url,
        "CARNATION_BROKER_URL": REDIS_URL,
        "CARNATION_SECRET_KEY": settings.secret_key,
        "CARNATION_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "CARNATION_OUTBOX_LEASE_SECONDS": "3",
        "CARNATION_INSTANCE_DIR": str(tmp_path),
    }
    with open(tmp_path / "worker.log", "ab") as log:
        # The child keeps its own copy of the descriptor; ours can close at once.
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "web.cli",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def kill_hard(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill_hard(process)


def count(network: Network, statement) -> int:
    with tx(network.rt) as session:
        return session.scalar(statement) or 0


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    pg_network: Network, tmp_path: Path
) -> None:
    rt = pg_network.rt
    # The worker runs on the wall clock: so must the cases, or their clocks breach.
    rt.clock = SystemClock()
    referrals = 120
    for _ in range(referrals):
        referred_case(pg_network)
    # Ladder work too: 30 complaints overdue long ago, swept by the worker's beat task.
    for _ in range(30):
        with tx(rt) as session:
            cases.register_case(
                rt,
                session,
                pg_network.actor("cw2"),
                registration(received_at=rt.now() - timedelta(days=25)),
            )
    notifications = select(func.count()).select_from(Notification)
    done = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "done")
    total = select(func.count()).select_from(OutboxMessage)

    # Every tenth row held by another transaction: the first worker skips them (SKIP
    # LOCKED), so work is still pending when it is killed, however fast it runs.
    holder = rt.sessions()
    holder.begin()
    holder.execute(
        select(OutboxMessage.id).where(OutboxMessage.id % 10 == 0).with_for_update()
    ).all()
    first = worker_process(pg_network, tmp_path)
    try:
        wait_for(lambda: count(pg_network, done) >= 40, timeout=60)
    finally:
        kill_hard(first)
        holder.rollback()
        holder.close()
    assert count(pg_network, done) < count(pg_network, total), "the kill came too late to test"

    second = worker_process(pg_network, tmp_path)
    try:
        from tasks.app import create_celery

        app = create_celery(rt.settings.with_overrides(broker_url=REDIS_URL))
        app.send_task("carnation.sweep_deadlines")
        wait_for(
            lambda: (
                count(pg_network, done) == count(pg_network, total)
                and count(pg_network, select(func.count()).select_from(EscalationStep)) == 90
            ),
            timeout=120,
        )
    finally:
        stop(second)

    wait_for(lambda: count(pg_network, done) == count(pg_network, total), timeout=10)
    # Each referral told the panel's one liaison once; each overdue case climbed three
    # levels: level 1 → cw2 + sup_t1, level 2 → sup_d, level 3 → sup_d.
    assert count(pg_network, notifications) == referrals + 30 * 4
    per_row = (
        select(Notification.outbox_id, Notification.user_id, func.count())
        .group_by(Notification.outbox_id, Notification.user_id)
        .having(func.count() > 1)
    )
    with tx(rt) as session:
        assert session.execute(per_row).all() == []
