"""The public self-description, health, the workflow and calendar calls, and the summary report."""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta

import pytest

from tests.web_api.conftest import Api
from web.app import create_app
from workflow.clock import MovableClock
from workflow.runtime import Runtime

CONTRACT_PATHS = {
    ("post", "/api/v1/auth/token"),
    ("delete", "/api/v1/auth/token"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{case_id}"),
    ("patch", "/api/v1/cases/{case_id}"),
    ("post", "/api/v1/cases/{case_id}/transitions"),
    ("get", "/api/v1/cases/{case_id}/transitions"),
    ("get", "/api/v1/cases/{case_id}/timeline"),
    ("post", "/api/v1/cases/{case_id}/notes"),
    ("post", "/api/v1/cases/{case_id}/sessions"),
    ("post", "/api/v1/cases/{case_id}/assignment"),
    ("post", "/api/v1/cases/{case_id}/transfer"),
    ("post", "/api/v1/cases/{case_id}/follow-ups"),
    ("post", "/api/v1/cases/{case_id}/reports"),
    ("post", "/api/v1/cases/{case_id}/clocks/{clock}/suspend"),
    ("post", "/api/v1/cases/{case_id}/clocks/{clock}/resume"),
    ("get", "/api/v1/cases/{case_id}/referral-package"),
    ("get", "/api/v1/cases/{case_id}/access-log"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/stations"),
    ("get", "/api/v1/users"),
    ("get", "/api/v1/referrals"),
    ("get", "/api/v1/reports/summary"),
    ("get", "/api/v1/reports/summary.csv"),
    ("get", "/api/v1/workflow"),
    ("get", "/api/v1/calendar/{year}"),
    ("put", "/api/v1/calendar/days/{day}"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
}


def test_openapi_json_is_public_and_lists_every_path(api: Api) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    listed = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert CONTRACT_PATHS <= listed
    registration = document["components"]["schemas"]["CaseRegistration"]
    assert registration["additionalProperties"] is False
    assert set(registration["required"]) == {"channel", "category", "risk"}
    transition = document["paths"]["/api/v1/cases/{case_id}/transitions"]["post"]
    assert transition["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TransitionRequest"
    }
    assert document["paths"]["/api/v1/auth/token"]["post"]["security"] == []


def test_healthz_reports_database_and_broker(api: Api) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_names_an_unreachable_broker(rt: Runtime) -> None:
    rt.settings = rt.settings.with_overrides(broker_url="redis://127.0.0.1:1/0")
    response = create_app(runtime=rt).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "ok",
        "broker": "unavailable",
    }


def test_the_workflow_lists_states_events_and_clocks(api: Api) -> None:
    workflow = api.get("/workflow", "cw1").get_json()
    assert [s["name"] for s in workflow["states"]] == [
        "intake",
        "mediation",
        "referred",
        "court",
        "closed",
    ]
    events = {e["name"]: e for e in workflow["events"]}
    assert events["accept"]["from"] == ["intake"] and events["accept"]["to"] == "mediation"
    assert events["accept"]["roles"] == ["caseworker", "supervisor"]
    assert events["refer"]["data"]["kind"]["enum"] == [
        "litigation",
        "protection_order",
        "judicial_confirmation",
    ]
    assert "session_required" in events["refer"]["guards"]
    clocks = {c["name"]: c for c in workflow["clocks"]}
    assert clocks["acceptance"]["lengths"][-1] == {"when": {}, "unit": "days", "length": 15}
    assert clocks["acceptance"]["basis"]


def test_the_calendar_shows_official_and_provisional_years(api: Api) -> None:
    year = api.get("/calendar/2026", "cw1").get_json()
    assert year["year"] == 2026 and year["status"] == "official"
    assert any(d["date"] == "2026-10-01" for d in year["rest_days"])
    assert all(set(d) == {"date", "name"} for d in year["working_days"])
    assert api.get("/calendar/2031", "cw1").get_json()["status"] == "provisional"
    assert api.get("/calendar/1066", "cw1").status_code == 422


def test_an_admin_corrects_a_day_and_open_clocks_are_recomputed(api: Api) -> None:
    case = api.register()
    due = case["clocks"][0]["due_at"]  # 15 days on: the end of Tuesday 17 March
    body = {"kind": "rest", "name": "local flood day"}
    refused = api.call("PUT", "/calendar/days/2026-03-17", "sup_d", json=body)
    assert refused.status_code == 403
    changed = api.call("PUT", "/calendar/days/2026-03-17", "admin", json=body)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() == {
        "date": "2026-03-17",
        "kind": "rest",
        "name": "local flood day",
        "recomputed": 1,
    }
    moved = api.get(f"/cases/{case['id']}", "cw1").get_json()["clocks"][0]["due_at"]
    assert moved > due
    bad = api.call("PUT", "/calendar/days/2026-02-30", "admin", json=body)
    assert bad.status_code == 422 and "date" in bad.get_json()["error"]["details"]["fields"]


def test_the_summary_counts_cases_received_in_the_range(api: Api, clock: MovableClock) -> None:
    first = api.register()
    api.register(channel="visit", category="domestic_violence", risk="high")
    api.register("cw3")
    clock.advance(timedelta(hours=36))
    assert api.fire(first, "accept").status_code == 200
    query = "?from=2026-03-01&to=2026-03-31"
    report = api.get("/reports/summary" + query, "sup_t1").get_json()
    assert report["total"] == 2
    assert report["by_channel"] == {"phone": 1, "visit": 1}
    assert report["by_category"] == {"domestic_violence": 1, "marriage_family": 1}
    assert report["by_state"] == {"intake": 1, "mediation": 1}
    assert report["by_closure"] == []
    assert report["overdue_share"] == 0
    assert report["median_days_to_acceptance"] == 1.5
    district = api.get("/reports/summary" + query, "sup_d").get_json()
    assert district["total"] == 3
    only_v02 = api.get("/reports/summary" + query + "&station=V02", "sup_d").get_json()
    assert only_v02["total"] == 0 and only_v02["median_days_to_acceptance"] is None
    april = api.get("/reports/summary?from=2026-04-01&to=2026-04-30", "sup_d").get_json()
    assert april["total"] == 0


def test_the_summary_overdue_share_counts_breached_clocks(api: Api, clock: MovableClock) -> None:
    api.register()
    api.register()
    late = api.register(risk="emergency")
    assert late["clocks"][0]["computation"]["unit"] == "hours"
    clock.advance(timedelta(hours=30))
    report = api.get("/reports/summary?from=2026-03-02&to=2026-03-02", "cw1").get_json()
    assert report["overdue_share"] == round(1 / 3, 4)


def test_the_summary_as_csv(api: Api) -> None:
    api.register()
    response = api.get("/reports/summary.csv?from=2026-03-01&to=2026-03-31", "cw1")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["section", "key", "value"]
    assert ["total", "cases", "1"] in rows
    assert ["by_channel", "phone", "1"] in rows
    missing = api.get("/reports/summary.csv?from=2026-03-01", "cw1")
    assert missing.status_code == 422
    assert missing.get_json()["error"]["details"]["fields"] == {"to": "required"}


def test_access_log_lines_carry_no_query_string(
    app: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info(
            '%s - - [%s] "%s" %s %s',
            "127.0.0.1",
            "02/Mar/2026 10:00:00",
            "GET /api/v1/cases?q=13812341234&page=1 HTTP/1.1",
            200,
            "-",
        )
    assert "13812341234" not in caplog.text
    assert "GET /api/v1/cases HTTP/1.1" in caplog.text
