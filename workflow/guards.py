"""The registry of named workflow rules (guards): pure predicates over a GuardContext."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType

# Vocabulary of the rules below. A definition may rename nothing these rules read:
# they are the federation's law, written once in code and named by id from the YAML.
CLOSED = "closed"
REFER = "refer"
SETTLE = "settle"
DECIDE = "decide"
LITIGATION = "litigation"
JUDICIAL_CONFIRMATION = "judicial_confirmation"
SESSION_EXEMPT_RISKS = frozenset({"high", "emergency"})
SESSION_EXEMPT_CATEGORIES = frozenset({"domestic_violence"})
# Outcomes that bind the parties: a case decided so is not mediated again.
BINDING_OUTCOMES = frozenset({"judgment", "court_mediation", "confirmed"})
JUDICIAL_CONFIRMATION_DAYS = 30
REOPEN_DAYS = 90

_EMPTY: Mapping[str, object] = MappingProxyType({})
_NO_OUTCOMES: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType({})


@dataclass(frozen=True, kw_only=True)
class GuardContext:
    """What the rules may know about a case and an event, filled by the service.

    `now` must be aware and expressed in the local zone (CARNATION_TIMEZONE): the
    day-counting rules use `now.date()`. For a backdated transition it is the
    `occurred_at`. `data` is the validated event data; an empty `data` asks the
    data-free question (`allowed_events`), to which a rule answers no only when it
    can tell without the data (see `without_data`).
    """

    state: str
    event: str
    now: datetime
    risk: str
    category: str
    data: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    session_count: int = 0
    extended: bool = False
    resolution_breached: bool = False
    referral_kind: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    closure_outcome: str | None = None
    agreement_effective_on: date | None = None
    # Defaults to False so that a service which forgets to compute it refuses.
    assignee_in_scope: bool = False
    outcomes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=lambda: _NO_OUTCOMES
    )

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("GuardContext.now must be timezone-aware")

    @property
    def today(self) -> date:
        return self.now.date()

    def without_data(self) -> GuardContext:
        """The same context with the event data unknown, for `allowed_events`."""
        return replace(self, data=_EMPTY)


Guard = Callable[[GuardContext], bool]

_REGISTRY: dict[str, Guard] = {}

GUARDS: Mapping[str, Guard] = MappingProxyType(_REGISTRY)


def _guard(name: str) -> Callable[[Guard], Guard]:
    def register(func: Guard) -> Guard:
        if name in _REGISTRY:
            raise ValueError(f"guard {name} registered twice")
        _REGISTRY[name] = func
        return func

    return register


@_guard("assignee_scope")
def assignee_scope(ctx: GuardContext) -> bool:
    # Scope depends on the station tree, which only the service can read; it
    # computes the answer for the chosen (or defaulted) assignee.
    return ctx.assignee_in_scope


@_guard("session_required")
def session_required(ctx: GuardContext) -> bool:
    if ctx.event == REFER:
        kind = ctx.data.get("kind")
        if kind != LITIGATION:
            # Data-free (kind unknown) or another kind: nothing to require.
            return True
        # Mediation is voluntary and never blocks going to court.
        if (
            ctx.risk in SESSION_EXEMPT_RISKS
            or ctx.category in SESSION_EXEMPT_CATEGORIES
            or ctx.data.get("mediation_declined") is True
        ):
            return True
    return ctx.session_count > 0


@_guard("kind_not_allowed_from_state")
def kind_not_allowed_from_state(ctx: GuardContext) -> bool:
    if ctx.state != CLOSED:
        return True
    kind = ctx.data.get("kind")
    return kind is None or kind == JUDICIAL_CONFIRMATION


@_guard("judicial_confirmation_window")
def judicial_confirmation_window(ctx: GuardContext) -> bool:
    kind = ctx.data.get("kind")
    if kind is None and ctx.state == CLOSED:
        # Data-free: from closed the only possible kind is judicial_confirmation.
        kind = JUDICIAL_CONFIRMATION
    if kind != JUDICIAL_CONFIRMATION:
        return True
    # Only a settled agreement in force can be confirmed, and it is in force only
    # while the case stays closed by `settle`: in intake there is none, and a
    # reopening sets the earlier agreement aside. So judicial_confirmation from
    # any state but closed-by-settle is refused by this rule.
    if ctx.state != CLOSED or ctx.closed_by != SETTLE or ctx.agreement_effective_on is None:
        return False
    # The application must come within 30 days of the agreement taking effect,
    # and an agreement not yet in effect cannot be confirmed.
    age = (ctx.today - ctx.agreement_effective_on).days
    return 0 <= age <= JUDICIAL_CONFIRMATION_DAYS


@_guard("extend_once")
def extend_once(ctx: GuardContext) -> bool:
    return not ctx.extended


@_guard("extend_before_deadline")
def extend_before_deadline(ctx: GuardContext) -> bool:
    return not ctx.resolution_breached


@_guard("outcome_fits_kind")
def outcome_fits_kind(ctx: GuardContext) -> bool:
    # The definition's `outcomes` says which outcomes each referral kind may end
    # with, per event (`rule` only for protection orders, `decide` for the others).
    if ctx.referral_kind is None:
        return False
    allowed = ctx.outcomes.get(ctx.referral_kind, {}).get(ctx.event, ())
    outcome = ctx.data.get("outcome")
    if outcome is None:
        # Data-free: the event is possible if the kind ends with it at all.
        return bool(allowed)
    return outcome in allowed


@_guard("reopen_window")
def reopen_window(ctx: GuardContext) -> bool:
    if ctx.closed_at is None:
        return False
    # Counted in local days like a legal period: the closing day is not counted,
    # and the window ends at 24:00 of the 90th day after it.
    closed_on = ctx.closed_at.astimezone(ctx.now.tzinfo).date()
    return (ctx.today - closed_on).days <= REOPEN_DAYS


@_guard("reopen_not_binding")
def reopen_not_binding(ctx: GuardContext) -> bool:
    return not (ctx.closed_by == DECIDE and ctx.closure_outcome in BINDING_OUTCOMES)


def evaluate_guards(names: Iterable[str], ctx: GuardContext) -> str | None:
    """The id of the first rule (in the given order) that refuses, or None.

    An unknown name refuses as itself: the definition validator rejects unknown
    guards, so reaching one here means a definition bypassed validation.
    """
    for name in names:
        guard = GUARDS.get(name)
        if guard is None or not guard(ctx):
            return name
    return None
