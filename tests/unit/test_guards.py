"""Tests for the workflow rules (guards), each both ways."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from workflow.guards import GUARDS, GuardContext, evaluate_guards

LOCAL = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL)
TODAY = NOW.date()

# The outcomes each referral kind may end with, as workflow.md states them.
OUTCOMES = {
    "protection_order": {"rule": ("granted", "denied")},
    "judicial_confirmation": {"decide": ("confirmed", "not_confirmed")},
    "litigation": {"decide": ("judgment", "court_mediation", "withdrawn")},
}


def ctx(**overrides: Any) -> GuardContext:
    values: dict[str, Any] = {
        "state": "mediation",
        "event": "settle",
        "now": NOW,
        "risk": "low",
        "category": "marriage_family",
        "outcomes": OUTCOMES,
    }
    values.update(overrides)
    return GuardContext(**values)


def passes(name: str, context: GuardContext) -> bool:
    return GUARDS[name](context)


def test_the_registry_holds_every_rule_of_workflow_md() -> None:
    assert set(GUARDS) == {
        "assignee_scope",
        "session_required",
        "kind_not_allowed_from_state",
        "judicial_confirmation_window",
        "extend_once",
        "extend_before_deadline",
        "outcome_fits_kind",
        "reopen_window",
        "reopen_not_binding",
    }


def test_the_registry_cannot_be_changed_from_outside() -> None:
    with pytest.raises(TypeError):
        GUARDS["always"] = lambda _: True  # type: ignore[index]


def test_a_context_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        ctx(now=datetime(2026, 11, 28, 10, 0))


# -- assignee_scope ------------------------------------------------------------


def test_assignee_scope_passes_for_an_assignee_in_scope() -> None:
    assert passes("assignee_scope", ctx(event="accept", state="intake", assignee_in_scope=True))


def test_assignee_scope_refuses_an_assignee_out_of_scope() -> None:
    assert not passes("assignee_scope", ctx(event="accept", state="intake"))


# -- session_required ----------------------------------------------------------


def refer(kind: str = "litigation", **overrides: Any) -> GuardContext:
    data = {"kind": kind, "summary": "x", **overrides.pop("data", {})}
    return ctx(event="refer", data=data, **overrides)


def test_litigation_without_a_session_is_refused_for_low_risk() -> None:
    assert not passes("session_required", refer())


def test_litigation_after_a_session_is_allowed() -> None:
    assert passes("session_required", refer(session_count=1))


@pytest.mark.parametrize("risk", ["high", "emergency"])
def test_litigation_without_a_session_is_allowed_at_high_risk(risk: str) -> None:
    assert passes("session_required", refer(risk=risk))


def test_litigation_without_a_session_is_refused_at_medium_risk() -> None:
    assert not passes("session_required", refer(risk="medium"))


def test_litigation_without_a_session_is_allowed_for_domestic_violence() -> None:
    assert passes("session_required", refer(category="domestic_violence"))


def test_litigation_without_a_session_is_allowed_when_mediation_was_declined() -> None:
    assert passes("session_required", refer(data={"mediation_declined": True}))


def test_mediation_declined_false_still_needs_a_session() -> None:
    assert not passes("session_required", refer(data={"mediation_declined": False}))


@pytest.mark.parametrize("kind", ["protection_order", "judicial_confirmation"])
def test_other_referral_kinds_need_no_session(kind: str) -> None:
    assert passes("session_required", refer(kind))


@pytest.mark.parametrize("event", ["settle", "close_unresolved"])
def test_closing_mediation_without_a_session_is_refused(event: str) -> None:
    assert not passes("session_required", ctx(event=event, risk="emergency"))


@pytest.mark.parametrize("event", ["settle", "close_unresolved"])
def test_closing_mediation_after_a_session_is_allowed(event: str) -> None:
    assert passes("session_required", ctx(event=event, session_count=2))


def test_a_data_free_refer_is_not_refused_for_want_of_a_session() -> None:
    assert passes("session_required", refer().without_data())


# -- kind_not_allowed_from_state -------------------------------------------------


@pytest.mark.parametrize("kind", ["litigation", "protection_order"])
def test_only_judicial_confirmation_may_be_referred_from_closed(kind: str) -> None:
    assert not passes("kind_not_allowed_from_state", refer(kind, state="closed"))


def test_judicial_confirmation_may_be_referred_from_closed() -> None:
    assert passes("kind_not_allowed_from_state", refer("judicial_confirmation", state="closed"))


@pytest.mark.parametrize("state", ["intake", "mediation"])
def test_any_kind_may_be_referred_from_open_states(state: str) -> None:
    assert passes("kind_not_allowed_from_state", refer("litigation", state=state))


# -- judicial_confirmation_window -------------------------------------------------


def confirmation(days_ago: int | None = 10, **overrides: Any) -> GuardContext:
    values: dict[str, Any] = {
        "state": "closed",
        "closed_by": "settle",
        "agreement_effective_on": None if days_ago is None else TODAY - timedelta(days=days_ago),
    }
    values.update(overrides)
    return refer("judicial_confirmation", **values)


@pytest.mark.parametrize("days_ago", [0, 10, 30])
def test_judicial_confirmation_within_30_days_of_the_agreement_is_allowed(days_ago: int) -> None:
    assert passes("judicial_confirmation_window", confirmation(days_ago))


def test_judicial_confirmation_31_days_after_the_agreement_is_refused() -> None:
    assert not passes("judicial_confirmation_window", confirmation(31))


def test_judicial_confirmation_of_an_agreement_not_yet_in_effect_is_refused() -> None:
    assert not passes("judicial_confirmation_window", confirmation(-1))


def test_judicial_confirmation_of_a_case_not_closed_by_settle_is_refused() -> None:
    assert not passes("judicial_confirmation_window", confirmation(closed_by="close_unresolved"))


def test_judicial_confirmation_without_an_agreement_date_is_refused() -> None:
    assert not passes("judicial_confirmation_window", confirmation(None))


@pytest.mark.parametrize("state", ["intake", "mediation"])
def test_judicial_confirmation_from_an_open_state_is_refused(state: str) -> None:
    # No settled agreement is in force outside closed-by-settle.
    assert not passes("judicial_confirmation_window", confirmation(state=state))


def test_the_window_does_not_concern_other_kinds() -> None:
    assert passes("judicial_confirmation_window", refer("litigation", state="mediation"))


def test_a_data_free_refer_from_closed_is_refused_once_the_window_has_passed() -> None:
    assert not passes("judicial_confirmation_window", confirmation(45).without_data())
    assert passes("judicial_confirmation_window", confirmation(5).without_data())


def test_a_data_free_refer_from_mediation_is_not_refused_by_the_window() -> None:
    assert passes("judicial_confirmation_window", refer(state="mediation").without_data())


# -- extend_once and extend_before_deadline ----------------------------------------


def test_a_first_extension_is_allowed() -> None:
    assert passes("extend_once", ctx(event="extend"))


def test_a_second_extension_is_refused() -> None:
    assert not passes("extend_once", ctx(event="extend", extended=True))


def test_extending_a_running_resolution_clock_is_allowed() -> None:
    assert passes("extend_before_deadline", ctx(event="extend"))


def test_extending_a_breached_resolution_clock_is_refused() -> None:
    assert not passes("extend_before_deadline", ctx(event="extend", resolution_breached=True))


# -- outcome_fits_kind --------------------------------------------------------------


def court(event: str, kind: str | None, outcome: str | None) -> GuardContext:
    data = {} if outcome is None else {"outcome": outcome}
    return ctx(state="court", event=event, referral_kind=kind, data=data)


@pytest.mark.parametrize("outcome", ["granted", "denied"])
def test_a_protection_order_may_be_ruled_on(outcome: str) -> None:
    assert passes("outcome_fits_kind", court("rule", "protection_order", outcome))


@pytest.mark.parametrize("kind", ["litigation", "judicial_confirmation"])
def test_only_a_protection_order_is_ruled_on(kind: str) -> None:
    assert not passes("outcome_fits_kind", court("rule", kind, "granted"))


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("judicial_confirmation", "confirmed"),
        ("judicial_confirmation", "not_confirmed"),
        ("litigation", "judgment"),
        ("litigation", "court_mediation"),
        ("litigation", "withdrawn"),
    ],
)
def test_a_decision_fitting_the_kind_is_allowed(kind: str, outcome: str) -> None:
    assert passes("outcome_fits_kind", court("decide", kind, outcome))


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("judicial_confirmation", "judgment"),
        ("litigation", "confirmed"),
        ("protection_order", "judgment"),
    ],
)
def test_a_decision_from_another_kinds_list_is_refused(kind: str, outcome: str) -> None:
    assert not passes("outcome_fits_kind", court("decide", kind, outcome))


def test_an_outcome_without_a_referral_is_refused() -> None:
    assert not passes("outcome_fits_kind", court("decide", None, "judgment"))


def test_data_free_the_court_may_rule_or_decide_as_the_kind_allows() -> None:
    assert passes("outcome_fits_kind", court("rule", "protection_order", None))
    assert not passes("outcome_fits_kind", court("decide", "protection_order", None))
    assert passes("outcome_fits_kind", court("decide", "litigation", None))
    assert not passes("outcome_fits_kind", court("rule", "litigation", None))


# -- reopen_window and reopen_not_binding ----------------------------------------------


def reopen(**overrides: Any) -> GuardContext:
    values: dict[str, Any] = {
        "state": "closed",
        "event": "reopen",
        "closed_by": "close_unresolved",
        "closed_at": NOW - timedelta(days=10),
    }
    values.update(overrides)
    return ctx(**values)


def test_reopening_within_90_days_of_closure_is_allowed() -> None:
    assert passes("reopen_window", reopen())
    assert passes("reopen_window", reopen(closed_at=NOW - timedelta(days=90, hours=9)))


def test_reopening_91_days_after_closure_is_refused() -> None:
    assert not passes("reopen_window", reopen(closed_at=NOW - timedelta(days=91)))


def test_the_reopen_window_counts_local_days() -> None:
    # 2026-08-30 17:00 UTC is already 31 August in Shanghai: 89 local days before NOW's date.
    closed_utc = datetime(2026, 8, 30, 17, 0, tzinfo=UTC)
    assert passes("reopen_window", reopen(closed_at=closed_utc))
    assert not passes("reopen_window", reopen(closed_at=closed_utc - timedelta(days=2)))


def test_reopening_without_a_closure_time_is_refused() -> None:
    assert not passes("reopen_window", reopen(closed_at=None))


@pytest.mark.parametrize("outcome", ["judgment", "court_mediation", "confirmed"])
def test_reopening_after_a_binding_decision_is_refused(outcome: str) -> None:
    assert not passes("reopen_not_binding", reopen(closed_by="decide", closure_outcome=outcome))


@pytest.mark.parametrize("outcome", ["not_confirmed", "withdrawn"])
def test_reopening_after_a_non_binding_decision_is_allowed(outcome: str) -> None:
    assert passes("reopen_not_binding", reopen(closed_by="decide", closure_outcome=outcome))


@pytest.mark.parametrize("closed_by", ["settle", "close_unresolved", "withdraw", "decline"])
def test_reopening_after_other_closures_is_allowed(closed_by: str) -> None:
    assert passes("reopen_not_binding", reopen(closed_by=closed_by))


# -- evaluate_guards -------------------------------------------------------------------


def test_evaluate_guards_returns_none_when_every_rule_passes() -> None:
    context = reopen()
    assert evaluate_guards(["reopen_window", "reopen_not_binding"], context) is None
    assert evaluate_guards([], context) is None


def test_evaluate_guards_returns_the_first_refusing_rule_in_order() -> None:
    context = refer("litigation", state="closed", closed_by="withdraw")
    names = ["kind_not_allowed_from_state", "judicial_confirmation_window", "session_required"]
    assert evaluate_guards(names, context) == "kind_not_allowed_from_state"
    assert evaluate_guards(names[1:], context) == "session_required"


def test_evaluate_guards_refuses_an_unknown_rule_by_its_name() -> None:
    assert evaluate_guards(["extend_once", "no_such_rule"], ctx(event="extend")) == "no_such_rule"


def test_a_context_is_frozen() -> None:
    context = ctx()
    with pytest.raises(AttributeError):
        context.session_count = 3  # type: ignore[misc]
    assert context.today == date(2026, 11, 28)
