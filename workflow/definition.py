"""Workflow definitions: immutable typed objects, and the loader that validates YAML into them."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from workflow.guards import GUARDS

K = TypeVar("K")
V = TypeVar("V")

FIELD_TYPES = frozenset({"string", "text", "integer", "boolean", "date"})
EMIT_WORKS = frozenset({"notify", "referral_package", "sms_complainant"})
EMIT_RECIPIENTS = frozenset(
    {"assignee", "responsible_supervisors", "panel_liaisons", "district_supervisors"}
)
CLOCK_UNITS = frozenset({"days", "working_days", "hours", "months"})
# The non-state-changing actions a clock may open or be met on.
ACTIONS = frozenset(
    {
        "register",
        "update",
        "note",
        "assign",
        "record_session",
        "transfer",
        "follow_up",
        "report_filed",
        "suspend_clock",
        "resume_clock",
    }
)
KNOWN_GUARDS = frozenset(GUARDS)
# Condition keys a clock may test besides `event.<field>`.
CONDITION_KEYS = frozenset({"risk", "category", "referral_kind", "mandatory_report_duty"})
EVENT_PREFIX = "event."
# The case vocabulary of the API (spec/api.md); conditions naming anything else
# could never hold, so they are typos.
RISKS = ("low", "medium", "high", "emergency")
CATEGORIES = (
    "domestic_violence",
    "marriage_family",
    "property_rights",
    "employment",
    "child_protection",
    "sexual_harassment",
    "neighbour_dispute",
    "other",
)
# The event data field whose enum lists the referral kinds.
KIND_FIELD = "kind"
OUTCOME_FIELD = "outcome"
# The field of an `extendable_by` event that carries the extension.
EXTEND_FIELD = "days"
# Attributes the transitions machine binds on (or reads from) its models: an event
# named so would be silently left unbound or break the machine.
RESERVED_EVENT_NAMES = frozenset(
    {"state", "trigger", "may_trigger", "guard_context", "failed_rule"}
)
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
# A workflow name goes into keys like `rights-protection/1`: no slash.
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")

_TOP_REQUIRED = ("name", "version", "initial", "roles", "states", "events", "clocks")
_TOP_OPTIONAL = ("outcomes", "mandatory_report_categories")
_NULL_TAG = "tag:yaml.org,2002:null"


_ValueCheck = Callable[[object], str | None]


class FrozenMap(Mapping[K, V]):
    """An ordered, immutable and hashable mapping (a MappingProxy is not hashable)."""

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(items)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


Condition = Mapping[str, tuple[object, ...]]


def condition_holds(when: Condition, context: Mapping[str, object]) -> bool:
    """Every key's context value (None when missing) is one of its allowed values."""
    return all(_member(context.get(key), allowed) for key, allowed in when.items())


def _member(value: object, allowed: tuple[object, ...]) -> bool:
    return any(_same(value, option) for option in allowed)


def _same(value: object, option: object) -> bool:
    # `True == 1` holds in Python; a boolean condition must not match an integer.
    if isinstance(value, bool) or isinstance(option, bool):
        return type(value) is type(option) and value == option
    return value == option


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Emit:
    work: str
    to: tuple[str, ...] = ()
    email: bool = False


@dataclass(frozen=True)
class EventDef:
    name: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    data: Mapping[str, FieldSpec]
    guards: tuple[str, ...]
    emits: tuple[Emit, ...]
    internal: bool
    line: int


@dataclass(frozen=True)
class ClockTrigger:
    on: str
    when: Condition

    def matches(self, context: Mapping[str, object]) -> bool:
        return condition_holds(self.when, context)


@dataclass(frozen=True)
class LengthRule:
    when: Condition
    unit: str
    length: int

    def matches(self, context: Mapping[str, object]) -> bool:
        return condition_holds(self.when, context)


@dataclass(frozen=True)
class ClockDef:
    """A deadline. `until` is a context key (`event.<date field>`) that gives the last day."""

    name: str
    opens_on: tuple[ClockTrigger, ...]
    met_by: tuple[ClockTrigger, ...]
    runs_in: str | None
    lengths: tuple[LengthRule, ...]
    until: str | None
    reminder_days_before: int | None
    suspendable: bool
    extendable_by: str | None
    court: bool
    once: bool
    basis: str
    line: int

    def length_for(self, context: Mapping[str, object]) -> LengthRule | None:
        """The first length rule whose condition holds."""
        return next((rule for rule in self.lengths if rule.matches(context)), None)


@dataclass(frozen=True)
class StateDef:
    name: str
    label: Mapping[str, str]
    final: bool


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    version: int
    initial: str
    roles: frozenset[str]
    states: Mapping[str, StateDef]
    events: Mapping[str, EventDef]
    clocks: Mapping[str, ClockDef]
    outcomes: Mapping[str, Mapping[str, tuple[str, ...]]]
    mandatory_report_categories: frozenset[str]
    source: str

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"

    def events_from(self, state: str) -> list[EventDef]:
        """The events whose sources include `state`, in definition order."""
        return [event for event in self.events.values() if state in event.sources]

    def clock(self, name: str) -> ClockDef:
        return self.clocks[name]


@dataclass(frozen=True)
class Problem:
    line: int | None
    path: str
    message: str
    source: str = "<definition>"

    def __str__(self) -> str:
        place = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{place}: {self.path}: {self.message}"


class DefinitionError(Exception):
    """A definition that does not validate; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_definition(path: str | Path) -> WorkflowDefinition:
    """Read and validate a definition file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Problem(None, "file", f"cannot read: {exc}", str(path))]) from exc
    return parse_definition(text, str(path))


def parse_definition(text: str, source_name: str = "<definition>") -> WorkflowDefinition:
    """Validate definition text; raise DefinitionError naming every problem and its line."""
    reader = _Reader(source_name)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        reader.problem(_error_line(exc), "yaml", _error_message(exc))
        raise DefinitionError(reader.problems) from exc
    if root is None:
        reader.problem(1, "yaml", "the definition is empty")
        raise DefinitionError(reader.problems)
    definition = _Parser(reader, text).parse(root)
    if reader.problems or definition is None:
        raise DefinitionError(sorted(reader.problems, key=lambda p: p.line or 0))
    return definition


def _error_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def _error_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{context}: {problem}" if context else str(problem)
    return str(exc).splitlines()[0]


class _Entry(NamedTuple):
    key: Node
    value: Node


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


_BAD = object()


class _Reader:
    """Reads composed YAML nodes into plain values, recording each problem with its line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def problem(self, where: Node | int | None, path: str, message: str) -> None:
        line = _line(where) if isinstance(where, Node) else where
        self.problems.append(Problem(line, path, message, self.source))

    def mapping(self, node: Node, path: str, *, nullable: bool = False) -> dict[str, _Entry] | None:
        """The entries of a mapping by key text; duplicate and non-text keys are problems."""
        if nullable and _is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            self.problem(node, path, "expected a mapping")
            return None
        entries: dict[str, _Entry] = {}
        for key_node, value_node in node.value:
            # The raw text, not the resolved value: YAML 1.1 reads a bare `on` as True.
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL_TAG:
                self.problem(key_node, path, "keys must be plain names")
                continue
            key = str(key_node.value)
            if key in entries:
                first = _line(entries[key].key)
                self.problem(key_node, _join(path, key), f"duplicate key (first at line {first})")
                continue
            entries[key] = _Entry(key_node, value_node)
        return entries

    def check_keys(
        self,
        entries: Mapping[str, _Entry],
        node: Node,
        path: str,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
    ) -> None:
        required = tuple(required)
        known = set(required) | set(optional)
        for key, entry in entries.items():
            if key not in known:
                self.problem(entry.key, _join(path, key), "unknown key")
        for key in required:
            if key not in entries:
                self.problem(node, _join(path, key), "required key missing")

    def scalar(self, node: Node, path: str) -> object:
        if not isinstance(node, ScalarNode):
            self.problem(node, path, "expected a single value")
            return _BAD
        try:
            return self._constructor.construct_object(node)
        except yaml.YAMLError as exc:
            self.problem(node, path, _error_message(exc))
            return _BAD

    def string(self, node: Node, path: str) -> str | None:
        value = self.scalar(node, path)
        if value is _BAD:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(node, path, f"expected a non-empty string, got {_describe(value)}")
            return None
        return value

    def name(self, node: Node, path: str) -> str | None:
        value = self.string(node, path)
        if value is not None and not _NAME.match(value):
            self.problem(node, path, f"{value!r} is not a name (lower case, digits, _)")
            return None
        return value

    def integer(self, node: Node, path: str, minimum: int | None = None) -> int | None:
        value = self.scalar(node, path)
        if value is _BAD:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(node, path, f"expected an integer, got {_describe(value)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(node, path, f"must be at least {minimum}")
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self.scalar(node, path)
        if value is _BAD:
            return None
        if not isinstance(value, bool):
            self.problem(node, path, f"expected true or false, got {_describe(value)}")
            return None
        return value

    def names(self, node: Node, path: str, *, scalar_ok: bool = False) -> list[tuple[str, Node]]:
        """A list of distinct names, each with its node (a single name if `scalar_ok`)."""
        if scalar_ok and isinstance(node, ScalarNode) and not _is_null(node):
            items: list[Node] = [node]
        elif isinstance(node, SequenceNode):
            items = list(node.value)
        else:
            self.problem(node, path, "expected a list")
            return []
        found: list[tuple[str, Node]] = []
        for index, item in enumerate(items):
            value = self.name(item, f"{path}[{index}]")
            if value is None:
                continue
            if any(value == seen for seen, _ in found):
                self.problem(item, f"{path}[{index}]", f"{value} listed twice")
                continue
            found.append((value, item))
        return found

    def sequence(self, node: Node, path: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problem(node, path, "expected a list")
            return []
        return list(node.value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "an empty string"
    return f"{type(value).__name__} {value!r}"


@dataclass(frozen=True)
class _Known:
    """The names a reference may use; None when their section was unreadable.

    A section that could not be read is reported once; checking references
    against it would bury that one problem under a cascade.
    """

    names: frozenset[str] | None

    def lacks(self, name: str) -> bool:
        return self.names is not None and name not in self.names


@dataclass
class _Vocabulary:
    """What conditions may name, gathered from the definition parsed so far."""

    kinds: frozenset[str]


class _Parser:
    """Builds a WorkflowDefinition from the composed document, section by section."""

    def __init__(self, reader: _Reader, text: str) -> None:
        self.r = reader
        self.text = text
        self.state_lines: dict[str, int] = {}
        self.known_states = _Known(None)
        self.known_roles = _Known(None)

    def parse(self, root: Node) -> WorkflowDefinition | None:
        top = self.r.mapping(root, "")
        if top is None:
            return None
        self.r.check_keys(top, root, "", _TOP_REQUIRED, _TOP_OPTIONAL)
        name = self._workflow_name(top.get("name"))
        version = self.r.integer(top["version"].value, "version", 1) if "version" in top else None
        roles = self._roles(top.get("roles"))
        states = self._states(top.get("states"))
        events = self._events(top.get("events"))
        kinds = _kinds(events)
        outcomes = self._outcomes(top.get("outcomes"), events, kinds)
        clocks = self._clocks(top.get("clocks"), events, _Vocabulary(kinds))
        categories = self._categories(top.get("mandatory_report_categories"))
        initial = self._graph(top.get("initial"), states, events)
        if name is None or version is None or initial is None:
            return None
        return WorkflowDefinition(
            name=name,
            version=version,
            initial=initial,
            roles=frozenset(roles),
            states=FrozenMap(states),
            events=FrozenMap(events),
            clocks=FrozenMap(clocks),
            outcomes=outcomes,
            mandatory_report_categories=categories,
            source=self.text,
        )

    def _workflow_name(self, entry: _Entry | None) -> str | None:
        if entry is None:
            return None
        name = self.r.string(entry.value, "name")
        if name is not None and not _WORKFLOW_NAME.match(name):
            self.r.problem(entry.value, "name", "letters, digits, '.', '_' and '-' only")
            return None
        return name

    # -- roles and states ---------------------------------------------------------

    def _roles(self, entry: _Entry | None) -> set[str]:
        if entry is None:
            return set()
        roles = self.r.names(entry.value, "roles")
        if isinstance(entry.value, SequenceNode):
            self.known_roles = _Known(frozenset(role for role, _ in roles))
            if not roles:
                self.r.problem(entry.value, "roles", "no roles")
        return {role for role, _ in roles}

    def _states(self, entry: _Entry | None) -> dict[str, StateDef]:
        if entry is None:
            return {}
        entries = self.r.mapping(entry.value, "states")
        if entries is None:
            return {}
        # Every key names a state, even one whose body is malformed.
        self.known_states = _Known(frozenset(entries))
        if not entries:
            self.r.problem(entry.value, "states", "no states")
        states: dict[str, StateDef] = {}
        for name, item in entries.items():
            path = f"states.{name}"
            self.state_lines[name] = _line(item.key)
            if not _NAME.match(name):
                self.r.problem(item.key, path, f"{name!r} is not a name (lower case, digits, _)")
                continue
            state = self._state(name, item, path)
            if state is not None:
                states[name] = state
        if states and not any(state.final for state in states.values()):
            self.r.problem(entry.value, "states", "no final state (a case could never close)")
        return states

    def _state(self, name: str, item: _Entry, path: str) -> StateDef | None:
        body = self.r.mapping(item.value, path, nullable=True)
        if body is None:
            return None
        self.r.check_keys(body, item.value, path, optional=("label", "final"))
        label: dict[str, str] = {}
        if "label" in body:
            labels = self.r.mapping(body["label"].value, f"{path}.label") or {}
            for language, text in labels.items():
                value = self.r.string(text.value, f"{path}.label.{language}")
                if value is not None:
                    label[language] = value
        final = self._flag(body, "final", path)
        return StateDef(name=name, label=FrozenMap(label), final=final)

    def _flag(self, body: Mapping[str, _Entry], key: str, path: str) -> bool:
        if key not in body:
            return False
        return bool(self.r.boolean(body[key].value, _join(path, key)))

    # -- events -------------------------------------------------------------------

    def _events(self, entry: _Entry | None) -> dict[str, EventDef]:
        if entry is None:
            return {}
        entries = self.r.mapping(entry.value, "events")
        if entries is None:
            return {}
        if not entries:
            self.r.problem(entry.value, "events", "no events")
        events: dict[str, EventDef] = {}
        for name, item in entries.items():
            if self._event_name_ok(name, item.key):
                event = self._event(name, item)
                if event is not None:
                    events[name] = event
        return events

    def _event_name_ok(self, name: str, node: Node) -> bool:
        path = f"events.{name}"
        if not _NAME.match(name):
            self.r.problem(node, path, f"{name!r} is not a name (lower case, digits, _)")
        elif name in ACTIONS:
            self.r.problem(node, path, "an event may not be named like an action")
        elif name in RESERVED_EVENT_NAMES:
            self.r.problem(node, path, "this name is reserved by the state machine")
        else:
            return True
        return False

    def _event(self, name: str, item: _Entry) -> EventDef | None:
        path = f"events.{name}"
        body = self.r.mapping(item.value, path)
        if body is None:
            return None
        self.r.check_keys(
            body,
            item.value,
            path,
            ("from", "to", "roles"),
            ("data", "guards", "emits", "internal"),
        )
        sources = self._sources(body.get("from"), path)
        dest = self._state_ref(body.get("to"), f"{path}.to")
        event_roles = self._event_roles(body.get("roles"), path)
        data = self._fields(body.get("data"), path)
        guards = self._guards(body.get("guards"), path)
        emits = self._emits(body.get("emits"), path)
        internal = self._flag(body, "internal", path)
        if internal and dest is not None and sources and list(sources) != [dest]:
            self.r.problem(item.key, f"{path}.internal", "an internal event must stay in its state")
        if sources is None or dest is None:
            return None
        return EventDef(
            name=name,
            sources=sources,
            dest=dest,
            roles=event_roles,
            data=FrozenMap(data),
            guards=guards,
            emits=emits,
            internal=internal,
            line=_line(item.key),
        )

    def _sources(self, entry: _Entry | None, path: str) -> tuple[str, ...] | None:
        if entry is None:
            return None
        found = self.r.names(entry.value, f"{path}.from", scalar_ok=True)
        if not found:
            if isinstance(entry.value, SequenceNode) or _is_null(entry.value):
                self.r.problem(entry.value, f"{path}.from", "event without source")
            return None
        for index, (source, node) in enumerate(found):
            if self.known_states.lacks(source):
                self.r.problem(node, f"{path}.from[{index}]", f"unknown state {source}")
        return tuple(source for source, _ in found)

    def _state_ref(self, entry: _Entry | None, path: str) -> str | None:
        if entry is None:
            return None
        name = self.r.name(entry.value, path)
        if name is not None and self.known_states.lacks(name):
            self.r.problem(entry.value, path, f"unknown state {name}")
            return None
        return name

    def _event_roles(self, entry: _Entry | None, path: str) -> frozenset[str]:
        if entry is None:
            return frozenset()
        found = self.r.names(entry.value, f"{path}.roles")
        if not found and isinstance(entry.value, SequenceNode):
            self.r.problem(entry.value, f"{path}.roles", "no role may trigger this event")
        for index, (role, node) in enumerate(found):
            if self.known_roles.lacks(role):
                self.r.problem(node, f"{path}.roles[{index}]", f"unknown role {role}")
        return frozenset(role for role, _ in found)

    def _guards(self, entry: _Entry | None, path: str) -> tuple[str, ...]:
        if entry is None:
            return ()
        found = self.r.names(entry.value, f"{path}.guards")
        for index, (guard, node) in enumerate(found):
            if guard not in KNOWN_GUARDS:
                self.r.problem(node, f"{path}.guards[{index}]", f"unknown guard {guard}")
        return tuple(guard for guard, _ in found)

    def _fields(self, entry: _Entry | None, path: str) -> dict[str, FieldSpec]:
        if entry is None:
            return {}
        entries = self.r.mapping(entry.value, f"{path}.data", nullable=True) or {}
        fields: dict[str, FieldSpec] = {}
        for name, item in entries.items():
            field_path = f"{path}.data.{name}"
            if not _NAME.match(name):
                self.r.problem(item.key, field_path, f"{name!r} is not a name")
                continue
            spec = self._field(name, item, field_path)
            if spec is not None:
                fields[name] = spec
        return fields

    def _field(self, name: str, item: _Entry, path: str) -> FieldSpec | None:
        body = self.r.mapping(item.value, path)
        if body is None:
            return None
        self.r.check_keys(body, item.value, path, ("type",), ("required", "enum", "min", "max"))
        kind = self.r.string(body["type"].value, f"{path}.type") if "type" in body else None
        if kind is not None and kind not in FIELD_TYPES:
            known = ", ".join(sorted(FIELD_TYPES))
            self.r.problem(body["type"].value, f"{path}.type", f"unknown type {kind} ({known})")
            kind = None
        enum = self._enum(body.get("enum"), kind, path)
        low = self._bound(body.get("min"), kind, f"{path}.min")
        high = self._bound(body.get("max"), kind, f"{path}.max")
        if low is not None and high is not None and low > high:
            self.r.problem(body["max"].value, f"{path}.max", "max is below min")
        if kind is None:
            return None
        required = self._flag(body, "required", path)
        return FieldSpec(name=name, type=kind, required=required, enum=enum, min=low, max=high)

    def _enum(self, entry: _Entry | None, kind: str | None, path: str) -> tuple[str, ...] | None:
        if entry is None:
            return None
        if kind is not None and kind != "string":
            self.r.problem(entry.key, f"{path}.enum", f"enum applies to string fields, not {kind}")
            return None
        values = self.r.names(entry.value, f"{path}.enum")
        if not values and isinstance(entry.value, SequenceNode):
            self.r.problem(entry.value, f"{path}.enum", "an enum needs values")
        return tuple(value for value, _ in values) or None

    def _bound(self, entry: _Entry | None, kind: str | None, path: str) -> int | None:
        if entry is None:
            return None
        if kind is not None and kind != "integer":
            self.r.problem(entry.key, path, f"min/max apply to integer fields, not {kind}")
            return None
        return self.r.integer(entry.value, path)

    def _emits(self, entry: _Entry | None, path: str) -> tuple[Emit, ...]:
        if entry is None:
            return ()
        emits: list[Emit] = []
        for index, node in enumerate(self.r.sequence(entry.value, f"{path}.emits")):
            emit = self._emit(node, f"{path}.emits[{index}]")
            if emit is not None:
                emits.append(emit)
        return tuple(emits)

    def _emit(self, node: Node, path: str) -> Emit | None:
        body = self.r.mapping(node, path)
        if body is None:
            return None
        self.r.check_keys(body, node, path, ("work",), ("to", "email"))
        work = self.r.string(body["work"].value, f"{path}.work") if "work" in body else None
        if work is not None and work not in EMIT_WORKS:
            self.r.problem(body["work"].value, f"{path}.work", f"unknown work {work}")
            work = None
        recipients: list[str] = []
        if "to" in body:
            for index, (to, item) in enumerate(self.r.names(body["to"].value, f"{path}.to")):
                if to not in EMIT_RECIPIENTS:
                    self.r.problem(item, f"{path}.to[{index}]", f"unknown recipient {to}")
                recipients.append(to)
        if work == "notify" and not recipients:
            self.r.problem(node, f"{path}.to", "notify needs recipients")
        email = self._flag(body, "email", path)
        if work is None:
            return None
        return Emit(work=work, to=tuple(recipients), email=email)

    # -- outcomes and categories --------------------------------------------------

    def _outcomes(
        self, entry: _Entry | None, events: Mapping[str, EventDef], kinds: frozenset[str]
    ) -> FrozenMap[str, FrozenMap[str, tuple[str, ...]]]:
        if entry is None:
            return FrozenMap()
        entries = self.r.mapping(entry.value, "outcomes", nullable=True) or {}
        result: dict[str, FrozenMap[str, tuple[str, ...]]] = {}
        for kind, item in entries.items():
            path = f"outcomes.{kind}"
            if kinds and kind not in kinds:
                self.r.problem(item.key, path, f"unknown referral kind {kind}")
            per_event = self.r.mapping(item.value, path) or {}
            result[kind] = FrozenMap(
                (event, self._event_outcomes(event, value, events, f"{path}.{event}"))
                for event, value in per_event.items()
            )
        return FrozenMap(result)

    def _event_outcomes(
        self, name: str, item: _Entry, events: Mapping[str, EventDef], path: str
    ) -> tuple[str, ...]:
        values = self.r.names(item.value, path)
        event = events.get(name)
        if event is None:
            self.r.problem(item.key, path, f"unknown event {name}")
            return tuple(value for value, _ in values)
        spec = event.data.get(OUTCOME_FIELD)
        if spec is None or spec.enum is None:
            self.r.problem(item.key, path, f"event {name} has no `outcome` enum field")
            return tuple(value for value, _ in values)
        for index, (value, node) in enumerate(values):
            if value not in spec.enum:
                self.r.problem(node, f"{path}[{index}]", f"{value} is not an outcome of {name}")
        return tuple(value for value, _ in values)

    def _categories(self, entry: _Entry | None) -> frozenset[str]:
        if entry is None:
            return frozenset()
        found = self.r.names(entry.value, "mandatory_report_categories")
        for index, (category, node) in enumerate(found):
            if category not in CATEGORIES:
                path = f"mandatory_report_categories[{index}]"
                self.r.problem(node, path, f"unknown category {category}")
        return frozenset(category for category, _ in found)

    # -- clocks -------------------------------------------------------------------

    def _clocks(
        self,
        entry: _Entry | None,
        events: Mapping[str, EventDef],
        vocabulary: _Vocabulary,
    ) -> dict[str, ClockDef]:
        if entry is None:
            return {}
        entries = self.r.mapping(entry.value, "clocks", nullable=True) or {}
        clocks: dict[str, ClockDef] = {}
        for name, item in entries.items():
            if not _NAME.match(name):
                self.r.problem(item.key, f"clocks.{name}", f"{name!r} is not a name")
                continue
            clock = _ClockParser(self.r, self.known_states, events, vocabulary).parse(name, item)
            if clock is not None:
                clocks[name] = clock
        return clocks

    # -- the graph ----------------------------------------------------------------

    def _graph(
        self, entry: _Entry | None, states: Mapping[str, StateDef], events: Mapping[str, EventDef]
    ) -> str | None:
        if entry is None:
            return None
        initial = self._state_ref(entry, "initial")
        if initial is None:
            return None
        reached = _reachable(initial, events)
        for name, state in states.items():
            line = self.state_lines.get(name)
            if name not in reached:
                self.r.problem(line, f"states.{name}", f"unreachable from {initial}")
            leaving = [e for e in events.values() if name in e.sources and e.dest != name]
            if not state.final and not leaving:
                self.r.problem(line, f"states.{name}", "dead end: not final, and no event leaves")
        return initial


def _reachable(initial: str, events: Mapping[str, EventDef]) -> set[str]:
    reached = {initial}
    queue = deque([initial])
    while queue:
        state = queue.popleft()
        for event in events.values():
            if state in event.sources and event.dest not in reached:
                reached.add(event.dest)
                queue.append(event.dest)
    return reached


def _kinds(events: Mapping[str, EventDef]) -> frozenset[str]:
    kinds: set[str] = set()
    for event in events.values():
        spec = event.data.get(KIND_FIELD)
        if spec is not None and spec.enum:
            kinds.update(spec.enum)
    return frozenset(kinds)


class _ClockParser:
    """Validates one clock: its triggers, conditions and period."""

    def __init__(
        self,
        reader: _Reader,
        known_states: _Known,
        events: Mapping[str, EventDef],
        vocabulary: _Vocabulary,
    ) -> None:
        self.r = reader
        self.known_states = known_states
        self.events = events
        self.vocabulary = vocabulary

    def parse(self, name: str, item: _Entry) -> ClockDef | None:
        path = f"clocks.{name}"
        body = self.r.mapping(item.value, path)
        if body is None:
            return None
        self.r.check_keys(
            body,
            item.value,
            path,
            ("opens_on", "met_by", "runs_in", "basis"),
            (
                "lengths",
                "until",
                "reminder_days_before",
                "suspendable",
                "extendable_by",
                "court",
                "once",
            ),
        )
        opens_on = self._triggers(body.get("opens_on"), f"{path}.opens_on", need_one=True)
        met_by = self._triggers(body.get("met_by"), f"{path}.met_by", need_one=False)
        opening_fields = self._opening_fields(opens_on)
        lengths = self._lengths(body.get("lengths"), opening_fields, path)
        until = self._until(body.get("until"), opens_on, path)
        if "lengths" not in body and "until" not in body:
            self.r.problem(item.key, path, "clock without lengths and without until")
        elif "lengths" in body and "until" in body:
            self.r.problem(body["until"].key, f"{path}.until", "give lengths or until, not both")
        runs_in = self._runs_in(body.get("runs_in"), path)
        reminder = None
        if "reminder_days_before" in body:
            node = body["reminder_days_before"].value
            reminder = self.r.integer(node, f"{path}.reminder_days_before", 1)
        extendable_by = self._extendable_by(body.get("extendable_by"), path)
        basis = self.r.string(body["basis"].value, f"{path}.basis") if "basis" in body else None
        if opens_on is None or met_by is None or basis is None:
            return None
        return ClockDef(
            name=name,
            opens_on=opens_on,
            met_by=met_by,
            runs_in=runs_in,
            lengths=lengths,
            until=until,
            reminder_days_before=reminder,
            suspendable=self._flag(body, "suspendable", path),
            extendable_by=extendable_by,
            court=self._flag(body, "court", path),
            once=self._flag(body, "once", path),
            basis=basis,
            line=_line(item.key),
        )

    def _flag(self, body: Mapping[str, _Entry], key: str, path: str) -> bool:
        if key not in body:
            return False
        return bool(self.r.boolean(body[key].value, _join(path, key)))

    def _triggers(
        self, entry: _Entry | None, path: str, *, need_one: bool
    ) -> tuple[ClockTrigger, ...] | None:
        if entry is None:
            return None
        nodes = self.r.sequence(entry.value, path)
        if need_one and not nodes and isinstance(entry.value, SequenceNode):
            self.r.problem(entry.value, path, "a clock needs something that opens it")
        triggers = [self._trigger(node, f"{path}[{index}]") for index, node in enumerate(nodes)]
        return tuple(trigger for trigger in triggers if trigger is not None)

    def _trigger(self, node: Node, path: str) -> ClockTrigger | None:
        body = self.r.mapping(node, path)
        if body is None:
            return None
        self.r.check_keys(body, node, path, ("on",), ("when",))
        if "on" not in body:
            return None
        on = self.r.name(body["on"].value, f"{path}.on")
        if on is None:
            return None
        if on not in self.events and on not in ACTIONS:
            self.r.problem(
                body["on"].value, f"{path}.on", f"clock tied to an unknown event or action {on}"
            )
            return None
        event = self.events.get(on)
        fields = dict(event.data) if event is not None else None
        when = self._condition(body.get("when"), fields, f"{path}.when")
        return ClockTrigger(on=on, when=when)

    def _opening_fields(self, opens_on: tuple[ClockTrigger, ...] | None) -> dict[str, FieldSpec]:
        """Data fields a length condition may test: those of any opening event."""
        fields: dict[str, FieldSpec] = {}
        for trigger in opens_on or ():
            event = self.events.get(trigger.on)
            if event is not None:
                for name, spec in event.data.items():
                    fields.setdefault(name, spec)
        return fields

    def _condition(
        self, entry: _Entry | None, fields: Mapping[str, FieldSpec] | None, path: str
    ) -> FrozenMap[str, tuple[object, ...]]:
        if entry is None:
            return FrozenMap()
        entries = self.r.mapping(entry.value, path) or {}
        when: dict[str, tuple[object, ...]] = {}
        for key, item in entries.items():
            values = self._condition_values(key, item, fields, f"{path}.{key}")
            if values is not None:
                when[key] = values
        return FrozenMap(when)

    def _condition_values(
        self,
        key: str,
        item: _Entry,
        fields: Mapping[str, FieldSpec] | None,
        path: str,
    ) -> tuple[object, ...] | None:
        check = self._value_check(key, item, fields, path)
        if check is None:
            return None
        nodes = item.value.value if isinstance(item.value, SequenceNode) else [item.value]
        if not nodes:
            self.r.problem(item.value, path, "a condition needs at least one value")
            return None
        values: list[object] = []
        for node in nodes:
            value = self.r.scalar(node, path)
            if value is _BAD:
                continue
            message = check(value)
            if message is not None:
                self.r.problem(node, path, message)
                continue
            values.append(value)
        return tuple(values)

    def _value_check(
        self,
        key: str,
        item: _Entry,
        fields: Mapping[str, FieldSpec] | None,
        path: str,
    ) -> _ValueCheck | None:
        if key == "risk":
            return _one_of(RISKS, "risk")
        if key == "category":
            return _one_of(CATEGORIES, "category")
        if key == "referral_kind":
            kinds = tuple(sorted(self.vocabulary.kinds))
            return _one_of(kinds, "referral kind") if kinds else _is_text
        if key == "mandatory_report_duty":
            return _is_bool
        if key.startswith(EVENT_PREFIX):
            field_name = key[len(EVENT_PREFIX) :]
            if fields is None:
                self.r.problem(item.key, path, "no event data here: the trigger is an action")
                return None
            spec = fields.get(field_name)
            if spec is None:
                self.r.problem(item.key, path, f"the event has no data field {field_name}")
                return None
            return _fits_field(spec)
        allowed = ", ".join(sorted(CONDITION_KEYS)) + ", event.<field>"
        self.r.problem(item.key, path, f"unknown condition key {key} ({allowed})")
        return None

    def _lengths(
        self, entry: _Entry | None, fields: Mapping[str, FieldSpec], path: str
    ) -> tuple[LengthRule, ...]:
        if entry is None:
            return ()
        nodes = self.r.sequence(entry.value, f"{path}.lengths")
        if not nodes and isinstance(entry.value, SequenceNode):
            self.r.problem(entry.value, f"{path}.lengths", "no lengths")
        rules: list[LengthRule] = []
        for index, node in enumerate(nodes):
            rule = self._length(node, fields, f"{path}.lengths[{index}]")
            if rule is not None:
                rules.append(rule)
        if rules and len(rules) == len(nodes) and rules[-1].when:
            # Without a fallback a case matching no condition would have no deadline.
            self.r.problem(nodes[-1], f"{path}.lengths", "the last length needs no `when`")
        return tuple(rules)

    def _length(self, node: Node, fields: Mapping[str, FieldSpec], path: str) -> LengthRule | None:
        body = self.r.mapping(node, path)
        if body is None:
            return None
        self.r.check_keys(body, node, path, ("unit", "length"), ("when",))
        unit = self.r.string(body["unit"].value, f"{path}.unit") if "unit" in body else None
        if unit is not None and unit not in CLOCK_UNITS:
            known = ", ".join(sorted(CLOCK_UNITS))
            self.r.problem(body["unit"].value, f"{path}.unit", f"unknown unit {unit} ({known})")
            unit = None
        length = None
        if "length" in body:
            length = self.r.integer(body["length"].value, f"{path}.length", 1)
        when = self._condition(body.get("when"), fields, f"{path}.when")
        if unit is None or length is None:
            return None
        return LengthRule(when=when, unit=unit, length=length)

    def _until(
        self, entry: _Entry | None, opens_on: tuple[ClockTrigger, ...] | None, path: str
    ) -> str | None:
        if entry is None:
            return None
        value = self.r.string(entry.value, f"{path}.until")
        if value is None:
            return None
        if not value.startswith(EVENT_PREFIX):
            self.r.problem(entry.value, f"{path}.until", "until must name event.<date field>")
            return None
        field_name = value[len(EVENT_PREFIX) :]
        # Every opening must carry the date, or that opening would have no deadline.
        for trigger in opens_on or ():
            event = self.events.get(trigger.on)
            spec = event.data.get(field_name) if event is not None else None
            if spec is None or spec.type != "date":
                message = f"{trigger.on} has no date field {field_name}"
                self.r.problem(entry.value, f"{path}.until", message)
        return value

    def _runs_in(self, entry: _Entry | None, path: str) -> str | None:
        if entry is None or _is_null(entry.value):
            return None
        name = self.r.name(entry.value, f"{path}.runs_in")
        if name is not None and self.known_states.lacks(name):
            self.r.problem(entry.value, f"{path}.runs_in", f"unknown state {name}")
            return None
        return name

    def _extendable_by(self, entry: _Entry | None, path: str) -> str | None:
        if entry is None or _is_null(entry.value):
            return None
        name = self.r.name(entry.value, f"{path}.extendable_by")
        if name is None:
            return None
        event = self.events.get(name)
        if event is None:
            self.r.problem(entry.value, f"{path}.extendable_by", f"unknown event {name}")
            return None
        spec = event.data.get(EXTEND_FIELD)
        if spec is None or spec.type != "integer":
            message = f"{name} needs an integer `{EXTEND_FIELD}` field to extend a clock"
            self.r.problem(entry.value, f"{path}.extendable_by", message)
        return name


def _one_of(allowed: tuple[str, ...], what: str) -> _ValueCheck:
    def check(value: object) -> str | None:
        if value in allowed and isinstance(value, str):
            return None
        return f"unknown {what} {value!r} ({', '.join(allowed)})"

    return check


def _is_text(value: object) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {_describe(value)}"


def _is_bool(value: object) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {_describe(value)}"


def _fits_field(spec: FieldSpec) -> _ValueCheck:
    def check(value: object) -> str | None:
        if spec.type in ("string", "text"):
            if not isinstance(value, str):
                return f"expected a string, got {_describe(value)}"
            if spec.enum is not None and value not in spec.enum:
                return f"{value!r} is not one of {', '.join(spec.enum)}"
            return None
        if spec.type == "boolean":
            return _is_bool(value)
        if spec.type == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return None if ok else f"expected an integer, got {_describe(value)}"
        ok = isinstance(value, date) and not isinstance(value, datetime)
        return None if ok else f"expected a date, got {_describe(value)}"

    return check
