"""Every page for every role, and scope: out-of-scope cases answer 404 and appear nowhere."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import Console, fire, register
from tests.support import USERS
from workflow.runtime import Runtime

EVERYONE = [username for username, *_ in USERS]
ROLE = {username: role for username, role, *_ in USERS}

# (path, roles that get 200); every other role gets the status in the third column.
PAGES: list[tuple[str, set[str], int]] = [
    ("/queue", {"caseworker", "volunteer", "supervisor"}, 403),
    ("/cases", {"caseworker", "volunteer", "supervisor", "court_liaison"}, 403),
    ("/cases/new", {"caseworker", "volunteer", "supervisor"}, 403),
    ("/dashboard", {"supervisor"}, 403),
    ("/referrals", {"court_liaison"}, 403),
    ("/reports", {"caseworker", "supervisor", "admin"}, 403),
    ("/notifications", {"caseworker", "volunteer", "supervisor", "court_liaison", "admin"}, 403),
    ("/admin/stations", {"admin"}, 403),
    ("/admin/users", {"admin"}, 403),
    ("/admin/calendar", {"admin"}, 403),
    ("/admin/dead-letters", {"admin"}, 403),
    ("/admin/access-log", {"admin"}, 403),
]


@pytest.mark.parametrize("username", EVERYONE)
def test_every_page_answers_each_role_as_its_role_allows(
    console: Console, rt: Runtime, username: str
) -> None:
    register(rt)  # something to list
    console.login(username, "en")
    for path, allowed, refused in PAGES:
        response = console.get(path)
        role = ROLE[username]
        expected = 200 if role in allowed else refused
        if path == "/queue" and role == "court_liaison":
            expected = 404  # a liaison's work list is the referral inbox
        assert response.status_code == expected, (username, path, response.status_code)
        assert "text/html" in response.content_type
        if expected != 200:
            assert "<h1>" in response.get_data(as_text=True)  # a friendly page, not a bare error


@pytest.fixture
def cases(rt: Runtime) -> dict[str, dict[str, Any]]:
    """A: V001 in intake. B: V001, registered by the volunteer. C: V003, referred to C01."""
    a = register(rt, "cw1")
    b = register(rt, "vol1")
    c = register(rt, "cw3", risk="high")
    fire(rt, c, "refer", "cw3", kind="litigation", summary="转介摘要")
    return {"A": a, "B": b, "C": c}


# Who sees which case (200), who gets 404 (not in scope) or 403 (administrators).
SEES = {
    "A": {"cw1", "cw1b", "sup_t1", "sup_d"},
    "B": {"cw1", "cw1b", "vol1", "sup_t1", "sup_d"},
    "C": {"cw3", "sup_t2", "sup_d", "liaison"},
}


@pytest.mark.parametrize("username", EVERYONE)
def test_a_case_page_is_shown_in_scope_and_hidden_outside(
    console: Console, cases: dict[str, dict[str, Any]], username: str
) -> None:
    console.login(username, "en")
    for name, case in cases.items():
        response = console.get(f"/cases/{case['id']}")
        if ROLE[username] == "admin":
            expected = 403
        else:
            expected = 200 if username in SEES[name] else 404
        assert response.status_code == expected, (username, name)
        body = response.get_data(as_text=True)
        if expected != 200:
            assert case["number"] not in body


@pytest.mark.parametrize("username", EVERYONE)
def test_out_of_scope_cases_appear_in_no_list(
    console: Console, cases: dict[str, dict[str, Any]], username: str
) -> None:
    console.login(username, "en")
    pages = ["/queue", "/cases", "/dashboard", "/referrals", "/reports", "/notifications"]
    for path in pages:
        response = console.get(path)
        if response.status_code != 200:
            continue
        body = response.get_data(as_text=True)
        for name, case in cases.items():
            if username not in SEES[name]:
                assert case["number"] not in body, (username, path, name)
    for name, case in cases.items():
        if username in SEES[name]:
            continue
        # A search by its number (echoed in the search box) finds nothing.
        response = console.get(f"/cases?q={case['number']}")
        if response.status_code == 200:
            body = response.get_data(as_text=True)
            assert f'href="/cases/{case["id"]}"' not in body, (username, name)
            assert 'table class="cases"' not in body


def test_a_search_by_number_finds_a_case_in_scope(
    console: Console, cases: dict[str, dict[str, Any]]
) -> None:
    console.login("cw1", "en")
    body = console.text(f"/cases?q={cases['A']['number']}")
    assert cases["A"]["number"] in body


def test_out_of_scope_actions_answer_404_before_anything_else(
    console: Console, cases: dict[str, dict[str, Any]], rt: Runtime
) -> None:
    case = cases["A"]
    console.login("cw2", "en")
    for path, data in [
        (f"/cases/{case['id']}/transitions", {"event": "accept", "version": "1"}),
        (f"/cases/{case['id']}/notes", {"text": "x"}),
        (f"/cases/{case['id']}/reveal", {}),
        (f"/cases/{case['id']}/assignment", {"assignee_id": "1", "version": "1"}),
        (f"/cases/{case['id']}/reassessment", {"version": "x"}),
        (f"/cases/{case['id']}/sessions", {}),
    ]:
        response = console.post(path, data)
        assert response.status_code == 404, path
        assert case["number"] not in response.get_data(as_text=True)
    for path in (f"/cases/{case['id']}/referral-package", f"/cases/{case['id']}/access-log"):
        assert console.get(path).status_code == 404


def test_administrators_get_403_on_case_contents(
    console: Console, cases: dict[str, dict[str, Any]]
) -> None:
    console.login("admin", "en")
    case = cases["C"]
    assert console.get(f"/cases/{case['id']}").status_code == 403
    assert console.get(f"/cases/{case['id']}/referral-package").status_code == 403
    assert console.post(f"/cases/{case['id']}/reveal").status_code == 403
    # The access log is theirs to read.
    assert console.get(f"/cases/{case['id']}/access-log").status_code == 200


def test_a_nonexistent_case_is_404(console: Console) -> None:
    console.login("cw1", "en")
    assert console.get("/cases/999999").status_code == 404
    assert console.get("/cases/0").status_code == 404
    assert console.get("/cases/99999999999999999999999").status_code == 404


def test_the_referral_package_is_for_referred_cases_and_those_in_scope(
    console: Console, cases: dict[str, dict[str, Any]]
) -> None:
    package = f"/cases/{cases['C']['id']}/referral-package"
    for username, expected in [("liaison", 200), ("cw3", 200), ("sup_t2", 200), ("cw1", 404)]:
        console.login(username, "en")
        assert console.get(package).status_code == expected, username
    console.login("cw1", "en")
    assert console.get(f"/cases/{cases['A']['id']}/referral-package").status_code == 404


def test_the_access_log_is_for_supervisors(
    console: Console, cases: dict[str, dict[str, Any]]
) -> None:
    path = f"/cases/{cases['A']['id']}/access-log"
    for username, expected in [("sup_t1", 200), ("cw1", 403), ("cw2", 404), ("sup_t2", 404)]:
        console.login(username, "en")
        assert console.get(path).status_code == expected, username
