"""The deadline sweep: each ladder step once, in order, whoever runs it and however late."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from tests.support import (
    Network,
    protection_order_in_court,
    register,
    registration,
    trigger,
    tx,
    view_of,
)
from workflow.services import cases, outbox, queries, sweep
from workflow.storage.models import (
    CaseEvent,
    ClockInstance,
    EscalationStep,
    Notification,
    User,
)


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


def steps_of_clock(network: Network, case_id: int, name: str) -> list[str]:
    with tx(network.rt) as session:
        return list(
            session.scalars(
                select(EscalationStep.step)
                .join(ClockInstance, ClockInstance.id == EscalationStep.clock_id)
                .where(EscalationStep.case_id == case_id, ClockInstance.name == name)
                .order_by(EscalationStep.id)
            )
        )


def due_at(network: Network, case_id: int, name: str) -> datetime:
    clocks = [c for c in view_of(network, case_id)["clocks"] if c["clock"] == name]
    return datetime.fromisoformat(clocks[-1]["due_at"])


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


def test_the_ladder_after_a_breach_counts_from_the_extended_deadline(network: Network) -> None:
    # The extension is kept in the clock's computation ("extra"): the sweep must read it
    # when it schedules level 2, or level 2 (and 3) would count from the first deadline,
    # already ten days past, and fire together with level 1.
    rt = network.rt
    case_id = register(network)
    trigger(network, "cw1", case_id, "accept")
    first = due_at(network, case_id, "resolution")
    trigger(network, "sup_t1", case_id, "extend", {"days": 10, "reason": "等待鉴定"})
    extended = due_at(network, case_id, "resolution")
    assert extended - first >= timedelta(days=10)
    rt.clock.advance(extended - rt.now() + timedelta(hours=1))
    sweep.sweep(rt)
    assert steps_of_clock(network, case_id, "resolution") == ["reminder", "level1"]
    with tx(rt) as session:
        clock = session.scalars(
            select(ClockInstance).where(
                ClockInstance.case_id == case_id, ClockInstance.name == "resolution"
            )
        ).one()
        assert clock.status == "breached" and clock.escalation_level == 1
        assert clock.next_step == "level2" and clock.next_step_at > extended


def test_an_order_expiry_clock_reminds_before_its_date_and_breaches_on_it(
    network: Network,
) -> None:
    # An "until" clock ends with the given day even when it is a rest day, where a period
    # of days would roll to the next working day. The date is kept in the computation:
    # the sweep must count the ladder from it, or level 1 would come a day or more late.
    rt = network.rt
    case_id = protection_order_in_court(network)
    expires = (rt.now() + timedelta(days=150)).date()
    with tx(rt) as session:
        calendar = rt.calendar(session)
        while not calendar.is_rest_day(expires):
            expires += timedelta(days=1)
    trigger(network, "liaison", case_id, "rule", {"outcome": "granted", "expires_on": str(expires)})
    expiry = due_at(network, case_id, "order_expiry")
    rt.clock.advance(expiry - rt.now() - timedelta(days=10))
    sweep.sweep(rt)
    assert steps_of_clock(network, case_id, "order_expiry") == ["reminder"]
    rt.clock.advance(timedelta(days=10, hours=1))
    sweep.sweep(rt)
    assert steps_of_clock(network, case_id, "order_expiry") == ["reminder", "level1"]
