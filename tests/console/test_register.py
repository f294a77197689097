"""Registering a complaint: field-by-field messages and the mandatory-report duty."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.console.conftest import Console
from tests.support import tx
from workflow.runtime import Runtime
from workflow.storage.models import Case, ClockInstance

FORM = {
    "channel": "phone",
    "received_at": "2026-11-20T09:30",
    "category": "marriage_family",
    "risk": "low",
    "c_name": "李梅",
    "c_phone": "13800001111",
    "c_consents_to_sms": "y",
    "r_name": "赵刚",
    "r_relation": "spouse",
    "summary": "丈夫不给生活费",
}


def _cases(rt: Runtime) -> list[Case]:
    with tx(rt) as session:
        found = list(session.scalars(select(Case)))
        for case in found:
            session.expunge(case)
        return found


def test_the_form_renders_with_every_field_labelled(console: Console) -> None:
    console.login("cw1", "en")
    body = console.text("/cases/new")
    for name in ("channel", "received_at", "category", "risk", "c_name", "c_phone", "summary"):
        assert f'for="{name}"' in body and f'id="{name}"' in body
    assert 'id="duty-notice"' in body and "hidden" in body.split('id="duty-notice"')[1][:200]


def test_a_complete_form_registers_and_opens_the_case(console: Console, rt: Runtime) -> None:
    console.login("cw1", "en")
    response = console.post("/cases/new", FORM)
    assert response.status_code == 302
    [case] = _cases(rt)
    assert response.headers["Location"] == f"/cases/{case.id}"
    assert case.number == "V001-2026-00001" and case.channel == "phone"
    assert case.received_at.isoformat() == "2026-11-20T01:30:00+00:00"
    page = console.text(f"/cases/{case.id}")
    assert "Complaint registered as V001-2026-00001." in page
    assert "李*" in page and "李梅" not in page


def test_each_bad_field_gets_its_own_message(console: Console, rt: Runtime) -> None:
    console.login("cw1", "en")
    form: dict[str, Any] = {**FORM, "channel": "", "c_phone": "call me", "received_at": "soon"}
    response = console.post("/cases/new", form)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="channel-error"' in body and "Required." in body
    assert 'id="c_phone-error"' in body and "Digits, spaces" in body
    assert 'id="received_at-error"' in body
    assert 'aria-invalid="true"' in body
    assert 'value="李梅"' in body  # what was typed is kept
    assert _cases(rt) == []


def test_the_services_refusals_land_on_their_fields(console: Console, rt: Runtime) -> None:
    console.login("cw1", "en")
    response = console.post("/cases/new", {**FORM, "received_at": "2026-12-20T09:30"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="received_at-error"' in body
    assert "five minutes in the future" in body


def test_a_minor_victim_of_violence_shows_the_reporting_duty_at_once(
    console: Console, rt: Runtime
) -> None:
    console.login("cw1", "en")
    form = {**FORM, "category": "domestic_violence", "v_name": "李小花", "v_is_minor": "y"}
    checked = console.post("/cases/new", {**form, "action": "check"})
    assert checked.status_code == 200
    body = checked.get_data(as_text=True)
    notice = body.split('id="duty-notice"')[1][:200]
    assert "hidden" not in notice.split(">")[0]
    assert _cases(rt) == []  # checking registers nothing
    response = console.post("/cases/new", form)
    assert response.status_code == 302
    page = console.text(response.headers["Location"])
    assert "Mandatory report" in page
    with tx(rt) as session:
        assert session.scalar(
            select(ClockInstance.id).where(ClockInstance.name == "mandatory_report")
        )


def test_no_duty_without_a_minor_or_outside_the_violence_categories(console: Console) -> None:
    console.login("cw1", "en")
    for form in (
        {**FORM, "category": "domestic_violence"},
        {**FORM, "category": "property_rights", "v_name": "小花", "v_is_minor": "y"},
    ):
        body = console.post("/cases/new", {**form, "action": "check"}).get_data(as_text=True)
        assert "hidden" in body.split('id="duty-notice"')[1].split(">")[0]


def test_a_supervisor_registers_anywhere_in_the_subtree(console: Console, rt: Runtime) -> None:
    console.login("sup_t1", "en")
    assert 'id="station"' in console.text("/cases/new")
    assert console.post("/cases/new", {**FORM, "station": "V002"}).status_code == 302
    refused = console.post("/cases/new", {**FORM, "station": "V003"})
    assert refused.status_code == 422
    assert [c.number for c in _cases(rt)] == ["V002-2026-00001"]


def test_a_volunteer_registers_at_her_station(console: Console, rt: Runtime) -> None:
    console.login("vol1", "en")
    assert console.post("/cases/new", FORM).status_code == 302
    [case] = _cases(rt)
    assert case.assignee_id is None


def test_liaisons_and_admins_may_not_register(console: Console) -> None:
    for username in ("liaison", "admin"):
        console.login(username, "en")
        assert console.get("/cases/new").status_code == 403
        assert console.post("/cases/new", FORM).status_code == 403


def test_pressing_register_twice_makes_one_case(console: Console, rt: Runtime) -> None:
    console.login("cw1", "en")
    assert 'name="submission" type="hidden" value="' in console.text("/cases/new")
    form = {**FORM, "submission": "0123456789abcdef0123456789abcdef"}
    first = console.post("/cases/new", form)
    second = console.post("/cases/new", form)
    [case] = _cases(rt)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == f"/cases/{case.id}"
    # A new form (another submission value) registers a new complaint.
    console.post("/cases/new", {**form, "submission": "f" * 32})
    assert len(_cases(rt)) == 2
