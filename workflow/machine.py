"""One compiled `transitions` machine per workflow definition, shared by every case and thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from transitions import EventData, Machine, MachineError

from workflow.definition import EventDef, WorkflowDefinition
from workflow.guards import GuardContext, evaluate_guards


@dataclass(frozen=True)
class FireResult:
    """What firing an event did.

    `dest` is the new state (the same state for an internal event) when the event
    went through. Otherwise `failed_rule` names the refusing guard, or both are
    None: the event is unknown or not allowed in that state.
    """

    dest: str | None
    failed_rule: str | None

    @property
    def ok(self) -> bool:
        return self.dest is not None

    @property
    def invalid(self) -> bool:
        return self.dest is None and self.failed_rule is None


class _CaseToken:
    """A case as the machine sees it for one fire: its state and what its guards read.

    Deliberately not the ORM object: the machine binds trigger methods on its
    models, and a throwaway token keeps that away from persistent state.
    """

    def __init__(self, state: str, guard_context: GuardContext) -> None:
        self.state = state
        self.guard_context = guard_context
        self.failed_rule: str | None = None


class CompiledWorkflow:
    """A definition and its single machine; `fire` is safe to call from many threads."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self._allowed: dict[str, tuple[str, ...]] = {
            state: tuple(event.name for event in definition.events_from(state))
            for state in definition.states
        }
        # No models at build time: tokens are added for one fire and removed again.
        # auto_transitions would add to_<state>() triggers that skip every guard.
        self.machine = Machine(
            model=None,
            states=list(definition.states),
            initial=definition.initial,
            auto_transitions=False,
            send_event=True,
            name=definition.key,
        )
        for event in definition.events.values():
            self._add_event(event)

    def _add_event(self, event: EventDef) -> None:
        check = _guard_check(event.guards)
        # transitions treats dest=None as internal: no exit/enter, as `internal` means.
        dest = None if event.internal else event.dest
        for source in event.sources:
            self.machine.add_transition(event.name, source, dest, conditions=[check])

    def allowed_in(self, state: str) -> list[str]:
        """The events whose sources include `state`, in definition order (no guards)."""
        return list(self._allowed.get(state, ()))

    def is_allowed(self, state: str, event: str) -> bool:
        return event in self._allowed.get(state, ())

    def fire(self, state: str, event: str, ctx: GuardContext) -> FireResult:
        """Run `event` from `state` through its guards; nothing outside the result changes.

        Raises ValueError when `state` is not a state of this definition (a corrupt
        case, not a user error) or when `ctx` describes another state or event.
        """
        if state not in self.definition.states:
            raise ValueError(f"{state!r} is not a state of {self.definition.key}")
        if ctx.state != state or ctx.event != event:
            raise ValueError("the guard context describes another state or event")
        if not self.is_allowed(state, event):
            return FireResult(dest=None, failed_rule=None)
        token = _CaseToken(state, ctx)
        # The event is triggered on the token directly: the machine reads and sets only
        # its `state`, so the token need not be added as a model (add_model binds a
        # trigger method per event and a check per state on it, for nothing here).
        try:
            moved = self.machine.events[event].trigger(token)
        except MachineError:
            # Unreachable after is_allowed; kept so the library's error never leaks.
            return FireResult(dest=None, failed_rule=None)
        if not moved:
            return FireResult(dest=None, failed_rule=token.failed_rule)
        return FireResult(dest=token.state, failed_rule=None)


def _guard_check(guards: tuple[str, ...]) -> Callable[[EventData], bool]:
    """The one condition of an event's transitions: its guards, in definition order."""

    def check(event_data: EventData) -> bool:
        token = event_data.model
        assert isinstance(token, _CaseToken)
        token.failed_rule = evaluate_guards(guards, token.guard_context)
        return token.failed_rule is None

    return check


_compiled: dict[str, CompiledWorkflow] = {}
_compiled_lock = threading.Lock()


def compile_workflow(definition: WorkflowDefinition) -> CompiledWorkflow:
    """The process-wide compiled machine of `definition.key`, built on first use.

    A second, different definition under the same key is refused: open cases would
    otherwise silently follow whichever was compiled first.
    """
    with _compiled_lock:
        compiled = _compiled.get(definition.key)
        if compiled is None:
            compiled = _compiled[definition.key] = CompiledWorkflow(definition)
        elif compiled.definition != definition:
            raise ValueError(f"{definition.key} is already compiled with other content")
        return compiled
