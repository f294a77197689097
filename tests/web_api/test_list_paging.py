"""The case listing on both backends: totals (exact, capped, kept), views, filters, order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from tests.support import (
    Network,
    add_session,
    referred_case,
    register,
    registration,
    settled_case,
    trigger,
    tx,
)
from web.app import create_app
from workflow.crypto import Sealer
from workflow.privacy import mask_person
from workflow.services import clocks as clock_service
from workflow.services import queries
from workflow.services.actions import update_case
from workflow.services.auth import issue_token
from workflow.services.cases import allowed_events
from workflow.storage.models import Case, ClockInstance, User


class Lister:
    """GET calls as a named user, on the network's runtime (SQLite or PostgreSQL)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.client: FlaskClient = create_app(runtime=network.rt).test_client()
        self.tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            with tx(self.network.rt) as session:
                user = session.scalar(select(User).where(User.username == username))
                assert user is not None
                self.tokens[username] = issue_token(self.network.rt, session, user).token
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, path: str, username: str, status: int = 200) -> Any:
        response = self.client.get("/api/v1" + path, headers=self.headers(username))
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def listing(self, username: str, query: str = "") -> dict[str, Any]:
        return dict(self.get(f"/cases?{query}", username))

    def ids(self, username: str, query: str = "") -> list[int]:
        return [item["id"] for item in self.listing(username, query)["items"]]


@pytest.fixture
def lister(network: Network) -> Lister:
    return Lister(network)


def test_totals_below_the_cap_are_exact_on_every_page(
    lister: Lister, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network.rt.directory.totals, "cap", 3)
    ids = [register(network) for _ in range(3)]
    for page in (1, 2, 3, 4):
        listing = lister.listing("cw1", f"per_page=1&page={page}")
        assert listing["total"] == 3
        assert listing["page"] == page and listing["per_page"] == 1
        expected = [ids[3 - page]] if page <= 3 else []
        assert [item["id"] for item in listing["items"]] == expected
    register(network)
    assert lister.listing("cw1", "per_page=1")["total"] == 4  # nothing kept at or below the cap


def test_a_total_above_the_cap_is_kept_until_its_time_runs_out(
    lister: Lister, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = network.rt
    totals = rt.directory.totals
    monkeypatch.setattr(totals, "cap", 2)
    for _ in range(3):
        register(network)
    assert lister.listing("cw1", "per_page=1")["total"] == 3
    newest = register(network)
    listing = lister.listing("cw1", "per_page=1")
    assert listing["total"] == 3  # counted moments ago: kept
    assert [item["id"] for item in listing["items"]] == [newest]  # the page itself is fresh
    rt.clock.advance(totals.ttl - timedelta(seconds=1))
    assert lister.listing("cw1", "per_page=1&page=2")["total"] == 3  # any page, same total
    rt.clock.advance(timedelta(seconds=1))
    assert lister.listing("cw1", "per_page=1")["total"] == 4


def test_a_partial_last_page_tells_the_exact_total_whatever_is_kept(
    lister: Lister, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network.rt.directory.totals, "cap", 1)
    for _ in range(3):
        register(network)
    assert lister.listing("cw1", "per_page=2")["total"] == 3
    register(network)
    assert lister.listing("cw1", "per_page=2&page=2")["total"] == 3  # a full page: kept total
    listing = lister.listing("cw1", "per_page=3&page=2")
    assert listing["total"] == 4 and len(listing["items"]) == 1
    assert lister.listing("cw1", "per_page=100")["total"] == 4


def test_kept_totals_never_cross_scopes_or_filters(
    lister: Lister, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network.rt.directory.totals, "cap", 1)
    own = [register(network, "cw1") for _ in range(2)]
    other = [register(network, "cw2") for _ in range(3)]
    assert lister.listing("cw1", "per_page=1")["total"] == 2
    assert lister.listing("cw2", "per_page=1")["total"] == 3
    assert lister.ids("cw2", "per_page=100") == other[::-1]
    assert lister.listing("sup_t1", "per_page=1")["total"] == 5
    assert lister.listing("sup_t2", "per_page=1")["total"] == 0
    assert lister.listing("cw1b", "per_page=1")["total"] == 2  # same station, own entry
    assert lister.listing("sup_t1", "per_page=1&station=V002")["total"] == 3
    trigger(network, "cw1", own[0], "accept")
    assert lister.listing("cw1", "per_page=1&state=intake")["total"] == 1
    assert lister.listing("cw1", "per_page=1&state=mediation")["total"] == 1
    assert lister.listing("cw1", "per_page=1")["total"] == 2


def _reference_person(sealer: Sealer, sealed: str | None, facts: dict | None) -> dict | None:
    """The masked person as the views drew it before the lean path: mask the merge."""
    if sealed is None and not facts:
        return None
    return mask_person({**(sealer.open_json(sealed) or {}), **(facts or {})})


def _variety(network: Network) -> dict[str, int]:
    """Cases in every state, with victims, sessions, referrals and a breached clock."""
    rt = network.rt
    cases = {"settled": settled_case(network)}
    cases["declined"] = register(network)
    trigger(network, "sup_t1", cases["declined"], "decline", {"reason": "不属受理范围"})
    cases["referred"] = referred_case(network)
    cases["court"] = referred_case(network)
    trigger(network, "liaison", cases["court"], "acknowledge", {"docket_number": "(2026)01"})
    cases["minor"] = register(
        network,
        category="child_protection",
        risk="high",
        victim={"name": "小明", "is_minor": True, "relation": "son"},
    )
    cases["mediation"] = register(network, "cw2", complainant={"name": "李四", "phone": "139"})
    trigger(network, "cw2", cases["mediation"], "accept")
    rt.clock.advance(timedelta(hours=1))
    add_session(network, cases["mediation"], "cw2")
    cases["volunteer"] = register(network, "vol1")
    cases["late"] = register(network, "cw3", risk="medium")
    rt.clock.advance(timedelta(days=20))  # past the acceptance deadlines still running
    cases["fresh"] = register(network, "cw3", summary=None)
    return cases


@pytest.mark.parametrize("username", ["cw1", "cw2", "cw3", "vol1", "sup_d", "liaison"])
def test_every_listed_case_is_the_single_case_view(
    lister: Lister, network: Network, username: str
) -> None:
    _variety(network)
    listing = lister.listing(username, "per_page=100")
    assert listing["items"], username
    assert listing["total"] == len(listing["items"])
    for item in listing["items"]:
        assert item == lister.get(f"/cases/{item['id']}", username)


def test_listed_views_match_the_orm_reference_for_masks_and_allowed_events(
    lister: Lister, network: Network
) -> None:
    rt = network.rt
    cases = _variety(network)
    actor = network.actor("sup_d")
    items = lister.listing("sup_d", "per_page=100")["items"]
    assert {item["id"] for item in items} == set(cases.values())
    assert any(item["overdue"] for item in items) and not all(item["overdue"] for item in items)
    with tx(rt) as session:
        for item in items:
            case = session.get(Case, item["id"])
            assert case is not None
            facts = case.facts or {}
            for field, sealed in (
                ("complainant", case.complainant_sealed),
                ("victim", case.victim_sealed),
                ("respondent", case.respondent_sealed),
            ):
                expected = _reference_person(rt.sealer, sealed, facts.get(field))
                assert item[field] == expected, field
            assert item["summary"] == ("******" if case.summary_sealed else None)
            compiled = rt.workflow(case.workflow_key, session)
            open_clocks = clock_service.open_clocks_of(session, case.id)
            assert item["allowed_events"] == allowed_events(rt, compiled, actor, case, open_clocks)
            assert item["version"] == case.version and item["state"] == case.state


def test_the_complainant_is_masked_in_the_listing_and_whole_when_revealed(
    lister: Lister, network: Network
) -> None:
    case_id = register(network)
    [item] = lister.listing("cw1")["items"]
    assert item["complainant"]["name"] == "张**"
    assert item["complainant"]["phone"] == "138****1234"
    assert item["complainant"]["safe_phone"] == "139****1111"
    assert item["complainant"]["address"] == "******"
    assert item["summary"] == "******"
    whole = lister.get(f"/cases/{case_id}?reveal=true", "cw1")
    assert whole["complainant"]["name"] == "张小红"
    assert whole["summary"] == registration()["summary"]
    assert lister.listing("cw1")["items"] == [item]  # a reveal changes nothing listed


def test_filters_apply_to_the_items_and_the_total(lister: Lister, network: Network) -> None:
    cases = _variety(network)

    def both(query: str) -> set[int]:
        listing = lister.listing("sup_d", f"per_page=100&{query}")
        ids = [item["id"] for item in listing["items"]]
        assert listing["total"] == len(ids)
        return set(ids)

    assert both("state=closed") == {cases["settled"], cases["declined"]}
    assert both("state=court") == {cases["court"]}
    assert both("station=V003") == {cases["late"], cases["fresh"]}
    assert both("station=T01") == both("") - {cases["late"], cases["fresh"]}
    late = {
        item["id"] for item in lister.listing("sup_d", "per_page=100")["items"] if item["overdue"]
    }
    assert {cases["late"], cases["volunteer"]} <= late and cases["fresh"] not in late
    assert both("overdue=true") == late
    assert both("overdue=false") == both("") - late
    assert lister.ids("cw2", "assignee=me") == [cases["mediation"]]
    assert both(f"assignee={network.users['cw2']}") == {cases["mediation"]}
    assert both("q=139") == {cases["mediation"]}  # an exact phone number
    number = lister.get(f"/cases/{cases['late']}", "sup_d")["number"]
    assert both(f"q={number.lower()}") == {cases["late"]}  # a number prefix
    assert both("state=closed&station=V001&overdue=false") == {cases["settled"], cases["declined"]}
    for query in ("station=NOPE", "assignee=someone"):
        for _ in range(2):  # a refused filter is refused again, never kept
            error = lister.get(f"/cases?{query}", "sup_d", status=422)
            assert error["error"]["code"] == "validation_error"


def test_newest_received_first_then_the_higher_id(lister: Lister, network: Network) -> None:
    now = network.rt.now()
    at = [now - timedelta(hours=h) for h in (2, 3, 2, 1)]
    ids = [register(network, received_at=moment) for moment in at]
    assert lister.ids("cw1") == [ids[3], ids[2], ids[0], ids[1]]
    assert lister.ids("cw1", "per_page=2&page=2") == [ids[0], ids[1]]


def test_a_case_without_clocks_reads_the_same_listed_and_alone(
    lister: Lister, network: Network
) -> None:
    case_id = register(network)
    with tx(network.rt) as session:
        session.execute(delete(ClockInstance).where(ClockInstance.case_id == case_id))
    alone = lister.get(f"/cases/{case_id}", "cw1")
    assert alone["clocks"] == [] and alone["overdue"] is False
    assert lister.listing("cw1")["items"] == [alone]


def test_a_case_out_of_scope_is_not_found_before_its_query_string_is_read(
    lister: Lister, network: Network
) -> None:
    case_id = register(network, "cw2")
    for path in (f"/cases/{case_id}", f"/cases/{case_id}?reveal=maybe"):
        assert lister.get(path, "cw1", status=404)["error"]["code"] == "not_found"
    assert lister.get(f"/cases/{case_id}?reveal=maybe", "cw2", status=422)
    assert lister.get(f"/cases/{case_id}", "admin", status=403)["error"]["code"] == "forbidden"


def test_a_kept_listed_view_follows_every_change_and_the_passing_of_time(
    lister: Lister, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed views are kept by the rows they are drawn from: a case that changed is drawn
    anew, an unchanged one is not, and what depends on the moment is never kept."""
    drawn: list[int] = []
    draw = queries._draw_masked

    def counting(*args: Any) -> dict[int, dict[str, Any]]:
        views = draw(*args)
        drawn.extend(views)
        return views

    monkeypatch.setattr(queries, "_draw_masked", counting)
    rt = network.rt
    quiet, busy = register(network), register(network)

    def listed() -> dict[int, dict[str, Any]]:
        items = lister.listing("cw1", "per_page=100")["items"]
        for item in items:
            assert item == lister.get(f"/cases/{item['id']}", "cw1")
        return {item["id"]: item for item in items}

    first = listed()
    assert sorted(drawn) == sorted([quiet, busy])
    drawn.clear()
    assert listed() == first and drawn == []  # nothing changed: nothing drawn

    trigger(network, "cw1", busy, "accept")
    after = listed()
    assert drawn == [busy]  # only the case that changed
    assert after[busy]["state"] == "mediation" and after[quiet] == first[quiet]

    drawn.clear()
    with tx(rt) as session:
        update_case(
            rt,
            session,
            network.actor("sup_t1"),
            quiet,
            1,
            {"victim": {"name": "赵六", "relation": "daughter", "is_minor": True}},
        )
    changed = listed()
    assert drawn == [quiet]
    assert (
        changed[quiet]["victim"] is not None and changed[quiet]["victim"] != first[quiet]["victim"]
    )

    # Time alone, no write: the acceptance clock passes its deadline.
    drawn.clear()
    assert changed[quiet]["overdue"] is False
    rt.clock.advance(timedelta(days=40))
    lister.tokens.clear()  # expired by now
    late = listed()
    assert drawn == []  # same rows: the kept view, completed for this moment
    assert late[quiet]["overdue"] is True
    assert {c["status"] for c in late[quiet]["clocks"]} == {"breached"}
    assert late[quiet]["allowed_events"] == lister.get(f"/cases/{quiet}", "cw1")["allowed_events"]
