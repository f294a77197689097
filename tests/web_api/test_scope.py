"""Who sees which case: out of scope is 404, a role that may not is 403."""

from __future__ import annotations

from datetime import timedelta

from tests.web_api.conftest import Api
from workflow.clock import MovableClock


def _code(response) -> str:  # noqa: ANN001 - a test response
    return response.get_json()["error"]["code"]


def test_another_villages_caseworker_gets_404_on_every_case_call(api: Api) -> None:
    case = api.register()
    base = f"/cases/{case['id']}"
    for method, path in [
        ("GET", base),
        ("GET", base + "?reveal=true"),
        ("PATCH", base),
        ("GET", base + "/timeline"),
        ("GET", base + "/transitions"),
        ("POST", base + "/transitions"),
        ("POST", base + "/notes"),
        ("POST", base + "/sessions"),
        ("POST", base + "/assignment"),
        ("POST", base + "/transfer"),
        ("POST", base + "/follow-ups"),
        ("POST", base + "/reports"),
        ("POST", base + "/clocks/acceptance/suspend"),
        ("POST", base + "/clocks/acceptance/resume"),
        ("GET", base + "/referral-package"),
        ("GET", base + "/access-log"),
    ]:
        response = api.call(method, path, "cw2", data="not even json")
        assert response.status_code == 404, (method, path, response.get_json())
        assert _code(response) == "not_found"
    assert api.get("/cases", "cw2").get_json()["total"] == 0


def test_a_town_supervisor_sees_the_towns_villages_only(api: Api) -> None:
    east = api.register("cw1")
    west = api.register("cw3")
    assert api.get(f"/cases/{east['id']}", "sup_t1").status_code == 200
    assert api.get(f"/cases/{west['id']}", "sup_t1").status_code == 404
    assert api.get("/cases", "sup_d").get_json()["total"] == 2


def test_a_liaison_sees_only_cases_referred_to_the_panel(api: Api, clock: MovableClock) -> None:
    kept = api.register()
    referred = api.register(risk="high")
    assert api.get(f"/cases/{referred['id']}", "liaison").status_code == 404
    clock.advance(timedelta(hours=1))
    assert api.fire(referred, "refer", kind="litigation", summary="起诉").status_code == 200
    assert api.get(f"/cases/{referred['id']}", "liaison").status_code == 200
    assert api.get(f"/cases/{kept['id']}", "liaison").status_code == 404
    listing = api.get("/cases", "liaison").get_json()
    assert [c["id"] for c in listing["items"]] == [referred["id"]]


def test_a_volunteer_sees_their_own_registrations_and_may_not_reveal(api: Api) -> None:
    own = api.register("vol1")
    other = api.register("cw1")
    assert own["assignee"] is None
    assert api.get(f"/cases/{own['id']}", "vol1").status_code == 200
    assert api.get(f"/cases/{other['id']}", "vol1").status_code == 404
    reveal = api.get(f"/cases/{own['id']}?reveal=true", "vol1")
    assert reveal.status_code == 403 and _code(reveal) == "forbidden"
    timeline = api.get(f"/cases/{own['id']}/timeline?reveal=true", "vol1")
    assert timeline.status_code == 403
    note = api.post(f"/cases/{own['id']}/notes", "vol1", json={"text": "补充材料"})
    assert note.status_code == 201
    accept = api.fire(own, "accept", "vol1")
    assert accept.status_code == 403


def test_an_admin_gets_403_on_case_contents_but_reads_configuration(api: Api) -> None:
    case = api.register()
    for path in (f"/cases/{case['id']}", "/cases", f"/cases/{case['id']}/timeline"):
        response = api.get(path, "admin")
        assert response.status_code == 403 and _code(response) == "forbidden", path
    registered = api.post(
        "/cases", "admin", json={"channel": "phone", "category": "other", "risk": "low"}
    )
    assert registered.status_code == 403
    assert api.get(f"/cases/{case['id']}/access-log", "admin").status_code == 200
    stations = api.get("/stations", "admin").get_json()
    assert {s["code"] for s in stations} == {"D01", "T01", "T02", "V01", "V02", "V03", "C01"}


def test_the_access_log_is_for_supervisors_and_admins(api: Api) -> None:
    case = api.register()
    assert api.get(f"/cases/{case['id']}/access-log", "cw1").status_code == 403
    assert api.get(f"/cases/{case['id']}/access-log", "sup_t1").status_code == 200


def test_stations_and_users_are_those_in_scope(api: Api) -> None:
    stations = api.get("/stations", "sup_t1").get_json()
    assert [s["code"] for s in stations] == ["T01", "V01", "V02"]
    assert stations[1] == {
        "code": "V01",
        "name": "East village",
        "kind": "village",
        "parent": "T01",
    }
    users = api.get("/users?station=V01", "sup_t1").get_json()
    assert {u["username"] for u in users} == {"cw1", "cw1b", "vol1"}
    assert set(users[0]) == {"id", "username", "role", "station"}
    assert api.get("/users?station=NOPE", "sup_t1").status_code == 422


def test_the_referral_inbox_is_for_liaisons(api: Api) -> None:
    assert api.get("/referrals", "cw1").status_code == 403
    assert api.get("/referrals", "liaison").get_json() == []
