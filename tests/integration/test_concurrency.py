"""Races on the real PostgreSQL: the version check lets exactly one writer through."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.support import Network, registration, tx
from workflow.errors import VersionConflict
from workflow.services import cases
from workflow.storage.models import CaseEvent


def test_twenty_concurrent_triggers_with_the_same_version_let_exactly_one_through(
    pg_network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = pg_network.rt
    # Cold: the twenty threads also build the transition's read at the same moment.
    monkeypatch.setattr(cases, "_TRANSITION_LOADS", {})
    actor = pg_network.actor("cw1")
    with tx(rt) as session:
        case_id = cases.register_case(rt, session, actor, registration()).id
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            with tx(rt) as session:
                cases.trigger_event(rt, session, actor, case_id, "accept", 1, {})
            result = "ok"
        except VersionConflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 19 + ["ok"]
    with tx(rt) as session:
        accepts = session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.type == "accept")
        )
    assert accepts == 1


def test_concurrent_registrations_at_one_station_get_distinct_numbers(pg_network: Network) -> None:
    rt = pg_network.rt
    actor = pg_network.actor("cw1")
    numbers: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def register() -> None:
        barrier.wait()
        with tx(rt) as session:
            number = cases.register_case(rt, session, actor, registration()).number
        with lock:
            numbers.append(number)

    threads = [threading.Thread(target=register) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [f"V001-2026-{n:05d}" for n in range(1, 11)]
