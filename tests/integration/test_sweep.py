"""The deadline sweep: each ladder step once, in order, whoever runs it and however late."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from tests.support import Network, registration, tx
from workflow.services import cases, outbox, queries, sweep
from workflow.storage.models import CaseEvent, EscalationStep, Notification, User


def register_backdated(network: Network, days: int, username: str = "cw1", **overrides) -> int:
    rt = network.rt
    with tx(rt) as session:
        payload = registration(received_at=rt.now() - timedelta(days=days), **overrides)
        return cases.register_case(rt, session, network.actor(username), payload).id


def perform_all(network: Network) -> None:
    rt = network.rt
    while ids := outbox.claim(rt, 500):
        for outbox_id in ids:
            outbox.perform(rt, outbox_id, outbox.Ports())


def steps_of(network: Network, case_id: int) -> list[str]:
    with tx(network.rt) as session:
        return list(
            session.scalars(
                select(EscalationStep.step)
                .where(EscalationStep.case_id == case_id)
                .order_by(EscalationStep.id)
            )
        )


def notified(network: Network, case_id: int) -> dict[str, list[str]]:
    with tx(network.rt) as session:
        rows = session.execute(
            select(User.username, Notification.kind)
            .join(User, User.id == Notification.user_id)
            .where(Notification.case_id == case_id)
            .order_by(Notification.id)
        ).all()
    result: dict[str, list[str]] = {}
    for username, kind in rows:
        result.setdefault(username, []).append(kind)
    return result


def test_a_complaint_received_25_days_ago_climbs_every_level_once_in_order(
    network: Network,
) -> None:
    case_id = register_backdated(network, 25)
    assert sweep.sweep(network.rt) == 3
    assert steps_of(network, case_id) == ["level1", "level2", "level3"]
    assert sweep.sweep(network.rt) == 0
    perform_all(network)
    got = notified(network, case_id)
    # Village case: level 1 its town's supervisors, level 2 the district, level 3 the district.
    assert got["cw1"] == ["level1"]
    assert got["sup_t1"] == ["level1"]
    assert got["sup_d"] == ["level2", "level3"]
    assert "sup_t2" not in got and "cw2" not in got


def test_the_timeline_records_breach_and_escalations(network: Network) -> None:
    case_id = register_backdated(network, 25)
    sweep.sweep(network.rt)
    with tx(network.rt) as session:
        types = list(
            session.scalars(
                select(CaseEvent.type).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
    assert types == ["registered", "deadline_breached", "escalated", "escalated", "escalated"]


def test_a_reminder_fires_before_the_deadline_and_not_after_it(network: Network) -> None:
    rt = network.rt
    with tx(rt) as session:
        case_id = cases.register_case(rt, session, network.actor("cw1"), registration()).id
    # Registered Friday 2026-11-20; 15 days → Saturday 12-05 → Monday 12-07. The 2nd working
    # day before: Thursday 12-03, 24:00 local.
    rt.clock.advance(timedelta(days=13, hours=20))  # 12-04 06:00 local
    sweep.sweep(rt)
    assert steps_of(network, case_id) == ["reminder"]
    with tx(rt) as session:
        view = queries.get_case(rt, session, network.actor("cw1"), case_id)
    assert view["overdue"] is False


def test_a_met_clock_stops_climbing(network: Network) -> None:
    rt = network.rt
    case_id = register_backdated(network, 16)
    sweep.sweep(rt)
    assert steps_of(network, case_id) == ["level1"]
    with tx(rt) as session:
        cases.trigger_event(rt, session, network.actor("cw1"), case_id, "accept", 1, {})
    rt.clock.advance(timedelta(days=10))
    sweep.sweep(rt)
    assert steps_of(network, case_id) == ["level1"]
    with tx(rt) as session:
        view = queries.get_case(rt, session, network.actor("cw1"), case_id)
    acceptance = next(c for c in view["clocks"] if c["clock"] == "acceptance")
    assert acceptance["status"] == "breached" and acceptance["stopped_at"] is not None


def test_an_emergency_registration_tells_the_district_supervisors_at_once(network: Network) -> None:
    rt = network.rt
    with tx(rt) as session:
        case_id = cases.register_case(
            rt, session, network.actor("cw1"), registration(risk="emergency")
        ).id
    perform_all(network)
    assert notified(network, case_id) == {"sup_d": ["emergency"]}


def test_two_sweeps_racing_fire_each_step_once(pg_network: Network) -> None:
    rt = pg_network.rt
    case_ids = [register_backdated(pg_network, 25) for _ in range(30)]
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def run() -> None:
        barrier.wait()
        fired.append(sweep.sweep(rt, batch=7))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == 90
    for case_id in case_ids:
        assert steps_of(pg_network, case_id) == ["level1", "level2", "level3"]
