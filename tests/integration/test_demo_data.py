"""The demo data: a network, users and cases made by the real services under a moved clock."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.support import tx
from workflow.clock import SystemClock
from workflow.errors import CarnationError
from workflow.runtime import Runtime
from workflow.services import admin, queries
from workflow.services.actors import load_actor
from workflow.services.auth import verify_password
from workflow.services.demo import (
    COURT,
    DEFAULT_PASSWORD,
    DISTRICT,
    DemoSummary,
    id_number_check,
    load_demo,
)
from workflow.storage.models import (
    Case,
    CaseEvent,
    ClockInstance,
    EscalationStep,
    OutboxMessage,
    Referral,
    Station,
    User,
)

SMALL = {"cases": 45, "villages": 24, "towns": 4}
STATES = {"intake", "mediation", "referred", "court", "closed"}
CATEGORIES = {
    "domestic_violence",
    "marriage_family",
    "property_rights",
    "employment",
    "child_protection",
    "sexual_harassment",
    "neighbour_dispute",
    "other",
}


def load_small(rt: Runtime) -> DemoSummary:
    return load_demo(rt, end=rt.now(), **SMALL)


def column_values(rt: Runtime, column) -> list:  # noqa: ANN001 - a mapped column
    with tx(rt) as session:
        return list(session.scalars(select(column)))


def table_counts(rt: Runtime) -> dict[str, int]:
    with tx(rt) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Station, User, Case, CaseEvent, ClockInstance, OutboxMessage)
        }


def test_the_default_network_has_218_villages_under_12_towns_and_every_role(
    runtime: Runtime,
) -> None:
    summary = load_demo(runtime, cases=10, end=runtime.now())
    assert summary.stations == {"district": 1, "town": 12, "village": 218, "court": 1}
    assert all(count > 0 for count in summary.users.values()), summary.users
    logins = {login.username: login for login in summary.logins}
    expected = {
        "admin": ("admin", "D01"),
        "district.sup": ("supervisor", "D01"),
        "town01.sup": ("supervisor", "T01"),
        "v001.cw": ("caseworker", "V001"),
        "v001.vol": ("volunteer", "V001"),
        "court.liaison": ("court_liaison", "C01"),
    }
    for username, (role, station) in expected.items():
        assert (logins[username].role, logins[username].station) == (role, station)
    assert any(login.email for login in summary.logins)
    assert any(login.language == "en" for login in summary.logins)
    with tx(runtime) as session:
        stations = {s.code: s for s in session.scalars(select(Station))}
        user = session.scalar(select(User).where(User.username == "v001.cw"))
        assert verify_password(user.password_hash, DEFAULT_PASSWORD)
    assert stations[DISTRICT[0]].name == DISTRICT[1] and stations[COURT[0]].name == COURT[1]
    villages = [s for s in stations.values() if s.kind == "village"]
    assert sorted(s.code for s in villages) == [f"V{n:03d}" for n in range(1, 219)]
    by_id = {s.id: s for s in stations.values()}
    assert all(by_id[v.parent_id].kind == "town" for v in villages)
    assert len({v.name for v in villages}) == 218


def test_cases_exist_in_every_state_with_every_category_and_risk(runtime: Runtime) -> None:
    summary = load_small(runtime)
    assert summary.refused == []
    assert summary.cases == SMALL["cases"]
    assert set(summary.states) == STATES and all(summary.states.values()), summary.states
    assert set(column_values(runtime, Case.category)) == CATEGORIES
    assert set(column_values(runtime, Case.risk)) == {"low", "medium", "high", "emergency"}
    assert len(set(column_values(runtime, Case.channel))) >= 4


def test_referrals_of_every_kind_and_every_closure_are_made_through_the_services(
    runtime: Runtime,
) -> None:
    load_small(runtime)
    assert set(column_values(runtime, Referral.kind)) == {
        "litigation",
        "protection_order",
        "judicial_confirmation",
    }
    assert "returned" in column_values(runtime, Referral.status)
    closed_by = set(column_values(runtime, Case.closed_by))
    assert {"settle", "close_unresolved", "decline", "withdraw", "decide"} <= closed_by
    events = set(column_values(runtime, CaseEvent.type))
    assert {"reopen", "extend", "rule", "report_filed", "record_session", "note"} <= events
    assert {"follow_up", "suspend_clock", "update"} <= events
    clocks = set(column_values(runtime, ClockInstance.name))
    assert {"mandatory_report", "order_expiry", "protection_order_decision"} <= clocks


def test_some_cases_are_overdue_and_were_escalated_by_the_sweep(runtime: Runtime) -> None:
    end = runtime.now()
    summary = load_small(runtime)
    assert runtime.now() == end
    assert summary.overdue > 0 and summary.escalated > 0
    with tx(runtime) as session:
        sup = session.scalar(select(User.id).where(User.username == "district.sup"))
        actor = load_actor(session, sup)
        assert actor is not None
        listed = queries.list_cases(runtime, session, actor, queries.CaseFilter(overdue=True))
        steps = set(session.scalars(select(EscalationStep.step)))
        statuses = set(session.scalars(select(OutboxMessage.status)))
    assert listed["total"] == summary.overdue
    assert {"reminder", "level1", "level2", "level3"} <= steps
    # The ladder's work is left for the product's own worker to deliver.
    assert statuses == {"pending"} and summary.pending_outbox > 0
    assert "deadline_breached" in column_values(runtime, CaseEvent.type)


def test_running_it_twice_adds_nothing(runtime: Runtime) -> None:
    first = load_small(runtime)
    before = table_counts(runtime)
    second = load_small(runtime)
    assert first.created and not second.created
    assert table_counts(runtime) == before
    assert second.states == first.states
    assert [login.username for login in second.logins] == [login.username for login in first.logins]


def test_no_two_complainants_share_a_phone_or_id_number_and_each_is_well_formed(
    runtime: Runtime,
) -> None:
    load_small(runtime)
    with tx(runtime) as session:
        people = [
            runtime.sealer.open_json(sealed)
            for sealed in session.scalars(select(Case.complainant_sealed))
        ]
        phone_index = list(session.scalars(select(Case.phone_index)))
    phones = [p["phone"] for p in people]
    id_numbers = [p["id_number"] for p in people]
    assert len(set(phones)) == len(phones) == len(set(phone_index))
    assert len(set(id_numbers)) == len(id_numbers)
    assert all(re.fullmatch(r"1[3-9][0-9]{9}", phone) for phone in phones)
    for number in id_numbers:
        assert re.fullmatch(r"[0-9]{17}[0-9X]", number)
        assert number[17] == id_number_check(number[:17])
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        assert 16 <= (runtime.now().date() - born).days // 365 <= 80
        assert int(number[16]) % 2 == 0  # complainants are women
    others = set(phones)
    for person in people:
        safe = person.get("safe_phone")
        assert safe is None or safe == person["phone"] or safe not in others


def test_a_database_with_another_network_is_refused(runtime: Runtime) -> None:
    with tx(runtime) as session:
        runtime.active_workflow(session)
        admin.create_station(session, "X01", "别区妇联", "district", None)
    with pytest.raises(CarnationError):
        load_small(runtime)
    assert table_counts(runtime)["cases"] == 0


def test_the_demo_needs_a_movable_clock(runtime: Runtime) -> None:
    runtime.clock = SystemClock()
    with pytest.raises(TypeError):
        load_demo(runtime, cases=1)
