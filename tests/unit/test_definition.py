"""Tests for loading and validating workflow definitions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from workflow.definition import (
    ACTIONS,
    KNOWN_GUARDS,
    ClockTrigger,
    DefinitionError,
    FrozenMap,
    Problem,
    WorkflowDefinition,
    load_definition,
    parse_definition,
)

SHIPPED_PATH = Path(__file__).resolve().parents[2] / "config/workflows/rights-protection.yaml"
SHIPPED = SHIPPED_PATH.read_text(encoding="utf-8")

MINIMAL = """\
name: mini
version: 1
initial: open
roles: [worker, boss]
states:
  open: {label: {en: Open}}
  shut: {final: true}
events:
  close:
    from: [open]
    to: shut
    roles: [worker]
    data:
      outcome: {type: string, required: true, enum: [done, dropped]}
      kind: {type: string, enum: [small, large]}
      days: {type: integer, min: 1, max: 5}
    guards: [extend_once]
    emits:
      - {work: notify, to: [assignee]}
  revive:
    from: [shut]
    to: open
    roles: [boss]
outcomes:
  small: {close: [done]}
clocks:
  answer:
    opens_on: [{on: register}]
    met_by: [{on: close, when: {event.kind: small}}]
    runs_in: open
    lengths:
      - {when: {risk: emergency}, unit: hours, length: 24}
      - {unit: days, length: 15}
    extendable_by: close
    basis: local policy
"""


def problems_of(text: str, source: str = "test.yaml") -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, source)
    return caught.value.problems


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `snippet`."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if snippet in line]
    return hits[occurrence - 1]


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# -- the shipped definition ----------------------------------------------------


def test_the_shipped_definition_loads() -> None:
    definition = load_definition(SHIPPED_PATH)
    assert definition.key == "rights-protection/1"
    assert definition.initial == "intake"
    assert list(definition.states) == ["intake", "mediation", "referred", "court", "closed"]
    assert len(definition.events) == 12
    assert definition.states["closed"].final
    assert definition.states["intake"].label["en"] == "Awaiting acceptance"
    assert definition.source == SHIPPED


def test_the_shipped_definition_keeps_data_field_order() -> None:
    refer = load_definition(SHIPPED_PATH).events["refer"]
    assert list(refer.data) == ["kind", "summary", "panel", "mediation_declined", "applicant"]
    assert refer.data["kind"].enum == ("litigation", "protection_order", "judicial_confirmation")
    assert refer.sources == ("intake", "mediation", "closed")
    assert refer.roles == frozenset({"caseworker", "supervisor"})
    assert refer.line == line_of(SHIPPED, "  refer:")


def test_a_definition_is_immutable_and_hashable() -> None:
    definition = load_definition(SHIPPED_PATH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        definition.initial = "closed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        definition.events["accept"] = definition.events["decline"]  # type: ignore[index]
    assert hash(definition) == hash(parse_definition(SHIPPED, "again"))
    assert definition == parse_definition(SHIPPED, "again")


def test_events_from_lists_the_events_leaving_a_state_in_definition_order() -> None:
    definition = load_definition(SHIPPED_PATH)
    names = [event.name for event in definition.events_from("intake")]
    assert names == ["accept", "decline", "refer", "withdraw"]
    assert [event.name for event in definition.events_from("court")] == ["rule", "decide"]


def test_outcomes_are_read_per_kind_and_event() -> None:
    outcomes = load_definition(SHIPPED_PATH).outcomes
    assert outcomes["protection_order"]["rule"] == ("granted", "denied")
    assert outcomes["litigation"]["decide"] == ("judgment", "court_mediation", "withdrawn")


def test_clock_length_for_takes_the_first_rule_that_holds() -> None:
    definition = load_definition(SHIPPED_PATH)
    acceptance = definition.clock("acceptance")
    emergency = acceptance.length_for({"risk": "emergency"})
    assert emergency is not None and (emergency.unit, emergency.length) == ("hours", 24)
    normal = acceptance.length_for({"risk": "low"})
    assert normal is not None and (normal.unit, normal.length) == ("days", 15)
    decision = definition.clock("protection_order_decision")
    urgent = decision.length_for({"event.urgent": True})
    assert urgent is not None and urgent.length == 24
    calm = decision.length_for({})
    assert calm is not None and calm.length == 72


def test_a_scalar_condition_becomes_a_one_tuple_and_a_list_stays() -> None:
    definition = load_definition(SHIPPED_PATH)
    (decision_opens,) = definition.clock("protection_order_decision").opens_on
    assert decision_opens.when["referral_kind"] == ("protection_order",)
    (outcome_opens,) = definition.clock("court_outcome").opens_on
    assert outcome_opens.when["referral_kind"] == ("judicial_confirmation", "litigation")


def test_a_trigger_matches_only_when_every_key_holds_and_a_missing_key_is_none() -> None:
    trigger = ClockTrigger(
        on="update", when=FrozenMap({"mandatory_report_duty": (True,), "risk": ("high", None)})
    )
    assert trigger.matches({"mandatory_report_duty": True, "risk": "high"})
    assert trigger.matches({"mandatory_report_duty": True})
    assert not trigger.matches({"mandatory_report_duty": False, "risk": "high"})
    assert not trigger.matches({"risk": "high"})
    assert not trigger.matches({"mandatory_report_duty": 1, "risk": "high"})
    assert ClockTrigger(on="register", when=FrozenMap()).matches({})


def test_the_shipped_clocks_are_read_whole() -> None:
    definition = load_definition(SHIPPED_PATH)
    expiry = definition.clock("order_expiry")
    assert expiry.until == "event.expires_on"
    assert expiry.reminder_days_before == 14
    assert expiry.runs_in is None and expiry.lengths == ()
    assert definition.clock("resolution").extendable_by == "extend"
    assert definition.clock("mandatory_report").once
    assert definition.clock("acknowledgement").court
    assert {c.name for c in definition.clocks.values() if c.suspendable} == {
        "acceptance",
        "resolution",
        "follow_up",
    }
    assert definition.mandatory_report_categories == frozenset(
        {"domestic_violence", "child_protection", "sexual_harassment"}
    )


def test_known_guards_and_actions_cover_the_shipped_definition() -> None:
    definition = load_definition(SHIPPED_PATH)
    assert {g for e in definition.events.values() for g in e.guards} <= KNOWN_GUARDS
    clock_triggers = {t.on for c in definition.clocks.values() for t in (*c.opens_on, *c.met_by)}
    assert clock_triggers - set(definition.events) <= ACTIONS


def test_the_minimal_definition_is_valid() -> None:
    definition = parse_definition(MINIMAL, "mini.yaml")
    assert isinstance(definition, WorkflowDefinition)
    assert definition.key == "mini/1"


# -- problems, each with its line ----------------------------------------------


def test_a_yaml_syntax_error_names_its_line() -> None:
    text = edit(MINIMAL, "    to: shut\n", "    to: [shut\n")
    (problem,) = problems_of(text)
    assert problem.path == "yaml"
    assert problem.line is not None
    assert line_of(text, "to: [shut") <= problem.line <= line_of(text, "to: [shut") + 2


def test_an_empty_document_is_a_problem() -> None:
    (problem,) = problems_of("# nothing\n")
    assert problem.message == "the definition is empty"


def test_a_problem_prints_source_line_path_and_message() -> None:
    text = edit(MINIMAL, "initial: open", "initial: nowhere")
    (problem,) = problems_of(text, "mini.yaml")
    assert str(problem) == "mini.yaml:3: initial: unknown state nowhere"


def test_every_problem_is_collected_not_only_the_first() -> None:
    text = edit(MINIMAL, "guards: [extend_once]", "guards: [extend_twice]")
    text = edit(text, "unit: days", "unit: fortnights")
    text = edit(text, "roles: [boss]", "roles: [king]")
    found = problems_of(text)
    assert {(p.line, p.message.split(" ")[0]) for p in found} == {
        (line_of(text, "extend_twice"), "unknown"),
        (line_of(text, "fortnights"), "unknown"),
        (line_of(text, "[king]"), "unknown"),
    }
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_the_definition_error_message_lists_every_problem() -> None:
    text = edit(MINIMAL, "version: 1", "version: 0")
    text = edit(text, "initial: open", "initial: nowhere")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "mini.yaml")
    assert str(caught.value).splitlines() == [
        "mini.yaml:2: version: must be at least 1",
        "mini.yaml:3: initial: unknown state nowhere",
    ]


BROKEN = [
    pytest.param(
        "name: mini\n",
        "name: mini\ncolour: red\n",
        "colour: red",
        "colour",
        "unknown key",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "version: 1\n",
        "",
        "name: mini",
        "version",
        "required key missing",
        id="missing-required-key",
    ),
    pytest.param(
        "version: 1",
        "version: one",
        "version: one",
        "version",
        "expected an integer",
        id="version-not-an-integer",
    ),
    pytest.param(
        "version: 1",
        "version: true",
        "version: true",
        "version",
        "expected an integer",
        id="version-a-boolean",
    ),
    pytest.param(
        "initial: open",
        "initial: ajar",
        "initial: ajar",
        "initial",
        "unknown state ajar",
        id="initial-not-a-state",
    ),
    pytest.param(
        "from: [open]",
        "from: [open, limbo]",
        "limbo",
        "events.close.from[1]",
        "unknown state limbo",
        id="event-from-unknown-state",
    ),
    pytest.param(
        "to: shut",
        "to: gone",
        "to: gone",
        "events.close.to",
        "unknown state gone",
        id="event-to-unknown-state",
    ),
    pytest.param(
        "from: [shut]",
        "from: []",
        "from: []",
        "events.revive.from",
        "event without source",
        id="event-without-source",
    ),
    pytest.param(
        "roles: [worker]",
        "roles: [worker, clerk]",
        "clerk",
        "events.close.roles[1]",
        "unknown role clerk",
        id="event-role-not-in-roles",
    ),
    pytest.param(
        "guards: [extend_once]",
        "guards: [be_nice]",
        "be_nice",
        "events.close.guards[0]",
        "unknown guard be_nice",
        id="unknown-guard",
    ),
    pytest.param(
        "days: {type: integer,",
        "days: {type: decimal,",
        "decimal",
        "events.close.data.days.type",
        "unknown type decimal",
        id="unknown-field-type",
    ),
    pytest.param(
        "days: {type: integer, min: 1, max: 5}",
        "days: {type: integer, enum: [a, b]}",
        "days: {type",
        "events.close.data.days.enum",
        "enum applies to string fields",
        id="enum-on-a-non-string",
    ),
    pytest.param(
        "kind: {type: string, enum: [small, large]}",
        "kind: {type: string, enum: [small, large], max: 3}",
        "kind: {type",
        "events.close.data.kind.max",
        "apply to integer fields",
        id="max-on-a-non-integer",
    ),
    pytest.param(
        "min: 1, max: 5",
        "min: 5, max: 1",
        "min: 5",
        "events.close.data.days.max",
        "max is below min",
        id="max-below-min",
    ),
    pytest.param(
        "{work: notify, to: [assignee]}",
        "{work: telegram, to: [assignee]}",
        "telegram",
        "events.close.emits[0].work",
        "unknown work telegram",
        id="emit-unknown-work",
    ),
    pytest.param(
        "{work: notify, to: [assignee]}",
        "{work: notify, to: [mayor]}",
        "mayor",
        "events.close.emits[0].to[0]",
        "unknown recipient mayor",
        id="emit-unknown-recipient",
    ),
    pytest.param(
        "{work: notify, to: [assignee]}",
        "{work: notify}",
        "{work: notify}",
        "events.close.emits[0].to",
        "notify needs recipients",
        id="notify-without-recipients",
    ),
    pytest.param(
        "opens_on: [{on: register}]",
        "opens_on: [{on: registr}]",
        "registr",
        "clocks.answer.opens_on[0].on",
        "clock tied to an unknown event",
        id="clock-tied-to-an-unknown-event",
    ),
    pytest.param(
        "runs_in: open",
        "runs_in: ajar",
        "runs_in: ajar",
        "clocks.answer.runs_in",
        "unknown state ajar",
        id="clock-runs-in-an-unknown-state",
    ),
    pytest.param(
        "unit: days",
        "unit: fortnights",
        "fortnights",
        "clocks.answer.lengths[1].unit",
        "unknown unit fortnights",
        id="clock-unit-unknown",
    ),
    pytest.param(
        "length: 15",
        "length: 0",
        "length: 0",
        "clocks.answer.lengths[1].length",
        "must be at least 1",
        id="clock-length-zero",
    ),
    pytest.param(
        "length: 15",
        "length: '15'",
        "length: '15'",
        "clocks.answer.lengths[1].length",
        "expected an integer",
        id="clock-length-a-string",
    ),
    pytest.param(
        "    lengths:\n      - {when: {risk: emergency}, unit: hours, length: 24}\n"
        "      - {unit: days, length: 15}\n",
        "",
        "  answer:",
        "clocks.answer",
        "clock without lengths and without until",
        id="clock-without-lengths-or-until",
    ),
    pytest.param(
        "- {unit: days, length: 15}",
        "- {when: {risk: low}, unit: days, length: 15}",
        "risk: low",
        "clocks.answer.lengths",
        "the last length needs no `when`",
        id="clock-without-a-fallback-length",
    ),
    pytest.param(
        "{when: {risk: emergency}",
        "{when: {mood: emergency}",
        "mood",
        "clocks.answer.lengths[0].when.mood",
        "unknown condition key mood",
        id="when-key-unknown",
    ),
    pytest.param(
        "{when: {risk: emergency}",
        "{when: {risk: dire}",
        "dire",
        "clocks.answer.lengths[0].when.risk",
        "unknown risk 'dire'",
        id="when-risk-unknown",
    ),
    pytest.param(
        "{on: close, when: {event.kind: small}}",
        "{on: close, when: {event.size: small}}",
        "event.size",
        "clocks.answer.met_by[0].when.event.size",
        "the event has no data field size",
        id="when-event-field-not-a-field-of-the-trigger-event",
    ),
    pytest.param(
        "{on: close, when: {event.kind: small}}",
        "{on: close, when: {event.kind: huge}}",
        "huge",
        "clocks.answer.met_by[0].when.event.kind",
        "'huge' is not one of small, large",
        id="when-event-field-value-outside-its-enum",
    ),
    pytest.param(
        "opens_on: [{on: register}]",
        "opens_on: [{on: register, when: {event.kind: small}}]",
        "opens_on",
        "clocks.answer.opens_on[0].when.event.kind",
        "the trigger is an action",
        id="when-event-field-on-an-action",
    ),
    pytest.param(
        "extendable_by: close",
        "extendable_by: prolong",
        "prolong",
        "clocks.answer.extendable_by",
        "unknown event prolong",
        id="extendable-by-not-an-event",
    ),
    pytest.param(
        "small: {close: [done]}",
        "small: {shut_down: [done]}",
        "shut_down",
        "outcomes.small.shut_down",
        "unknown event shut_down",
        id="outcomes-unknown-event",
    ),
    pytest.param(
        "small: {close: [done]}",
        "small: {close: [done, won]}",
        "won",
        "outcomes.small.close[1]",
        "won is not an outcome of close",
        id="outcome-not-in-the-event-enum",
    ),
    pytest.param(
        "small: {close: [done]}",
        "medium: {close: [done]}",
        "medium",
        "outcomes.medium",
        "unknown referral kind medium",
        id="outcomes-unknown-kind",
    ),
    pytest.param(
        "    to: shut\n",
        "    to: shut\n    to: open\n",
        "to: open",
        "events.close.to",
        "duplicate key (first at line 11)",
        id="duplicate-key",
    ),
    pytest.param(
        "  revive:\n",
        "  close:\n",
        "  close:",
        "events.close",
        "duplicate key",
        id="duplicate-event",
    ),
    pytest.param(
        "    guards: [extend_once]",
        "    gaurds: [extend_once]",
        "gaurds",
        "events.close.gaurds",
        "unknown key",
        id="unknown-key-in-an-event",
    ),
    pytest.param(
        "basis: local policy",
        "basis: local policy\n    colour: red",
        "colour",
        "clocks.answer.colour",
        "unknown key",
        id="unknown-key-in-a-clock",
    ),
    pytest.param(
        "  close:\n",
        "  note:\n",
        "  note:",
        "events.note",
        "named like an action",
        id="event-named-like-an-action",
    ),
    pytest.param(
        "  revive:\n",
        "  state:\n",
        "  state:",
        "events.state",
        "reserved",
        id="event-name-reserved-by-the-machine",
    ),
]


@pytest.mark.parametrize(("old", "new", "marker", "path", "message"), BROKEN)
def test_each_kind_of_problem_is_reported_with_its_line(
    old: str, new: str, marker: str, path: str, message: str
) -> None:
    text = edit(MINIMAL, old, new)
    found = problems_of(text)
    expected_line = line_of(text, marker, 2 if path == "events.close" else 1)
    matching = [p for p in found if p.path == path and message in p.message]
    assert matching, [str(p) for p in found]
    assert matching[0].line == expected_line, [str(p) for p in found]


def test_an_unreachable_state_is_reported_on_its_line() -> None:
    text = edit(MINIMAL, "  shut: {final: true}\n", "  shut: {final: true}\n  limbo: {}\n")
    found = problems_of(text)
    assert [(p.line, p.path) for p in found if "unreachable" in p.message] == [
        (line_of(text, "limbo"), "states.limbo")
    ]


def test_a_non_final_state_with_no_way_out_is_a_dead_end() -> None:
    text = edit(MINIMAL, "  shut: {final: true}\n", "  shut: {final: true}\n  stuck: {}\n")
    text = edit(text, "    to: shut\n", "    to: stuck\n")
    found = problems_of(text)
    dead = [p for p in found if "dead end" in p.message]
    assert [(p.line, p.path) for p in dead] == [(line_of(text, "stuck: {}"), "states.stuck")]


def test_a_state_left_only_by_a_self_loop_is_a_dead_end() -> None:
    text = edit(MINIMAL, "  shut: {final: true}\n", "  shut: {final: true}\n  waiting: {}\n")
    text = edit(text, "    to: shut\n", "    to: waiting\n")
    text = edit(
        text,
        "  revive:\n",
        "  ping: {from: [waiting], to: waiting, roles: [worker], internal: true}\n  revive:\n",
    )
    found = problems_of(text)
    dead = [p for p in found if "dead end" in p.message]
    assert [(p.line, p.path) for p in dead] == [(line_of(text, "waiting: {}"), "states.waiting")]


def test_an_internal_event_must_stay_in_its_state() -> None:
    text = edit(
        MINIMAL, "    guards: [extend_once]\n", "    guards: [extend_once]\n    internal: true\n"
    )
    (problem,) = problems_of(text)
    assert problem.path == "events.close.internal"
    assert problem.line == line_of(text, "  close:")


def test_a_bare_on_key_is_read_as_text_not_as_yaml_true() -> None:
    # YAML 1.1 reads a bare `on` as the boolean true; the loader must not.
    definition = parse_definition(MINIMAL)
    assert definition.clock("answer").opens_on[0].on == "register"


def test_an_until_clock_needs_a_date_field_on_every_opening_event() -> None:
    text = edit(
        MINIMAL,
        "    lengths:\n      - {when: {risk: emergency}, unit: hours, length: 24}\n"
        "      - {unit: days, length: 15}\n",
        "    until: event.days\n",
    )
    (problem,) = problems_of(text)
    assert problem.path == "clocks.answer.until"
    assert problem.line == line_of(text, "until:")
    assert "register has no date field days" in problem.message


def test_editing_the_shipped_definition_reports_the_edited_line() -> None:
    text = edit(SHIPPED, "    to: court\n", "    to: courtroom\n")
    found = problems_of(text, "rights-protection.yaml")
    assert [str(p) for p in found if p.path == "events.acknowledge.to"] == [
        f"rights-protection.yaml:{line_of(text, 'to: courtroom')}: events.acknowledge.to: "
        "unknown state courtroom"
    ]


def test_a_shipped_clock_on_a_misspelt_event_is_reported() -> None:
    text = edit(SHIPPED, "met_by: [{on: rule}]", "met_by: [{on: ruling}]")
    (problem,) = problems_of(text)
    assert problem.line == line_of(text, "{on: ruling}")
    assert problem.path == "clocks.protection_order_decision.met_by[0].on"


def test_a_shipped_outcome_outside_the_event_enum_is_reported() -> None:
    text = edit(
        SHIPPED,
        "judicial_confirmation: {decide: [confirmed, not_confirmed]}",
        "judicial_confirmation: {decide: [confirmed, rejected]}",
    )
    (problem,) = problems_of(text)
    assert problem.line == line_of(text, "rejected")
    assert problem.message == "rejected is not an outcome of decide"


def test_a_missing_file_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition("/nonexistent/workflow.yaml")
    assert caught.value.problems[0].message.startswith("cannot read")
