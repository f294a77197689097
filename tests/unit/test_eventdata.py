"""Tests for event data validation against the shipped workflow's field specs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from workflow.definition import EventDef, WorkflowDefinition, load_definition
from workflow.eventdata import add_months, validate_event_data

SHIPPED_PATH = Path(__file__).resolve().parents[2] / "config/workflows/rights-protection.yaml"
TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def definition() -> WorkflowDefinition:
    return load_definition(SHIPPED_PATH)


def event(definition: WorkflowDefinition, name: str) -> EventDef:
    return definition.events[name]


def check(
    definition: WorkflowDefinition, name: str, data: object, today: date = TODAY
) -> tuple[dict[str, object], dict[str, str]]:
    return validate_event_data(event(definition, name), data, today)  # type: ignore[arg-type]


def test_an_event_without_data_fields_given_nothing_is_clean(
    definition: WorkflowDefinition,
) -> None:
    assert check(definition, "accept", {}) == ({}, {})


def test_valid_data_comes_back_cleaned(definition: WorkflowDefinition) -> None:
    data = {"kind": "litigation", "summary": "the dispute", "mediation_declined": True}
    assert check(definition, "refer", data) == (data, {})


def test_an_unknown_field_is_an_error(definition: WorkflowDefinition) -> None:
    clean, errors = check(definition, "withdraw", {"reason": "moved away", "mood": "sad"})
    assert errors == {"mood": "unknown field"}
    assert clean == {"reason": "moved away"}


def test_a_missing_required_field_is_an_error(definition: WorkflowDefinition) -> None:
    assert check(definition, "decline", {"redirect_to": "police"})[1] == {"reason": "required"}


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_null_and_blank_count_as_missing(definition: WorkflowDefinition, blank: object) -> None:
    clean, errors = check(definition, "decline", {"reason": blank, "redirect_to": blank})
    assert errors == {"reason": "required"}
    assert clean == {}


@pytest.mark.parametrize(
    ("name", "data", "field", "message"),
    [
        ("withdraw", {"reason": 5}, "reason", "must be a string"),
        (
            "acknowledge",
            {"docket_number": "A1", "urgent": "true"},
            "urgent",
            "must be true or false",
        ),
        ("acknowledge", {"docket_number": "A1", "urgent": 1}, "urgent", "must be true or false"),
        ("extend", {"days": True, "reason": "r"}, "days", "must be a whole number"),
        ("extend", {"days": 5.0, "reason": "r"}, "days", "must be a whole number"),
        ("extend", {"days": "5", "reason": "r"}, "days", "must be a whole number"),
        ("accept", {"assignee_id": "7"}, "assignee_id", "must be a whole number"),
        (
            "settle",
            {"agreement": "a", "effective_on": "2026/11/01"},
            "effective_on",
            "must be a date (YYYY-MM-DD)",
        ),
        (
            "settle",
            {"agreement": "a", "effective_on": "2026-02-30"},
            "effective_on",
            "must be a date (YYYY-MM-DD)",
        ),
        (
            "settle",
            {"agreement": "a", "effective_on": "2026-11-01T10:00:00+08:00"},
            "effective_on",
            "must be a date (YYYY-MM-DD)",
        ),
        (
            "settle",
            {"agreement": "a", "effective_on": 20261101},
            "effective_on",
            "must be a date (YYYY-MM-DD)",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error(
    definition: WorkflowDefinition, name: str, data: dict, field: str, message: str
) -> None:
    clean, errors = check(definition, name, data)
    assert errors == {field: message}
    assert field not in clean


def test_an_iso_date_is_parsed(definition: WorkflowDefinition) -> None:
    clean, errors = check(definition, "settle", {"agreement": "a", "effective_on": "2026-11-01"})
    assert errors == {}
    assert clean["effective_on"] == date(2026, 11, 1)


def test_settle_defaults_the_effective_date_to_today(definition: WorkflowDefinition) -> None:
    clean, errors = check(definition, "settle", {"agreement": "a"})
    assert errors == {}
    assert clean["effective_on"] == TODAY


def test_a_value_outside_the_enum_is_an_error(definition: WorkflowDefinition) -> None:
    _, errors = check(definition, "refer", {"kind": "arbitration", "summary": "s"})
    assert errors == {"kind": "must be one of: litigation, protection_order, judicial_confirmation"}


def test_an_outcome_in_no_kinds_list_is_a_validation_error(
    definition: WorkflowDefinition,
) -> None:
    assert check(definition, "decide", {"outcome": "acquitted"})[1].keys() == {"outcome"}


@pytest.mark.parametrize(("days", "ok"), [(0, False), (1, True), (30, True), (31, False)])
def test_extension_days_lie_between_1_and_30(
    definition: WorkflowDefinition, days: int, ok: bool
) -> None:
    _, errors = check(definition, "extend", {"days": days, "reason": "appraisal"})
    assert (errors == {}) is ok
    if not ok:
        assert errors["days"] in {"must be at least 1", "must be at most 30"}


def test_data_that_is_not_an_object_is_an_error(definition: WorkflowDefinition) -> None:
    assert check(definition, "withdraw", ["reason"]) == ({}, {"data": "must be an object"})


# -- the protection order's expiry ---------------------------------------------------


def rule(definition: WorkflowDefinition, **data: object) -> dict[str, str]:
    return check(definition, "rule", data)[1]


def test_a_granted_order_needs_an_expiry_date(definition: WorkflowDefinition) -> None:
    assert rule(definition, outcome="granted") == {
        "expires_on": "required when the order is granted"
    }


@pytest.mark.parametrize("expires_on", ["2026-11-29", "2027-03-01", "2027-05-28"])
def test_a_granted_order_may_last_up_to_six_months(
    definition: WorkflowDefinition, expires_on: str
) -> None:
    assert rule(definition, outcome="granted", expires_on=expires_on) == {}


@pytest.mark.parametrize("expires_on", ["2026-11-28", "2026-11-01"])
def test_a_granted_order_must_expire_after_today(
    definition: WorkflowDefinition, expires_on: str
) -> None:
    assert rule(definition, outcome="granted", expires_on=expires_on) == {
        "expires_on": "must be after today"
    }


def test_a_granted_order_may_not_last_beyond_six_months(definition: WorkflowDefinition) -> None:
    assert rule(definition, outcome="granted", expires_on="2027-05-29") == {
        "expires_on": "an order lasts at most 6 months"
    }


def test_six_months_from_a_month_end_ends_on_the_shorter_months_last_day(
    definition: WorkflowDefinition,
) -> None:
    august_end = date(2026, 8, 31)
    ok = check(definition, "rule", {"outcome": "granted", "expires_on": "2027-02-28"}, august_end)
    late = check(definition, "rule", {"outcome": "granted", "expires_on": "2027-03-01"}, august_end)
    assert ok[1] == {}
    assert late[1] == {"expires_on": "an order lasts at most 6 months"}


def test_a_denied_order_has_no_expiry(definition: WorkflowDefinition) -> None:
    assert rule(definition, outcome="denied") == {}
    assert rule(definition, outcome="denied", expires_on="2027-01-01") == {
        "expires_on": "only a granted order has an expiry date"
    }


def test_a_bad_outcome_is_reported_without_an_expiry_error(definition: WorkflowDefinition) -> None:
    assert rule(definition, outcome="maybe", expires_on="2020-01-01").keys() == {"outcome"}


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 11, 28), 6, date(2027, 5, 28)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected
