"""The transition service on SQLite and PostgreSQL: lifecycles, refusals that write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support import Network, add_session, register, trigger, tx
from workflow.errors import (
    Forbidden,
    GuardFailed,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from workflow.services import queries
from workflow.storage.models import CaseEvent, ClockInstance, OutboxMessage, Referral


def counts(network: Network) -> tuple[int, int, int]:
    with tx(network.rt) as session:
        return (
            session.scalar(select(func.count()).select_from(CaseEvent)),
            session.scalar(select(func.count()).select_from(ClockInstance)),
            session.scalar(select(func.count()).select_from(OutboxMessage)),
        )


def test_registration_numbers_cases_per_station_and_local_year(network: Network) -> None:
    first = register(network)
    second = register(network)
    with tx(network.rt) as session:
        actor = network.actor("cw1")
        numbers = [
            queries.get_case(network.rt, session, actor, i)["number"] for i in (first, second)
        ]
    assert numbers == ["V001-2026-00001", "V001-2026-00002"]


def test_a_mediated_case_settles_and_opens_the_follow_up_clock(network: Network) -> None:
    case_id = register(network)
    network.rt.clock.advance(timedelta(hours=2))
    view = trigger(network, "cw1", case_id, "accept")
    assert view["state"] == "mediation" and view["version"] == 2
    add_session(network, case_id)
    view = trigger(network, "cw1", case_id, "settle", {"agreement": "每月支付生活费2000元"})
    assert view["state"] == "closed"
    clocks = {c["clock"]: c["status"] for c in view["clocks"]}
    assert clocks == {"acceptance": "met", "resolution": "met", "follow_up": "running"}


def test_the_whole_court_lifecycle_walks_every_state(network: Network) -> None:
    case_id = register(network, category="domestic_violence", risk="high")
    trigger(network, "cw1", case_id, "accept")
    view = trigger(network, "cw1", case_id, "refer", {"kind": "litigation", "summary": "起诉离婚"})
    assert view["state"] == "referred"
    view = trigger(network, "liaison", case_id, "acknowledge", {"docket_number": "(2026)民初1号"})
    assert view["state"] == "court"
    view = trigger(network, "liaison", case_id, "decide", {"outcome": "judgment"})
    assert view["state"] == "closed"
    statuses = {c["clock"]: c["status"] for c in view["clocks"]}
    assert statuses["acknowledgement"] == "met" and statuses["court_outcome"] == "met"
    with tx(network.rt) as session:
        referral = session.scalar(select(Referral))
        assert referral.status == "decided"


def test_a_stale_version_is_refused_and_writes_nothing(network: Network) -> None:
    case_id = register(network)
    before = counts(network)
    with pytest.raises(VersionConflict):
        trigger(network, "cw1", case_id, "accept", version=7)
    assert counts(network) == before


def test_an_event_not_allowed_in_the_state_is_an_invalid_transition(network: Network) -> None:
    case_id = register(network)
    with pytest.raises(InvalidTransition):
        trigger(network, "cw1", case_id, "settle", {"agreement": "x"})
    with pytest.raises(InvalidTransition):
        trigger(network, "cw1", case_id, "no_such_event")


def test_a_role_without_the_event_is_forbidden(network: Network) -> None:
    case_id = register(network)
    with pytest.raises(Forbidden):
        trigger(network, "cw1", case_id, "decline", {"reason": "不属受理范围"})


def test_out_of_scope_is_not_found(network: Network) -> None:
    case_id = register(network)
    for username in ("cw2", "sup_t2", "liaison", "vol1"):
        with pytest.raises(NotFound):
            trigger(network, username, case_id, "accept")


def test_missing_data_is_a_validation_error_naming_the_field(network: Network) -> None:
    case_id = register(network)
    with pytest.raises(ValidationFailed) as refused:
        trigger(network, "cw1", case_id, "refer", {"kind": "litigation"})
    assert "summary" in refused.value.details["fields"]


def test_litigation_without_a_session_is_refused_for_low_risk(network: Network) -> None:
    case_id = register(network)
    trigger(network, "cw1", case_id, "accept")
    before = counts(network)
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "cw1", case_id, "refer", {"kind": "litigation", "summary": "s"})
    assert refused.value.details["rule"] == "session_required"
    assert counts(network) == before
    view = trigger(
        network,
        "cw1",
        case_id,
        "refer",
        {"kind": "litigation", "summary": "s", "mediation_declined": True},
    )
    assert view["state"] == "referred"


def test_extend_moves_the_resolution_deadline_once(network: Network) -> None:
    case_id = register(network)
    view = trigger(network, "cw1", case_id, "accept")
    due_before = next(c["due_at"] for c in view["clocks"] if c["clock"] == "resolution")
    view = trigger(network, "sup_t1", case_id, "extend", {"days": 10, "reason": "等待鉴定"})
    due_after = next(c["due_at"] for c in view["clocks"] if c["clock"] == "resolution")
    assert due_after > due_before
    with pytest.raises(GuardFailed) as refused:
        trigger(network, "sup_t1", case_id, "extend", {"days": 5, "reason": "again"})
    assert refused.value.details["rule"] == "extend_once"


def test_occurred_at_in_the_future_is_refused(network: Network) -> None:
    case_id = register(network)
    with pytest.raises(ValidationFailed) as refused:
        trigger(
            network, "cw1", case_id, "accept", occurred_at=network.rt.now() + timedelta(hours=1)
        )
    assert "occurred_at" in refused.value.details["fields"]


def test_a_refer_writes_the_outbox_rows_of_the_definition(network: Network) -> None:
    case_id = register(network)
    trigger(
        network,
        "cw1",
        case_id,
        "refer",
        {"kind": "protection_order", "summary": "申请保护令", "mediation_declined": True},
    )
    with tx(network.rt) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        works = [(r.work, tuple(r.payload.get("to", ()))) for r in rows]
        payload_text = " ".join(str(r.payload) for r in rows)
    assert ("notify", ("panel_liaisons",)) in works
    assert ("referral_package", ()) in works
    assert "张小红" not in payload_text and "13812341234" not in payload_text


def test_emergency_risk_gives_a_24_hour_acceptance_clock(network: Network) -> None:
    case_id = register(network, risk="emergency")
    with tx(network.rt) as session:
        view = queries.get_case(network.rt, session, network.actor("cw1"), case_id)
    acceptance = next(c for c in view["clocks"] if c["clock"] == "acceptance")
    assert (
        acceptance["computation"]["unit"] == "hours" and acceptance["computation"]["length"] == 24
    )


def test_a_backdated_registration_is_overdue_at_once(network: Network) -> None:
    rt = network.rt
    case_id = register(network, received_at=rt.now() - timedelta(days=20))
    with tx(rt) as session:
        view = queries.get_case(rt, session, network.actor("cw1"), case_id)
    assert view["overdue"] is True


def test_personal_data_are_encrypted_at_rest(network: Network) -> None:
    register(network)
    with network.rt.engine.connect() as connection:
        dump = " ".join(str(row) for row in connection.exec_driver_sql("SELECT * FROM cases"))
    assert "张小红" not in dump and "13812341234" not in dump and "东村三组" not in dump


def test_search_by_exact_phone_goes_through_the_blind_index(network: Network) -> None:
    case_id = register(network)
    rt = network.rt
    with tx(rt) as session:
        found = queries.list_cases(
            rt, session, network.actor("cw1"), queries.CaseFilter(q="13812341234")
        )
    assert [item["id"] for item in found["items"]] == [case_id]


def test_the_work_queue_puts_the_nearest_deadline_first(network: Network) -> None:
    rt = network.rt
    calm = register(network)
    urgent = register(network, risk="emergency")
    late = register(network, received_at=rt.now() - timedelta(days=20))
    closed = register(network)
    trigger(network, "cw1", closed, "withdraw", {"reason": "r"})
    with tx(rt) as session:
        queue = queries.work_queue(rt, session, network.actor("cw1"))
    assert [case["id"] for case in queue] == [late, urgent, calm]


def test_station_counts_show_open_overdue_and_escalated_cases(network: Network) -> None:
    from workflow.services import sweep

    rt = network.rt
    register(network)
    register(network, received_at=rt.now() - timedelta(days=25))
    register(network, "cw2")
    sweep.sweep(rt)
    with tx(rt) as session:
        counts = queries.station_counts(rt, session, network.actor("sup_t1"))
    assert counts == {
        "V001": {"open": 2, "overdue": 1, "escalated": 1},
        "V002": {"open": 1, "overdue": 0, "escalated": 0},
    }
