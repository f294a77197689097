"""Each row of workflow.md's events and clocks tables, driven through the service layer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support import (
    Network,
    protection_order_in_court,
    register,
    settled_case,
    trigger,
    tx,
    view_of,
)
from workflow.errors import Forbidden, GuardFailed, InvalidTransition, ValidationFailed
from workflow.services import actions


def clock(view: dict, name: str) -> dict:
    return [c for c in view["clocks"] if c["clock"] == name][-1]


def test_decline_is_a_supervisors_event_and_closes_the_case(network: Network) -> None:
    case_id = register(network)
    view = trigger(
        network, "sup_t1", case_id, "decline", {"reason": "不属受理范围", "redirect_to": "劳动仲裁"}
    )
    assert view["state"] == "closed" and clock(view, "acceptance")["status"] == "met"


def test_a_protection_order_referral_has_a_24_hour_acknowledgement(network: Network) -> None:
    case_id = register(network)
    view = trigger(network, "cw1", case_id, "refer", {"kind": "protection_order", "summary": "s"})
    assert clock(view, "acknowledgement")["computation"]["unit"] == "hours"
    assert clock(view, "acknowledgement")["computation"]["length"] == 24


@pytest.mark.parametrize(("urgent", "hours"), [(False, 72), (True, 24)])
def test_acknowledging_a_protection_order_opens_its_decision_clock(
    network: Network, urgent: bool, hours: int
) -> None:
    case_id = protection_order_in_court(network, urgent)
    view = view_of(network, case_id)
    decision = clock(view, "protection_order_decision")
    assert decision["computation"]["length"] == hours and decision["status"] == "running"


def test_a_granted_order_returns_to_mediation_and_runs_until_it_expires(network: Network) -> None:
    case_id = protection_order_in_court(network)
    expires = (network.rt.now() + timedelta(days=150)).date()
    view = trigger(
        network,
        "liaison",
        case_id,
        "rule",
        {"outcome": "granted", "expires_on": expires.isoformat()},
    )
    assert view["state"] == "mediation"
    assert clock(view, "protection_order_decision")["status"] == "met"
    assert clock(view, "order_expiry")["status"] == "running"
    assert clock(view, "resolution")["status"] == "running"


def test_a_ruling_on_a_litigation_referral_fails_outcome_fits_kind(network: Network) -> None:
    case_id = register(network, category="domestic_violence")
    trigger(network, "cw1", case_id, "refer", {"kind": "litigation", "summary": "s"})
    trigger(network, "liaison", case_id, "acknowledge", {"docket_number": "d"})
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "liaison", case_id, "rule", {"outcome": "denied"})
    assert refused.value.details["rule"] == "outcome_fits_kind"
    with pytest.raises(GuardFailed):
        trigger(network, "liaison", case_id, "decide", {"outcome": "confirmed"})
    with pytest.raises(ValidationFailed):
        trigger(network, "liaison", case_id, "decide", {"outcome": "granted"})


def test_return_sends_the_case_back_to_mediation_with_a_fresh_resolution_clock(
    network: Network,
) -> None:
    case_id = register(network, category="domestic_violence")
    trigger(network, "cw1", case_id, "refer", {"kind": "litigation", "summary": "s"})
    view = trigger(network, "liaison", case_id, "return", {"reason": "材料不全"})
    assert view["state"] == "mediation"
    assert clock(view, "acknowledgement")["status"] == "met"
    assert clock(view, "resolution")["status"] == "running"


def test_a_liaison_may_not_act_outside_the_referral(network: Network) -> None:
    case_id = register(network, category="domestic_violence")
    trigger(network, "cw1", case_id, "refer", {"kind": "litigation", "summary": "s"})
    trigger(network, "liaison", case_id, "return", {"reason": "r"})
    with pytest.raises(Forbidden):
        trigger(network, "liaison", case_id, "settle", {"agreement": "a"})
    with pytest.raises(InvalidTransition):
        trigger(network, "liaison", case_id, "acknowledge", {"docket_number": "d"})


def test_judicial_confirmation_follows_a_settlement_within_30_days(network: Network) -> None:
    case_id = settled_case(network)
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "cw1", case_id, "refer", {"kind": "litigation", "summary": "s"})
    assert refused.value.details["rule"] == "kind_not_allowed_from_state"
    view = trigger(
        network, "cw1", case_id, "refer", {"kind": "judicial_confirmation", "summary": "确认"}
    )
    assert view["state"] == "referred"
    assert clock(view, "follow_up")["status"] == "stopped"


def test_judicial_confirmation_is_refused_after_the_window(network: Network) -> None:
    rt = network.rt
    case_id = settled_case(network)
    rt.clock.advance(timedelta(days=31))
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "cw1", case_id, "refer", {"kind": "judicial_confirmation", "summary": "s"})
    assert refused.value.details["rule"] == "judicial_confirmation_window"


def test_reopen_within_90_days_and_not_after_a_binding_decision(network: Network) -> None:
    rt = network.rt
    case_id = register(network)
    rt.clock.advance(timedelta(hours=1))
    trigger(network, "cw1", case_id, "withdraw", {"reason": "本人撤回"})
    rt.clock.advance(timedelta(days=30))
    view = trigger(network, "sup_t1", case_id, "reopen", {"reason": "再次求助"})
    assert view["state"] == "mediation"
    late = register(network)
    trigger(network, "cw1", late, "withdraw", {"reason": "r"})
    rt.clock.advance(timedelta(days=91))
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "sup_t1", late, "reopen", {"reason": "r"})
    assert refused.value.details["rule"] == "reopen_window"
    binding = register(network, category="domestic_violence")
    trigger(network, "cw1", binding, "refer", {"kind": "litigation", "summary": "s"})
    trigger(network, "liaison", binding, "acknowledge", {"docket_number": "d"})
    trigger(network, "liaison", binding, "decide", {"outcome": "judgment"})
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "sup_t1", binding, "reopen", {"reason": "r"})
    assert refused.value.details["rule"] == "reopen_not_binding"


def test_extend_is_refused_once_resolution_is_breached(network: Network) -> None:
    rt = network.rt
    case_id = register(network)
    trigger(network, "cw1", case_id, "accept")
    rt.clock.advance(timedelta(days=70))
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "sup_t1", case_id, "extend", {"days": 10, "reason": "r"})
    assert refused.value.details["rule"] == "extend_before_deadline"


def test_a_follow_up_meets_the_follow_up_clock(network: Network) -> None:
    rt = network.rt
    case_id = settled_case(network)
    rt.clock.advance(timedelta(days=5))
    with tx(rt) as session:
        actions.record_follow_up(
            rt, session, network.actor("cw1"), case_id, rt.now() - timedelta(hours=1), "履行良好"
        )
    view = view_of(network, case_id)
    assert clock(view, "follow_up")["status"] == "met"


def test_the_mandatory_report_clock_survives_leaving_the_state_and_is_met_by_the_report(
    network: Network,
) -> None:
    rt = network.rt
    case_id = register(
        network,
        category="child_protection",
        victim={"name": "小明", "is_minor": True, "relation": "son"},
    )
    rt.clock.advance(timedelta(hours=1))
    view = trigger(network, "cw1", case_id, "accept")
    assert clock(view, "mandatory_report")["status"] == "running"
    with tx(rt) as session:
        actions.record_report(
            rt,
            session,
            network.actor("cw1"),
            case_id,
            rt.now() - timedelta(minutes=5),
            "区公安分局",
            "报案回执001",
        )
    view = view_of(network, case_id)
    assert clock(view, "mandatory_report")["status"] == "met"


def test_an_update_that_shows_a_minor_victim_opens_the_mandatory_report_clock(
    network: Network,
) -> None:
    rt = network.rt
    case_id = register(network, category="domestic_violence")
    with tx(rt) as session:
        actions.update_case(
            rt,
            session,
            network.actor("cw1"),
            case_id,
            1,
            {"victim": {"is_minor": True, "relation": "daughter"}},
        )
    view = view_of(network, case_id)
    assert clock(view, "mandatory_report")["status"] == "running" and view["version"] == 2


def test_suspending_a_clock_is_for_supervisors_and_running_clocks_only(network: Network) -> None:
    rt = network.rt
    case_id = register(network)
    with pytest.raises(Forbidden), tx(rt) as session:
        actions.suspend_clock(rt, session, network.actor("cw1"), case_id, "acceptance", "等待鉴定")
    with tx(rt) as session:
        actions.suspend_clock(
            rt, session, network.actor("sup_t1"), case_id, "acceptance", "等待鉴定"
        )
    with pytest.raises(InvalidTransition), tx(rt) as session:
        actions.suspend_clock(rt, session, network.actor("sup_t1"), case_id, "acceptance", "again")
    rt.clock.advance(timedelta(days=3))
    with tx(rt) as session:
        actions.resume_clock(rt, session, network.actor("sup_t1"), case_id, "acceptance", None)
    view = view_of(network, case_id)
    acceptance = clock(view, "acceptance")
    # Suspended Friday 11-20 to Monday 11-23: four local days touched, 12-05 + 4 = 12-09.
    assert acceptance["status"] == "running"
    assert acceptance["due_at"].startswith("2026-12-09T16:00")
    assert acceptance["suspended_seconds"] == 3 * 86400


def test_the_clock_opened_on_a_holiday_eve_rolls_past_the_holiday(network: Network) -> None:
    rt = network.rt
    # 2026-09-16 + 15 days = 2026-10-01, National Day: rolls to the first working day after.
    rt.clock.set(rt.clock.now().replace(month=9, day=16))
    case_id = register(network)
    view = view_of(network, case_id)
    acceptance = clock(view, "acceptance")
    assert acceptance["computation"]["rolled_from"] == date(2026, 10, 1).isoformat()
    assert acceptance["due_at"] > "2026-10-07"
