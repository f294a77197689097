"""Notifications, escalations, dead letters and metrics over HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests.web_api.conftest import Api
from workflow.runtime import Runtime
from workflow.services import outbox, sweep
from workflow.storage.models import OutboxMessage


def deliver(rt: Runtime) -> None:
    while ids := outbox.claim(rt):
        for outbox_id in ids:
            outbox.perform(rt, outbox_id, outbox.Ports())


def test_a_referral_shows_in_the_liaisons_notifications_and_can_be_marked_read(
    api: Api, rt: Runtime
) -> None:
    case = api.register()
    assert (
        api.fire(case, "refer", kind="litigation", summary="s", mediation_declined=True).status_code
        == 200
    )
    deliver(rt)
    listed = api.get("/notifications?unread=true", "liaison").get_json()
    assert len(listed) == 1 and case["number"] in listed[0]["message"]
    assert "张" not in listed[0]["message"]
    read = api.post(f"/notifications/{listed[0]['id']}/read", "liaison")
    assert read.status_code == 200 and read.get_json()["read_at"]
    assert api.get("/notifications?unread=true", "liaison").get_json() == []
    # Another user cannot touch it.
    assert api.post(f"/notifications/{listed[0]['id']}/read", "cw1").status_code == 404


def test_escalations_list_the_overdue_cases_in_scope_only(api: Api, rt: Runtime) -> None:
    received = (rt.now() - timedelta(days=25)).isoformat()
    case = api.register(received_at=received)
    sweep.sweep(rt)
    mine = api.get("/escalations", "sup_t1").get_json()
    assert [(e["case_id"], e["clock"]) for e in mine] == [(case["id"], "acceptance")]
    assert mine[0]["level"] >= 2 and mine[0]["escalated_at"]
    assert api.get("/escalations", "cw2").get_json() == []


def test_dead_letters_are_listed_and_retried_by_an_administrator_only(
    api: Api, rt: Runtime
) -> None:
    api.register(risk="emergency")
    with rt.sessions() as session, session.begin():
        session.execute(update(OutboxMessage).values(status="dead", attempts=5, last_error="boom"))
    assert api.get("/admin/dead-letters", "cw1").status_code == 403
    letters = api.get("/admin/dead-letters", "admin").get_json()
    assert len(letters) == 1 and letters[0]["last_error"] == "boom"
    retried = api.post(f"/admin/dead-letters/{letters[0]['id']}/retry", "admin")
    assert retried.status_code == 200
    assert api.get("/admin/dead-letters", "admin").get_json() == []
    assert api.post(f"/admin/dead-letters/{letters[0]['id']}/retry", "admin").status_code == 404


def test_metrics_report_transitions_outbox_and_clocks(api: Api, rt: Runtime) -> None:
    case = api.register()
    api.fire(case, "accept")
    text = api.client.get("/metrics").get_data(as_text=True)
    assert 'carnation_transitions_total{event="accept"} 1.0' in text
    assert "carnation_outbox_depth 1.0" in text
    assert "carnation_clocks_running 1.0" in text
