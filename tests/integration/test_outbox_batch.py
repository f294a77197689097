"""Outbox rows performed in chunks: one transaction per chunk, each row's effect once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select, text, update

from tasks.app import PERFORM_OUTBOX, PERFORM_OUTBOX_BATCH, create_celery
from tasks.jobs import relay_pass
from tests.support import (
    REDIS_URL,
    Network,
    referred_case,
    register,
    registration,
    trigger,
    tx,
    wait_for,
)
from workflow.services import cases, outbox, sweep
from workflow.storage.models import Notification, OutboxMessage, Referral, User

# -- helpers ----------------------------------------------------------------------------------


def told(network: Network) -> Counter[tuple[str, str, str]]:
    """(case number, username, kind) of every notification, with how often each was made."""
    with tx(network.rt) as session:
        rows = session.execute(
            text(
                "SELECT c.number, u.username, n.kind FROM notifications n"
                " JOIN users u ON u.id = n.user_id JOIN cases c ON c.id = n.case_id"
            )
        ).all()
    return Counter((number, username, kind) for number, username, kind in rows)


def number_of(network: Network, case_id: int) -> str:
    with tx(network.rt) as session:
        return session.scalar(text("SELECT number FROM cases WHERE id = :id"), {"id": case_id})


def statuses(network: Network) -> dict[int, tuple[str, str | None]]:
    with tx(network.rt) as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.last_error)
        )
        return {row.id: (row.status, row.last_error) for row in rows}


def notifications_of_row(network: Network, outbox_id: int) -> int:
    with tx(network.rt) as session:
        return session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.outbox_id == outbox_id)
        )


def liaison_rows(network: Network) -> list[int]:
    """The rows that tell a panel's liaisons of a referral (with mail), in id order."""
    with tx(network.rt) as session:
        rows = session.execute(select(OutboxMessage.id, OutboxMessage.payload).order_by("id"))
        return [row.id for row in rows if "panel_liaisons" in row.payload.get("to", [])]


def backdated(network: Network, days: int, username: str, **overrides: Any) -> int:
    rt = network.rt
    with tx(rt) as session:
        payload = registration(received_at=rt.now() - timedelta(days=days), **overrides)
        return cases.register_case(rt, session, network.actor(username), payload).id


def notify_row(network: Network, case_id: int, to: list[str]) -> int:
    """A pending notify row written by hand (as a transition would, with its own recipients)."""
    rt = network.rt
    with tx(rt) as session:
        row = OutboxMessage(
            case_id=case_id,
            work="notify",
            payload={"case_id": case_id, "event": "accept", "to": to},
            status="pending",
            attempts=0,
            available_at=rt.now(),
            created_at=rt.now(),
        )
        session.add(row)
        session.flush()
        return row.id


class Mailbox:
    """The mail port: records what was sent; refuses (as a down server would) listed keys."""

    def __init__(self, refuse: Callable[[str], bool] = lambda key: False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse = refuse

    def send(self, to: str, subject: str, body: str, idempotency_key: str) -> None:
        if self.refuse(idempotency_key):
            raise ConnectionError("mail server away")
        self.sent.append((to, idempotency_key))


# -- the batch: effects, idempotency, failures --------------------------------------------


def test_a_batch_tells_each_recipient_of_each_row_once_and_never_the_actor(
    network: Network,
) -> None:
    rt = network.rt
    referred = referred_case(network)  # by cw1, its assignee: the actor is not told
    accepted = register(network, "cw1")
    trigger(network, "cw1", accepted, "accept", {"assignee_id": network.users["cw1b"]})
    emergency = register(network, "cw3", risk="emergency")
    overdue_east = backdated(network, 25, "cw1")
    overdue_south = backdated(network, 25, "cw3")
    unassigned = backdated(network, 25, "cw2")
    with tx(rt) as session:
        session.execute(
            text("UPDATE cases SET assignee_id = NULL WHERE id = :id"), {"id": unassigned}
        )
    assert sweep.sweep(rt) == 9
    ids = outbox.claim(rt, 500)
    mailbox = Mailbox()

    outcomes = outbox.perform_batch(rt, ids, outbox.Ports(mailer=mailbox))

    assert outcomes == dict.fromkeys(ids, "done")
    ref, acc, emg = (number_of(network, c) for c in (referred, accepted, emergency))
    east, south, west = (number_of(network, c) for c in (overdue_east, overdue_south, unassigned))
    ladder = {"level1": ("sup_t1",), "level2": ("sup_d",), "level3": ("sup_d",)}
    expected = Counter(
        [(ref, "liaison", "refer"), (acc, "cw1b", "accept"), (emg, "sup_d", "emergency")]
        + [(east, "cw1", "level1"), (south, "cw3", "level1"), (south, "sup_t2", "level1")]
        + [(west, "cw2", "level1")]  # unassigned: the station's caseworkers
        + [(east, user, step) for step, users in ladder.items() for user in users]
        + [(west, user, step) for step, users in ladder.items() for user in users]
        + [(south, "sup_d", "level2"), (south, "sup_d", "level3")]
    )
    assert told(network) == expected
    assert all(username != "cw1" for number, username, _ in told(network) if number == ref)
    # Mail for the referral and the ladder levels, to users with an address, one key each.
    keys = [key for _, key in mailbox.sent]
    assert len(keys) == len(set(keys))
    assert sorted({to for to, _ in mailbox.sent}) == [
        "cw1@example.org",
        "liaison@example.org",
        "sup_d@example.org",
        "sup_t1@example.org",
    ]
    with tx(rt) as session:
        assert session.scalar(select(Referral.delivered_at)) is not None


def test_a_batch_run_twice_makes_its_effects_once(network: Network) -> None:
    rt = network.rt
    for _ in range(3):
        referred_case(network)
    backdated(network, 25, "cw1")
    sweep.sweep(rt)
    ids = outbox.claim(rt, 500)
    first = outbox.perform_batch(rt, ids, outbox.Ports())
    before = told(network)
    second = outbox.perform_batch(rt, ids + ids, outbox.Ports())
    assert set(first.values()) == {"done"}
    assert second == dict.fromkeys(ids, "skipped")
    assert told(network) == before and max(before.values()) == 1


def test_rows_already_done_are_skipped_and_the_rest_performed(network: Network) -> None:
    rt = network.rt
    for _ in range(2):
        referred_case(network)
    ids = outbox.claim(rt)
    first, second = liaison_rows(network)
    assert outbox.perform(rt, first, outbox.Ports()) == "done"
    outcomes = outbox.perform_batch(rt, ids, outbox.Ports())
    assert outcomes[first] == "skipped"
    assert [outcomes[i] for i in ids if i != first] == ["done"] * (len(ids) - 1)
    assert [notifications_of_row(network, i) for i in (first, second)] == [1, 1]


def test_a_failing_row_fails_alone_and_the_others_are_done(network: Network) -> None:
    rt = network.rt
    good_case = referred_case(network)
    bad = notify_row(network, good_case, ["assignee", "no_such_recipients"])
    referred_case(network)
    ids = outbox.claim(rt)
    assert bad in ids

    outcomes = outbox.perform_batch(rt, ids, outbox.Ports())

    assert outcomes[bad] == "failed"
    assert {outcomes[i] for i in ids if i != bad} == {"done"}
    rows = statuses(network)
    assert rows[bad][0] == "pending" and "no_such_recipients" in (rows[bad][1] or "")
    assert all(rows[i] == ("done", None) for i in ids if i != bad)
    assert notifications_of_row(network, bad) == 0
    assert told(network)[(number_of(network, good_case), "liaison", "refer")] == 1


def test_an_infrastructure_error_on_one_row_retries_after_the_others_are_done(
    network: Network,
) -> None:
    rt = network.rt
    for _ in range(3):
        referred_case(network)
    ids = outbox.claim(rt)
    refused = liaison_rows(network)[1]  # the second case's, with mail
    mailbox = Mailbox(refuse=lambda key: key.startswith(f"carnation-outbox-{refused}-"))

    with pytest.raises(ConnectionError):
        outbox.perform_batch(rt, ids, outbox.Ports(mailer=mailbox), retry_on=(ConnectionError,))

    rows = statuses(network)
    assert rows[refused] == ("pending", None), "not a failure of the row: the task retries"
    assert all(rows[i][0] == "done" for i in ids if i != refused)
    mailbox.refuse = lambda key: False
    retried = outbox.perform_batch(rt, ids, outbox.Ports(mailer=mailbox))
    assert retried[refused] == "done" and list(retried.values()).count("done") == 1
    assert [notifications_of_row(network, i) for i in liaison_rows(network)] == [1, 1, 1]


def test_a_row_held_by_another_transaction_is_left_to_it(pg_network: Network) -> None:
    network, rt = pg_network, pg_network.rt
    referred_case(network)
    referred_case(network)
    ids = outbox.claim(rt)
    held = liaison_rows(network)[0]
    rest = [i for i in ids if i != held]
    holder = rt.sessions()
    try:
        holder.begin()
        holder.execute(
            select(OutboxMessage.id).where(OutboxMessage.id == held).with_for_update()
        ).one()
        # SKIP LOCKED: the batch does not wait for the holder, and does not do its row.
        outcomes: dict[int, str] = {}
        batch = threading.Thread(
            target=lambda: outcomes.update(outbox.perform_batch(rt, ids, outbox.Ports()))
        )
        batch.start()
        batch.join(10)
        if batch.is_alive():
            holder.rollback()
            batch.join(10)
            pytest.fail("the batch waited for the row another transaction holds")
        assert outcomes[held] == "skipped"
        assert [outcomes[i] for i in rest] == ["done"] * len(rest)
        assert notifications_of_row(network, held) == 0
        # The holder does the row and commits: nobody does it again.
        holder.execute(update(OutboxMessage).where(OutboxMessage.id == held).values(status="done"))
        holder.commit()
    finally:
        holder.close()
    assert outbox.perform_batch(rt, ids, outbox.Ports()) == dict.fromkeys(ids, "skipped")
    assert notifications_of_row(network, held) == 0


def test_a_row_whose_holder_gave_up_is_done_by_a_later_batch_once(pg_network: Network) -> None:
    network, rt = pg_network, pg_network.rt
    referred_case(network)
    ids = outbox.claim(rt)
    (held,) = liaison_rows(network)
    done_while_held: dict[int, str] = {}
    locked, finished = threading.Event(), threading.Event()

    def hold() -> None:
        with rt.sessions() as session, session.begin():
            session.execute(
                select(OutboxMessage.id).where(OutboxMessage.id == held).with_for_update()
            )
            locked.set()
            finished.wait(10)
            session.rollback()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(10)
        done_while_held.update(outbox.perform_batch(rt, ids, outbox.Ports()))
    finally:
        finished.set()
        thread.join(10)
    assert done_while_held[held] == "skipped"
    assert outbox.perform_batch(rt, [held], outbox.Ports()) == {held: "done"}
    assert outbox.perform_batch(rt, [held], outbox.Ports()) == {held: "skipped"}
    assert notifications_of_row(network, held) == 1


def test_a_claim_leases_due_rows_and_buries_those_handed_out_too_often(network: Network) -> None:
    rt = network.rt
    referred_case(network)
    spent = liaison_rows(network)[0]
    rest = sorted(i for i in statuses(network) if i != spent)
    with tx(rt) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == spent)
            .values(attempts=outbox.MAX_ATTEMPTS)
        )
    assert outbox.claim(rt) == sorted(rest)
    assert outbox.claim(rt) == [], "leased rows are not handed out again before the lease ends"
    with tx(rt) as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
    assert rows[spent].status == "dead" and rows[spent].attempts == outbox.MAX_ATTEMPTS
    lease = timedelta(seconds=rt.settings.outbox_lease_seconds)
    for outbox_id in rest:
        row = rows[outbox_id]
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.available_at == row.lease_until == rt.now() + lease
    rt.clock.advance(lease + timedelta(seconds=1))
    assert outbox.claim(rt) == sorted(rest), "an expired lease hands the rows out again"


# -- the relay and the worker -------------------------------------------------------------


class Received:
    """Outbox tasks this test published (the broker's side) and which of them a worker ran.

    Recorded by Celery's signals in this process: messages other tests left in the
    queue were not published here and are not counted.
    """

    def __init__(self) -> None:
        self.published: dict[str, tuple[str, list[Any]]] = {}
        self.ran: set[str] = set()
        self._lock = threading.Lock()

    def on_publish(
        self, sender: Any = None, headers: Any = None, body: Any = None, **_: Any
    ) -> None:
        if sender in (PERFORM_OUTBOX, PERFORM_OUTBOX_BATCH):
            with self._lock:
                self.published[headers["id"]] = (sender, list(body[0]))

    def on_run(self, task_id: str = "", **_: Any) -> None:
        with self._lock:
            self.ran.add(task_id)

    @property
    def tasks(self) -> list[tuple[str, list[Any]]]:
        """The published outbox tasks that a worker ran."""
        with self._lock:
            return [task for key, task in self.published.items() if key in self.ran]

    def all_ran(self) -> bool:
        with self._lock:
            return bool(self.published) and set(self.published) <= self.ran

    def clear(self) -> None:
        with self._lock:
            self.published.clear()
            self.ran.clear()

    def outbox_ids(self) -> list[int]:
        ids: list[int] = []
        for name, args in self.tasks:
            ids.extend(args[0] if name == PERFORM_OUTBOX_BATCH else [args[0]])
        return ids


@pytest.fixture
def celery_app(pg_network: Network) -> Iterator[Any]:
    rt = pg_network.rt
    original = rt.settings
    rt.settings = replace(rt.settings, broker_url=REDIS_URL, smtp_url=None)
    app = create_celery(rt.settings, rt)
    with app.connection_for_write() as connection:
        # Messages left by earlier tests name rows of other databases: not ours to count.
        for queue in ("notifications", "deadlines", "carnation"):
            connection.default_channel.queue_purge(queue)
    yield app
    rt.settings = original


@pytest.fixture
def received() -> Iterator[Received]:
    recorder = Received()
    # Before, not after: a worker may run a task before its publisher's `after` signal
    # fires, and a run must never be seen ahead of its publication.
    signals.before_task_publish.connect(recorder.on_publish, weak=False)
    signals.task_prerun.connect(recorder.on_run, weak=False)
    yield recorder
    signals.before_task_publish.disconnect(recorder.on_publish)
    signals.task_prerun.disconnect(recorder.on_run)


def pending(network: Network) -> int:
    with tx(network.rt) as session:
        return session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "done")
        )


def running(app: Any, concurrency: int = 2) -> Any:
    return start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=["notifications", "deadlines", "carnation"],
        shutdown_timeout=10,
    )


def test_the_relay_sends_a_claim_as_chunks_shared_by_the_pool(
    pg_network: Network, celery_app: Any, received: Received
) -> None:
    network, rt = pg_network, pg_network.rt
    for _ in range(9):
        referred_case(network)
    with tx(rt) as session:
        all_ids = sorted(session.scalars(select(OutboxMessage.id)))
    with running(celery_app, concurrency=3):
        assert relay_pass(celery_app, rt) == len(all_ids) == 27
        wait_for(lambda: pending(network) == 0)
        wait_for(received.all_ran)
        chunks = [args[0] for name, args in received.tasks]
        assert {name for name, _ in received.tasks} == {PERFORM_OUTBOX_BATCH}
        # One chunk per pool child (three here), every row in exactly one chunk.
        assert sorted(len(c) for c in chunks) == [9, 9, 9]
        assert sorted(received.outbox_ids()) == all_ids

        # At idle a claim of one row goes out at once, as a chunk of one.
        received.clear()
        accepted = register(network, "cw1")
        trigger(network, "cw1", accepted, "accept", {"assignee_id": network.users["cw1b"]})
        assert relay_pass(celery_app, rt) == 1
        wait_for(lambda: pending(network) == 0)
        wait_for(received.all_ran)
        ((name, args),) = received.tasks
        assert name == PERFORM_OUTBOX_BATCH and len(args[0]) == 1
    assert max(told(network).values()) == 1
    assert told(network)[(number_of(network, accepted), "cw1b", "accept")] == 1


def test_a_single_row_task_left_in_the_queue_is_still_performed(
    pg_network: Network, celery_app: Any, received: Received
) -> None:
    network, rt = pg_network, pg_network.rt
    case_id = referred_case(network)
    ids = outbox.claim(rt)
    with running(celery_app):
        for outbox_id in ids:
            celery_app.send_task(PERFORM_OUTBOX, args=[outbox_id], task_id=f"outbox-{outbox_id}")
        wait_for(lambda: pending(network) == 0)
        wait_for(received.all_ran)
    assert {name for name, _ in received.tasks} == {PERFORM_OUTBOX}
    assert told(network) == Counter([(number_of(network, case_id), "liaison", "refer")])


def test_the_sweep_hands_its_ladder_work_out_in_chunks(
    pg_network: Network, celery_app: Any, received: Received
) -> None:
    network = pg_network
    for username in ("cw1", "cw2", "cw3", "cw1", "cw2"):
        backdated(network, 25, username)
    with running(celery_app):
        celery_app.send_task("carnation.sweep_deadlines")
        wait_for(lambda: pending(network) == 0)
        wait_for(received.all_ran)
    with tx(network.rt) as session:
        assert sorted(received.outbox_ids()) == sorted(session.scalars(select(OutboxMessage.id)))
    assert len(received.outbox_ids()) == 15
    assert {name for name, _ in received.tasks} == {PERFORM_OUTBOX_BATCH}
    assert len(received.tasks) < 15, "the sweep's work goes out in chunks, not row by row"
    with tx(network.rt) as session:
        level1 = session.scalars(
            select(User.username)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.kind == "level1")
        )
        assert Counter(level1) == Counter({"cw1": 2, "cw2": 2, "cw3": 1, "sup_t1": 4, "sup_t2": 1})
