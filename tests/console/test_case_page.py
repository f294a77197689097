"""The case page: masked data and the audited reveal, clocks, timeline, and every action form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.console.conftest import Console, fire, register
from tests.support import tx
from workflow.runtime import Runtime
from workflow.services.cases import transition_options
from workflow.storage.models import AccessLogEntry, Case, CaseEvent, ClockInstance


def _case(rt: Runtime, case_id: int) -> Case:
    with tx(rt) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def _events(rt: Runtime, case_id: int) -> list[str]:
    with tx(rt) as session:
        return list(
            session.scalars(
                select(CaseEvent.type).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )


def test_personal_data_are_masked_until_shown_and_the_showing_is_logged(
    console: Console, rt: Runtime
) -> None:
    case = register(rt)
    console.login("cw1", "en")
    body = console.text(f"/cases/{case['id']}")
    assert "张**" in body and "138****1234" in body
    assert "张小红" not in body and "13812341234" not in body and "丈夫长期" not in body
    with tx(rt) as session:
        assert session.scalar(select(AccessLogEntry.id)) is None
    response = console.post(f"/cases/{case['id']}/reveal")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    shown = response.get_data(as_text=True)
    assert "张小红" in shown and "13812341234" in shown and "丈夫长期不给生活费" in shown
    with tx(rt) as session:
        entries = list(session.scalars(select(AccessLogEntry)))
        assert entries and {e.channel for e in entries} == {"console"}


def test_the_reveal_is_a_post_and_volunteers_may_not_reveal(console: Console, rt: Runtime) -> None:
    case = register(rt, "vol1")
    console.login("vol1", "en")
    body = console.text(f"/cases/{case['id']}")
    assert f"/cases/{case['id']}/reveal" not in body
    assert console.post(f"/cases/{case['id']}/reveal").status_code == 403
    assert console.get(f"/cases/{case['id']}/reveal").status_code == 405


def test_clocks_show_the_local_due_time_basis_and_time_left(console: Console, rt: Runtime) -> None:
    case = register(rt)  # received Friday 2026-11-20 10:00 Shanghai: 15 days → 12-07 (Monday)
    console.login("cw1", "en")
    body = console.text(f"/cases/{case['id']}")
    assert "Acceptance decision" in body
    assert "2026-12-07 24:00" in body
    assert "信访工作条例" in body
    assert "17 days" in body  # time left


def test_an_overdue_case_says_for_how_long(console: Console, rt: Runtime) -> None:
    case = register(rt)
    rt.clock.advance(timedelta(days=20))  # type: ignore[attr-defined]
    console.login("cw1", "en")
    queue = console.text("/queue")
    assert "Overdue by" in queue and case["number"] in queue
    page = console.text(f"/cases/{case['id']}")
    assert "overdue by 2 days" in page


def test_the_actions_are_exactly_the_transition_options(console: Console, rt: Runtime) -> None:
    case = register(rt)
    for username in ("cw1", "sup_t1"):
        console.login(username, "en")
        body = console.text(f"/cases/{case['id']}")
        with tx(rt) as session:
            from tests.console.conftest import actor

            options = transition_options(rt, session, actor(rt, username), case["id"])
        shown = {chunk.split('"', 1)[0] for chunk in body.split('name="event" value="')[1:]}
        assert shown == {o["event"] for o in options}, username
        assert f'name="version" value="{case["version"]}"' in body


def test_accepting_through_the_form_moves_the_case(console: Console, rt: Runtime) -> None:
    case = register(rt)
    console.login("cw1", "en")
    console.get(f"/cases/{case['id']}")
    response = console.post(f"/cases/{case['id']}/transitions", {"event": "accept", "version": "1"})
    assert response.status_code == 302
    assert _case(rt, case["id"]).state == "mediation"
    page = console.text(f"/cases/{case['id']}")
    assert "Done: Accept." in page


def test_a_stale_version_says_someone_else_changed_the_case(console: Console, rt: Runtime) -> None:
    case = register(rt)
    console.login("cw1", "en")
    console.get(f"/cases/{case['id']}")
    fire(rt, case, "accept", "cw1b")  # someone else, meanwhile
    response = console.post(
        f"/cases/{case['id']}/transitions",
        {"event": "withdraw", "version": "1", "data.reason": "她撤回了"},
    )
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "Someone else changed this case" in body
    assert "Reload the case" in body
    assert _case(rt, case["id"]).state == "mediation"


def test_missing_event_data_is_shown_beside_the_field(console: Console, rt: Runtime) -> None:
    case = register(rt, risk="high")
    console.login("cw1", "en")
    response = console.post(
        f"/cases/{case['id']}/transitions",
        {"event": "refer", "version": "1", "data.kind": "litigation"},
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="event-refer" open' in body
    assert 'id="event-refer-summary-error"' in body
    assert "Required." in body
    assert 'value="litigation" selected' in body  # what she typed is kept


def test_a_guard_refusal_explains_the_rule(console: Console, rt: Runtime) -> None:
    case = register(rt)  # low risk, marriage and family: litigation needs a session first
    console.login("cw1", "en")
    response = console.post(
        f"/cases/{case['id']}/transitions",
        {
            "event": "refer",
            "version": "1",
            "data.kind": "litigation",
            "data.summary": "需要诉讼",
        },
    )
    assert response.status_code == 422
    assert "Record a mediation session first" in response.get_data(as_text=True)
    assert _case(rt, case["id"]).state == "intake"


def test_a_role_may_not_trigger_another_roles_event(console: Console, rt: Runtime) -> None:
    case = register(rt)
    console.login("cw1", "en")
    response = console.post(
        f"/cases/{case['id']}/transitions",
        {"event": "decline", "version": "1", "data.reason": "不受理"},
    )
    assert response.status_code == 403


def _mediation(rt: Runtime, **overrides: Any) -> dict[str, Any]:
    case = register(rt, **overrides)
    fire(rt, case, "accept")
    return case


def test_recording_a_session_a_note_and_settling(console: Console, rt: Runtime) -> None:
    case = _mediation(rt)
    console.login("cw1", "en")
    assert (
        console.post(
            f"/cases/{case['id']}/sessions",
            {
                "held_at": "2026-11-20T10:00",
                "participants": "张小红\n王大力",
                "result": "双方同意再谈",
                "notes": "",
            },
        ).status_code
        == 302
    )
    assert console.post(f"/cases/{case['id']}/notes", {"text": "电话回访"}).status_code == 302
    response = console.post(
        f"/cases/{case['id']}/transitions",
        {"event": "settle", "version": str(case["version"]), "data.agreement": "每月给付"},
    )
    assert response.status_code == 302
    assert _events(rt, case["id"])[-3:] == ["record_session", "note", "settle"]
    body = console.text(f"/cases/{case['id']}")
    assert "Mediation session" in body and "******" in body  # notes stay masked
    assert "电话回访" not in body


def test_a_session_in_the_future_is_refused_beside_its_field(console: Console, rt: Runtime) -> None:
    case = _mediation(rt)
    console.login("cw1", "en")
    response = console.post(
        f"/cases/{case['id']}/sessions",
        {"held_at": "2027-01-01T10:00", "participants": "张小红", "result": "x"},
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Must not be in the future." in body and 'id="session" open' in body


def test_the_follow_up_after_closure(console: Console, rt: Runtime) -> None:
    case = _mediation(rt)
    with tx(rt) as session:
        from tests.console.conftest import actor
        from workflow.services import actions

        actions.record_session(
            rt, session, actor(rt, "cw1"), case["id"], rt.now(), ["张小红"], "调解", None
        )
    fire(rt, case, "settle", agreement="协议")
    rt.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    console.login("cw1", "en")
    body = console.text(f"/cases/{case['id']}")
    assert "Record a follow-up visit" in body
    response = console.post(
        f"/cases/{case['id']}/follow-ups",
        {"contacted_at": "2026-11-22T10:00", "result": "生活费已按时给付"},
    )
    assert response.status_code == 302
    with tx(rt) as session:
        clock = session.scalar(select(ClockInstance).where(ClockInstance.name == "follow_up"))
        assert clock is not None and clock.status == "met"


def test_the_mandatory_report_duty_and_its_record(console: Console, rt: Runtime) -> None:
    case = register(
        rt,
        category="domestic_violence",
        victim={"name": "王小花", "is_minor": True, "relation": "daughter"},
    )
    console.login("cw1", "en")
    body = console.text(f"/cases/{case['id']}")
    assert "Mandatory report due" in body
    response = console.post(
        f"/cases/{case['id']}/reports",
        {"filed_at": "2026-11-20T10:00", "agency": "县公安局", "reference": "JB-1"},
    )
    assert response.status_code == 302
    assert "Mandatory report due" not in console.text(f"/cases/{case['id']}")


def test_a_supervisor_suspends_and_resumes_a_clock(console: Console, rt: Runtime) -> None:
    case = register(rt)
    console.login("sup_t1", "en")
    body = console.text(f"/cases/{case['id']}")
    assert "Suspend this clock" in body
    assert (
        console.post(
            f"/cases/{case['id']}/clocks/acceptance/suspend", {"reason": "等待伤情鉴定"}
        ).status_code
        == 302
    )
    assert "Resume this clock" in console.text(f"/cases/{case['id']}")
    assert console.post(f"/cases/{case['id']}/clocks/acceptance/resume", {}).status_code == 302
    assert _events(rt, case["id"])[-2:] == ["suspend_clock", "resume_clock"]


def test_a_caseworker_cannot_suspend_a_clock(console: Console, rt: Runtime) -> None:
    case = register(rt)
    console.login("cw1", "en")
    assert "Suspend this clock" not in console.text(f"/cases/{case['id']}")
    response = console.post(f"/cases/{case['id']}/clocks/acceptance/suspend", {"reason": "x"})
    assert response.status_code == 403


def test_assign_transfer_and_reassess(console: Console, rt: Runtime) -> None:
    case = register(rt)
    with tx(rt) as session:
        from workflow.storage.models import User

        cw1b = session.scalar(select(User.id).where(User.username == "cw1b"))
    console.login("sup_t1", "en")
    assert (
        console.post(
            f"/cases/{case['id']}/assignment", {"assignee_id": str(cw1b), "version": "1"}
        ).status_code
        == 302
    )
    assert (
        console.post(
            f"/cases/{case['id']}/reassessment",
            {"version": "2", "risk": "high", "category": "marriage_family"},
        ).status_code
        == 302
    )
    assert (
        console.post(
            f"/cases/{case['id']}/transfer", {"station": "V002", "version": "3"}
        ).status_code
        == 302
    )
    moved = _case(rt, case["id"])
    assert moved.risk == "high" and moved.version == 4 and moved.assignee_id is None
    assert _events(rt, case["id"])[-3:] == ["assign", "update", "transfer"]


def test_the_liaison_acknowledges_and_decides(console: Console, rt: Runtime) -> None:
    case = register(rt, risk="high")
    fire(rt, case, "refer", kind="litigation", summary="起诉离婚")
    console.login("liaison", "en")
    inbox = console.text("/referrals")
    assert case["number"] in inbox and "Awaiting acknowledgement" in inbox
    assert (
        console.post(
            f"/cases/{case['id']}/transitions",
            {
                "event": "acknowledge",
                "version": str(case["version"]),
                "data.docket_number": "(2026)民初1号",
            },
        ).status_code
        == 302
    )
    response = console.post(
        f"/cases/{case['id']}/transitions",
        {"event": "decide", "version": str(case["version"] + 1), "data.outcome": "judgment"},
    )
    assert response.status_code == 302
    assert _case(rt, case["id"]).state == "closed"
    # Read only now: no action, no note.
    body = console.text(f"/cases/{case['id']}")
    assert 'name="event"' not in body and "Add a note" not in body


def test_the_referral_package_is_printable_and_logged(console: Console, rt: Runtime) -> None:
    case = register(rt, risk="high")
    fire(rt, case, "refer", kind="litigation", summary="起诉离婚")
    console.login("liaison", "en")
    response = console.get(f"/cases/{case['id']}/referral-package")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "张小红" in body and "print.css" in body and 'media="print"' in body
    with tx(rt) as session:
        channels = list(session.scalars(select(AccessLogEntry.channel)))
    assert channels and set(channels) == {"console"}
