"""Background work with a real Celery worker on the real Redis and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

from tasks.app import create_celery
from tasks.relay import Relay
from tests.support import REDIS_URL, Network, referred_case, registration, tx, wait_for
from workflow.services import cases, outbox, sweep
from workflow.storage.models import Notification, OutboxMessage, User


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def redis_url() -> str:
    # Not FLUSHDB: it would also drop kombu's queue bindings, which a process that
    # already declared them does not declare again (its messages would go nowhere).
    # Leftover messages name outbox rows that no longer exist; they are skipped.
    redis.Redis.from_url(REDIS_URL).ping()
    return REDIS_URL


@pytest.fixture
def worker(pg_network: Network, redis_url: str, smtp: tuple[Inbox, int]):
    rt = pg_network.rt
    original = rt.settings
    settings = replace(rt.settings, broker_url=redis_url, smtp_url=f"smtp://127.0.0.1:{smtp[1]}")
    rt.settings = settings
    app = create_celery(settings, rt)
    relay = Relay(app, rt, interval=0.5).start()
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=["notifications", "deadlines", "carnation"],
        shutdown_timeout=10,
    ):
        yield app
    relay.stop()
    rt.settings = original


def notifications_for(network: Network, username: str) -> list[str]:
    with tx(network.rt) as session:
        return list(
            session.scalars(
                select(Notification.message)
                .join(User, User.id == Notification.user_id)
                .where(User.username == username)
            )
        )


def pending(network: Network) -> int:
    with tx(network.rt) as session:
        return session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "done")
        )


def test_a_referral_reaches_the_liaisons_inbox_and_mail_without_personal_data(
    pg_network: Network, worker, smtp: tuple[Inbox, int]
) -> None:
    rt = pg_network.rt
    inbox, _ = smtp
    with tx(rt) as session:
        case = cases.register_case(rt, session, pg_network.actor("cw1"), registration())
        case_id, number = case.id, case.number
    with tx(rt) as session:
        cases.trigger_event(
            rt,
            session,
            pg_network.actor("cw1"),
            case_id,
            "refer",
            1,
            {
                "kind": "protection_order",
                "summary": "申请人身安全保护令",
                "mediation_declined": True,
            },
        )
    wait_for(lambda: pending(pg_network) == 0)
    wait_for(lambda: len(inbox.messages) >= 1)
    messages = notifications_for(pg_network, "liaison")
    assert len(messages) == 1 and number in messages[0]
    recipients, body = inbox.messages[0]
    assert recipients == ["liaison@example.org"] and number in body
    for secret in ("张小红", "13812341234", "东村三组", "王大力", "保护令申请人"):
        assert secret not in body and secret not in messages[0]
    # The actor is never told of her own action.
    assert notifications_for(pg_network, "cw1") == []


def test_an_overdue_complaint_climbs_the_ladder_by_itself(pg_network: Network, worker) -> None:
    rt = pg_network.rt
    with tx(rt) as session:
        cases.register_case(
            rt,
            session,
            pg_network.actor("cw1"),
            registration(received_at=rt.now() - timedelta(days=25)),
        )
    worker.send_task("carnation.sweep_deadlines")
    wait_for(lambda: len(notifications_for(pg_network, "sup_d")) == 2)
    wait_for(lambda: pending(pg_network) == 0)
    assert len(notifications_for(pg_network, "sup_t1")) == 1


def test_transitions_succeed_while_the_broker_is_away_and_their_work_flows_after(
    pg_network: Network, redis_url: str
) -> None:
    rt = pg_network.rt
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    original = rt.settings
    rt.settings = replace(rt.settings, broker_url=dead_broker, smtp_url=None)
    down_app = create_celery(rt.settings, rt)
    referred_case(pg_network)
    from tasks.jobs import relay_pass

    assert relay_pass(down_app, rt) == 0
    with tx(rt) as session:
        attempts = set(session.scalars(select(OutboxMessage.attempts)))
    assert attempts == {0}, "a publish that never reached the broker must not count"
    rt.settings = replace(rt.settings, broker_url=redis_url)
    rt.clock.advance(timedelta(seconds=10))
    app = create_celery(rt.settings, rt)
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=["notifications", "deadlines", "carnation"],
    ):
        assert relay_pass(app, rt) == 3
        wait_for(lambda: pending(pg_network) == 0)
    assert len(notifications_for(pg_network, "liaison")) == 1
    rt.settings = original


def test_performing_a_row_twice_makes_its_effect_once(pg_network: Network) -> None:
    rt = pg_network.rt
    referred_case(pg_network)
    ids = outbox.claim(rt)
    for outbox_id in ids + ids:
        outbox.perform(rt, outbox_id, outbox.Ports())
    assert len(notifications_for(pg_network, "liaison")) == 1
    assert sweep.sweep(rt) == 0
