"""Tests for the compiled state machine: the transition table, guards, caching, no leaks."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import workflow.guards as guards_module
from workflow.definition import load_definition, parse_definition
from workflow.guards import GuardContext
from workflow.machine import CompiledWorkflow, FireResult, compile_workflow

SHIPPED_PATH = Path(__file__).resolve().parents[2] / "config/workflows/rights-protection.yaml"
DEFINITION = load_definition(SHIPPED_PATH)

STATES = ["intake", "mediation", "referred", "court", "closed"]

# workflow.md, "Events that change state": event -> (from states, to state).
TABLE: dict[str, tuple[set[str], str]] = {
    "accept": ({"intake"}, "mediation"),
    "decline": ({"intake"}, "closed"),
    "refer": ({"intake", "mediation", "closed"}, "referred"),
    "settle": ({"mediation"}, "closed"),
    "close_unresolved": ({"mediation"}, "closed"),
    "extend": ({"mediation"}, "mediation"),
    "acknowledge": ({"referred"}, "court"),
    "return": ({"referred"}, "mediation"),
    "rule": ({"court"}, "mediation"),
    "decide": ({"court"}, "closed"),
    "withdraw": ({"intake", "mediation", "referred"}, "closed"),
    "reopen": ({"closed"}, "mediation"),
}

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def passing_context(state: str, event: str) -> GuardContext:
    """A context in which every rule of `event` passes from `state`."""
    data: dict[str, Any] = {
        "refer": {"kind": "judicial_confirmation" if state == "closed" else "litigation"},
        "rule": {"outcome": "granted"},
        "decide": {"outcome": "withdrawn"},
    }.get(event, {})
    return GuardContext(
        state=state,
        event=event,
        now=NOW,
        risk="low",
        category="marriage_family",
        data=data,
        session_count=1,
        referral_kind="protection_order" if event == "rule" else "litigation",
        closed_by="settle",
        closed_at=NOW - timedelta(days=3),
        agreement_effective_on=NOW.date() - timedelta(days=3),
        assignee_in_scope=True,
        outcomes=DEFINITION.outcomes,
    )


@pytest.fixture(scope="module")
def compiled() -> CompiledWorkflow:
    return compile_workflow(DEFINITION)


def test_the_table_in_this_test_covers_every_event_of_the_shipped_workflow() -> None:
    assert set(TABLE) == set(DEFINITION.events)
    assert set(STATES) == set(DEFINITION.states)


@pytest.mark.parametrize("event", list(TABLE))
@pytest.mark.parametrize("state", STATES)
def test_each_state_and_event_pair_is_allowed_exactly_as_workflow_md_says(
    compiled: CompiledWorkflow, state: str, event: str
) -> None:
    sources, dest = TABLE[event]
    result = compiled.fire(state, event, passing_context(state, event))
    if state in sources:
        assert compiled.is_allowed(state, event)
        assert event in compiled.allowed_in(state)
        assert result == FireResult(dest=dest, failed_rule=None)
    else:
        assert not compiled.is_allowed(state, event)
        assert event not in compiled.allowed_in(state)
        assert result == FireResult(dest=None, failed_rule=None)
        assert result.invalid


def test_allowed_in_lists_events_in_definition_order(compiled: CompiledWorkflow) -> None:
    assert compiled.allowed_in("court") == ["rule", "decide"]
    assert compiled.allowed_in("closed") == ["refer", "reopen"]
    assert compiled.allowed_in("nowhere") == []


def test_fire_returns_the_refusing_rule_and_no_destination(compiled: CompiledWorkflow) -> None:
    ctx = GuardContext(
        state="mediation", event="settle", now=NOW, risk="low", category="other", session_count=0
    )
    result = compiled.fire("mediation", "settle", ctx)
    assert result == FireResult(dest=None, failed_rule="session_required")
    assert not result.ok and not result.invalid


def test_fire_reports_the_first_rule_in_the_events_order(compiled: CompiledWorkflow) -> None:
    ctx = GuardContext(
        state="closed",
        event="refer",
        now=NOW,
        risk="low",
        category="other",
        data={"kind": "litigation", "summary": "s"},
        closed_by="withdraw",
    )
    assert compiled.fire("closed", "refer", ctx).failed_rule == "kind_not_allowed_from_state"


def test_an_internal_event_stays_in_its_state(compiled: CompiledWorkflow) -> None:
    result = compiled.fire("mediation", "extend", passing_context("mediation", "extend"))
    assert result == FireResult(dest="mediation", failed_rule=None)


def test_an_unknown_event_is_an_invalid_transition(compiled: CompiledWorkflow) -> None:
    ctx = passing_context("intake", "to_closed")
    assert compiled.fire("intake", "to_closed", ctx).invalid


def test_an_unknown_state_is_a_programming_error(compiled: CompiledWorkflow) -> None:
    with pytest.raises(ValueError, match="not a state"):
        compiled.fire("limbo", "accept", passing_context("limbo", "accept"))


def test_a_context_for_another_event_is_a_programming_error(compiled: CompiledWorkflow) -> None:
    with pytest.raises(ValueError, match="another state or event"):
        compiled.fire("intake", "accept", passing_context("intake", "decline"))


def test_the_machine_has_no_auto_transitions(compiled: CompiledWorkflow) -> None:
    assert set(compiled.machine.events) == set(TABLE)
    assert not any(name.startswith("to_") for name in compiled.machine.events)
    assert compiled.machine.auto_transitions is False


def test_a_definition_is_compiled_once_per_process() -> None:
    first = compile_workflow(DEFINITION)
    again = compile_workflow(load_definition(SHIPPED_PATH))
    assert first is again


def test_another_definition_under_the_same_key_is_refused() -> None:
    text = SHIPPED_PATH.read_text(encoding="utf-8").replace("length: 60", "length: 61")
    with pytest.raises(ValueError, match="already compiled"):
        compile_workflow(parse_definition(text, "edited.yaml"))


def test_no_model_is_left_behind_after_many_fires(compiled: CompiledWorkflow) -> None:
    before = len(compiled.machine.models)
    refused = GuardContext(state="mediation", event="settle", now=NOW, risk="low", category="x")
    for _ in range(300):
        compiled.fire("intake", "accept", passing_context("intake", "accept"))
        compiled.fire("mediation", "settle", refused)
        compiled.fire("court", "accept", passing_context("court", "accept"))
    assert len(compiled.machine.models) == before == 0


def test_no_model_is_left_behind_when_a_guard_raises(
    compiled: CompiledWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: GuardContext) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setitem(guards_module._REGISTRY, "extend_once", broken)
    with pytest.raises(RuntimeError, match="boom"):
        compiled.fire("mediation", "extend", passing_context("mediation", "extend"))
    assert compiled.machine.models == []


def test_many_threads_share_one_machine(compiled: CompiledWorkflow) -> None:
    results: list[FireResult] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for _ in range(100):
            if index % 2:
                result = compiled.fire("intake", "accept", passing_context("intake", "accept"))
            else:
                result = compiled.fire("referred", "return", passing_context("referred", "return"))
            with lock:
                results.append(result)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 800
    assert {result.dest for result in results} == {"mediation"}
    assert compiled.machine.models == []
