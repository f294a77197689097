"""The work lists around cases: queue order, the dashboard, the liaison inbox, notifications,
reports, and friendly error pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from tests.console.conftest import Console, fire, register
from workflow.runtime import Runtime
from workflow.services import outbox
from workflow.services.sweep import sweep


def test_the_queue_puts_the_nearest_deadline_first(console: Console, rt: Runtime) -> None:
    slow = register(rt)  # 15 days
    urgent = register(rt, risk="emergency")  # 24 hours
    console.login("cw1", "en")
    body = console.text("/queue")
    assert body.index(urgent["number"]) < body.index(slow["number"])


def test_the_queue_separates_my_cases_from_my_stations(console: Console, rt: Runtime) -> None:
    mine = register(rt, "cw1")
    theirs = register(rt, "cw1b")
    console.login("cw1", "en")
    body = console.text("/queue")
    assigned, station = body.split("My station", 1)
    assert mine["number"] in assigned and theirs["number"] in station


def test_the_dashboard_counts_overdue_and_escalated_cases_by_station(
    console: Console, rt: Runtime
) -> None:
    register(rt, "cw1")
    register(rt, "cw2")
    register(rt, "cw3")
    rt.clock.advance(timedelta(days=20))  # type: ignore[attr-defined]
    sweep(rt)
    console.login("sup_t1", "en")
    body = console.text("/dashboard")
    assert "V001" in body and "V002" in body and "V003" not in body
    assert "Level 2" in body  # two working days past the deadline
    console.login("sup_d", "en")
    assert "V003" in console.text("/dashboard")


def test_the_liaison_inbox_lists_awaiting_referrals_first(console: Console, rt: Runtime) -> None:
    first = register(rt, risk="high")
    second = register(rt, risk="high")
    fire(rt, first, "refer", kind="litigation", summary="a")
    fire(rt, second, "refer", kind="protection_order", summary="b")
    fire(rt, first, "acknowledge", "liaison", docket_number="1")
    console.login("liaison", "en")
    body = console.text("/referrals")
    awaiting, done = body.split("Acknowledged, returned or decided", 1)
    assert second["number"] in awaiting and first["number"] in done


def test_notifications_show_the_unread_count_and_are_marked_read(
    console: Console, rt: Runtime
) -> None:
    case = register(rt, risk="high")
    fire(rt, case, "refer", kind="litigation", summary="a")
    for outbox_id in outbox.claim(rt):
        outbox.perform(rt, outbox_id, outbox.Ports())
    console.login("liaison", "en")
    body = console.text("/notifications")
    assert 'class="badge"' in body and case["number"] in body
    assert console.post("/notifications/read-all").status_code == 302
    assert 'class="badge"' not in console.text("/notifications")


def test_the_report_draws_svg_charts_and_exports_csv(console: Console, rt: Runtime) -> None:
    register(rt)
    register(rt, channel="phone")
    console.login("sup_t1", "en")
    body = console.text("/reports?from=2026-11-01&to=2026-11-30")
    assert "<svg" in body and 'class="bar"' in body and "Phone call" in body
    response = console.get("/reports/summary.csv?from=2026-11-01&to=2026-11-30&station=V001")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "by_channel,visit,1" in response.get_data(as_text=True)


def test_a_bad_report_date_is_a_field_message(console: Console) -> None:
    console.login("sup_t1", "en")
    response = console.get("/reports?from=yesterday&to=2026-11-30")
    assert response.status_code == 422
    assert 'id="from-error"' in response.get_data(as_text=True)
    response = console.get("/reports?from=2026-11-30&to=2026-11-01")
    assert response.status_code == 422


def test_an_unknown_page_is_a_friendly_404_and_the_api_keeps_json(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "text/html" in page.content_type
    assert "<h1>" in page.get_data(as_text=True)
    api = client.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_a_database_outage_is_a_friendly_503(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.login("cw1", "en")

    def down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT", {}, Exception("down"))

    monkeypatch.setattr("web.console.queue.work_queue", down)
    response = console.get("/queue")
    assert response.status_code == 503
    assert "Nothing was saved" in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_friendly_page(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.login("cw1", "en")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("web.console.queue.work_queue", broken)
    response = console.get("/queue")
    assert response.status_code == 500
    assert "<h1>" in response.get_data(as_text=True)


def test_pages_carry_security_headers(console: Console, rt: Runtime) -> None:
    console.login("cw1", "en")
    response = console.get("/queue")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
