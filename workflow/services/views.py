"""How cases, clocks and timeline events look to a user: masked unless revealed."""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar, cast

import orjson
from sqlalchemy import ARRAY, BigInteger, Text, any_, bindparam, func, select
from sqlalchemy import cast as cast_to
from sqlalchemy.orm import Session

from workflow.crypto import Sealer
from workflow.privacy import PERSON_MASKS, mask_person, mask_text
from workflow.services.clocks import clock_view, effective_status
from workflow.storage.driver import PreparedSelect
from workflow.storage.models import Case, ClockInstance, Station, User

PERSON_FIELDS = ("complainant", "victim", "respondent")
T = TypeVar("T")

# What a case view and the allowed events read of a case: the lean paths select only
# these columns (Core rows, no ORM objects), and an ORM ``Case`` has the same names.
CASE_VIEW_COLUMNS: tuple[Any, ...] = (
    Case.id,
    Case.number,
    Case.state,
    Case.version,
    Case.workflow_key,
    Case.channel,
    Case.category,
    Case.risk,
    Case.station_id,
    Case.assignee_id,
    Case.complainant_sealed,
    Case.victim_sealed,
    Case.respondent_sealed,
    Case.summary_sealed,
    Case.facts,
    Case.referral_kind,
    Case.session_count,
    Case.received_at,
    Case.created_at,
    Case.updated_at,
    Case.referral_panel_id,
    Case.extended,
    Case.closed_by,
    Case.closed_at,
    Case.closure_outcome,
    Case.agreement_effective_on,
)
# A masked view only asks whether there is a summary: its first character answers that
# (empty and NULL stay falsy) without carrying the whole sealed text out of the database.
MASKED_CASE_VIEW_COLUMNS: tuple[Any, ...] = tuple(
    func.substr(Case.summary_sealed, 1, 1).label("summary_sealed")
    if column is Case.summary_sealed
    else column
    for column in CASE_VIEW_COLUMNS
)
# A listing reads the JSON (facts) as its stored text: a case seen before is then drawn
# from the kept views by that text, without decoding it (`listed_views`).
LISTED_CASE_COLUMNS: tuple[Any, ...] = tuple(
    cast_to(Case.facts, Text).label("facts") if column is Case.facts else column
    for column in MASKED_CASE_VIEW_COLUMNS
)
# What a clock view, `is_open` and the guards read of a clock.
CLOCK_VIEW_COLUMNS: tuple[Any, ...] = (
    ClockInstance.id,
    ClockInstance.case_id,
    ClockInstance.name,
    ClockInstance.status,
    ClockInstance.opened_at,
    ClockInstance.due_at,
    ClockInstance.escalation_level,
    ClockInstance.stopped_at,
    ClockInstance.suspended_seconds,
    ClockInstance.provisional,
    ClockInstance.computation,
)
# Rows become plain named tuples with the same names: a view reads some forty values per
# case, and a tuple's attribute costs a small fraction of a SQLAlchemy Row's.
_record_type: Any = namedtuple  # field names from the statements: no static type to give
CaseRecord = _record_type("CaseRecord", select(*CASE_VIEW_COLUMNS).selected_columns.keys())
ClockRecord = _record_type("ClockRecord", select(*CLOCK_VIEW_COLUMNS).selected_columns.keys())


# One case and its clocks in one statement (a row per clock; the clock columns are NULL
# for a case without any): what a single case view needs, in one round trip.
CASE_WITH_CLOCKS = (
    select(*CASE_VIEW_COLUMNS, *(c.label(f"clock_{c.key}") for c in CLOCK_VIEW_COLUMNS))
    .select_from(Case)
    .outerjoin(ClockInstance, ClockInstance.case_id == Case.id)
    .order_by(ClockInstance.id)
)


def case_with_clocks(rows: Sequence[Any]) -> tuple[Any, list[Any]]:
    """The `CaseRecord` and `ClockRecord`s of the rows of one case from `CASE_WITH_CLOCKS`."""
    width = len(CASE_VIEW_COLUMNS)
    clocks = [ClockRecord._make(row[width:]) for row in rows if row[width] is not None]
    return CaseRecord._make(rows[0][:width]), clocks


CLOCKS_OF_CASES = (
    select(*CLOCK_VIEW_COLUMNS)
    .where(ClockInstance.case_id.in_(bindparam("case_ids", expanding=True)))
    .order_by(ClockInstance.id)
)
# On PostgreSQL the ids travel as one array: the same statement text for every page, so
# it is prepared once, and no fifty placeholders rendered per call.
CLOCKS_OF_CASES_PG = PreparedSelect(
    select(*CLOCK_VIEW_COLUMNS)
    .where(ClockInstance.case_id == any_(bindparam("case_ids", type_=ARRAY(BigInteger))))
    .order_by(ClockInstance.id)
)


# The clocks of a listed page, their computation as stored text (as `LISTED_CASE_COLUMNS`).
LISTED_CLOCK_COLUMNS: tuple[Any, ...] = tuple(
    cast_to(ClockInstance.computation, Text).label("computation")
    if column is ClockInstance.computation
    else column
    for column in CLOCK_VIEW_COLUMNS
)


def listed_page(rows: Sequence[Any]) -> tuple[list[Any], dict[int, list[Any]]]:
    """The `CaseRecord`s of a listed page and their `ClockRecord`s by case, from rows of
    `LISTED_CASE_COLUMNS` then `LISTED_CLOCK_COLUMNS` (a row per clock, the page's order;
    the clock columns NULL for a case without any)."""
    width = len(LISTED_CASE_COLUMNS)
    cases: list[Any] = []
    clocks: dict[int, list[Any]] = {}
    make_case, make_clock = CaseRecord._make, ClockRecord._make
    for row in rows:
        if not cases or cases[-1].id != row[0]:
            cases.append(make_case(row[:width]))
            clocks[row[0]] = []
        if row[width] is not None:
            clocks[row[0]].append(make_clock(row[width:]))
    return cases, clocks


def with_json_read(record: Any, field: str) -> Any:
    """``record`` with its JSON ``field`` decoded from the stored text."""
    text = getattr(record, field)
    return record._replace(**{field: orjson.loads(text) if text is not None else None})


def at_moment(
    kept: dict[str, Any], clocks: Sequence[Any], now: datetime, allowed: list[str]
) -> dict:
    """A kept masked view completed with what depends on the moment and the reader: each
    clock's effective status, whether the case is overdue, the events allowed now."""
    view = dict(kept)
    view["clocks"] = [
        {**shown, "status": effective_status(clock, now)}
        for shown, clock in zip(kept["clocks"], clocks, strict=True)
    ]
    view["overdue"] = any(
        c.stopped_at is None and effective_status(c, now) == "breached" for c in clocks
    )
    view["allowed_events"] = allowed
    return view


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def person_view(
    sealer: Sealer,
    sealed: str | None,
    facts: Mapping[str, Any] | None,
    reveal: bool,
    masked: MaskedIdentities | None = None,
) -> dict | None:
    if sealed is None and not facts:
        return None
    if not reveal and masked is not None:
        # Masking works field by field, so masking the identity and the facts apart
        # and merging gives the same keys, order and values as masking the merge.
        identity = masked.get(sealer, sealed)
        if not facts:
            return dict(identity)
        if PERSON_MASKS.keys().isdisjoint(facts):
            return {**identity, **facts}  # facts without identifying fields: nothing to mask
        return {**identity, **(mask_person(dict(facts)) or {})}
    merged = {**(sealer.open_json(sealed) or {}), **(facts or {})}
    return merged if reveal else mask_person(merged)


class MaskedIdentities:
    """Masked identities by sealed value: a page of cases costs no decryption once seen.

    The key is the stored ciphertext, which changes whenever a person is sealed anew (a
    fresh nonce each time), so an entry can never be out of date. Only masked values are
    kept, never plaintext: what any reader of the case is shown anyway.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, sealer: Sealer, sealed: str | None) -> dict[str, Any]:
        if sealed is None:
            return {}
        found = self._entries.get(sealed)
        if found is None:
            found = mask_person(sealer.open_json(sealed) or {}) or {}
            with self._lock:
                if len(self._entries) >= self.limit:
                    # Oldest first: dicts keep insertion order.
                    del self._entries[next(iter(self._entries))]
                self._entries[sealed] = found
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ListingTotals:
    """Totals of listings: exact up to ``cap``; above it, a full count kept ``ttl`` per process.

    Counting every case of a district is the costly part of a listing; counting up to a
    cap is cheap, and above it a total a few seconds old serves the reader as well. So a
    large total may lag writes (this process's and others') by up to ``ttl``, plus the
    time one recount takes. Time is the runtime's clock; keys must carry the reader's
    scope and the filters.

    While one request recounts an expired entry, the others answer with the old total
    rather than all counting at once.
    """

    def __init__(
        self, cap: int = 1_000, ttl: timedelta = timedelta(seconds=5), limit: int = 1_000
    ) -> None:
        self.cap = cap
        self.ttl = ttl
        self.limit = limit
        self._entries: dict[Hashable, tuple[datetime, int]] = {}
        self._counting: set[Hashable] = set()
        self._lock = threading.Lock()

    def fresh(self, key: Hashable, now: datetime) -> int | None:
        """The total kept under ``key`` if it was counted less than ``ttl`` ago."""
        entry = self._entries.get(key)
        # A clock that went backwards makes an entry stale too, never fresher.
        if entry is not None and entry[0] <= now < entry[0] + self.ttl:
            return entry[1]
        return None

    def get(self, key: Hashable, now: datetime, count: Callable[[], int]) -> int:
        """The fresh total under ``key``, else ``count()`` kept from ``now`` on."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= now < entry[0] + self.ttl:
            return entry[1]
        with self._lock:
            if entry is not None and key in self._counting:
                return entry[1]
            self._counting.add(key)
        try:
            total = count()
        finally:
            with self._lock:
                self._counting.discard(key)
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (now, total)
        return total

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Kept:
    """Values built once and kept for the next request alike, the oldest dropped first.

    For statements built for one reader and filter set (building a select and computing
    its cache key costs more than running a simple one) and for the masked views of listed
    cases (`listed_views`). Keys must carry everything a value was built from; a value
    that depends on the time must not be kept.
    """

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._entries: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        found = self._entries.get(key)
        if found is None:
            found = build()
            self.put(key, found)
        return cast(T, found)

    def find(self, key: Hashable) -> Any | None:
        """The value kept under ``key``, or None."""
        return self._entries.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            if len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True)
class StationName:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class UserName:
    id: int
    username: str


class Directory:
    """What a process keeps to draw views quickly.

    Station codes and names, and usernames, by id: facts that never change once written
    (no call renames them), so a process keeps them and asks only about ids it lacks.
    Beside them, masked identities by ciphertext, statements built for a reader and,
    for a few seconds, the totals of large listings (`MaskedIdentities`, `Kept`,
    `ListingTotals`). One per runtime, so per database.
    """

    def __init__(self) -> None:
        self.stations: dict[int, StationName] = {}
        self.users: dict[int, UserName] = {}
        self.masked = MaskedIdentities()
        self.statements = Kept()
        # Masked views of listed cases by the rows they are drawn from (`listed_views`):
        # the keys hold ciphertexts and non-identifying facts, the views masked values,
        # never a plaintext identity (as `MaskedIdentities`). Some 5 kB an entry.
        self.views = Kept(limit=2_000)
        self.totals = ListingTotals()

    def load(self, session: Session, station_ids: set[int], user_ids: set[int]) -> None:
        missing_stations = station_ids - self.stations.keys()
        if missing_stations:
            for row in session.execute(
                select(Station.id, Station.code, Station.name).where(
                    Station.id.in_(missing_stations)
                )
            ):
                self.stations[row.id] = StationName(row.id, row.code, row.name)
        missing_users = user_ids - self.users.keys()
        if missing_users:
            users = session.execute(
                select(User.id, User.username).where(User.id.in_(missing_users))
            )
            for user_id, username in users:
                self.users[user_id] = UserName(user_id, username)

    def clear(self) -> None:
        self.stations.clear()
        self.users.clear()
        self.masked.clear()
        self.statements.clear()
        self.views.clear()
        self.totals.clear()


class CaseBatch:
    """Everything the views of a page of cases need, loaded in a fixed number of queries.

    ``cases`` are ORM cases or `CaseRecord`s; the clocks are `ClockRecord`s, read from the
    database: the caller flushes its changes first.
    """

    def __init__(
        self,
        session: Session,
        cases: Sequence[Any],
        directory: Directory,
        clocks: Mapping[int, list[Any]] | None = None,
    ) -> None:
        self.clocks: dict[int, list[Any]] = {c.id: [] for c in cases}
        if clocks is not None:
            self.clocks.update(clocks)  # read with the cases (`CASE_WITH_CLOCKS`)
        elif cases:
            # Core rows straight from the session's connection: no ORM objects to build.
            connection = session.connection()
            ids = {"case_ids": list(self.clocks)}
            if connection.dialect.name == "postgresql":
                rows = CLOCKS_OF_CASES_PG.rows(connection, ids)
            else:
                rows = connection.execute(CLOCKS_OF_CASES, ids).all()
            make = ClockRecord._make
            for row in rows:
                clock = make(row)
                self.clocks[clock.case_id].append(clock)
        directory.load(
            session,
            {c.station_id for c in cases},
            {c.assignee_id for c in cases if c.assignee_id is not None},
        )
        self.stations = directory.stations
        self.users = directory.users
        self.masked = directory.masked


class GuardFacts(NamedTuple):
    """What the allowed events read of a case (`workflow.services.cases.allowed_events`).

    Handed to it in place of the case, so reading anything else fails loudly; equal facts
    (and open clocks of equal effective status) give equal answers at one instant, which
    lets a page ask once per distinct key.
    """

    workflow_key: str
    state: str
    referral_panel_id: int | None
    risk: str
    category: str
    session_count: int
    extended: bool
    referral_kind: str | None
    closed_by: str | None
    closed_at: datetime | None
    closure_outcome: str | None
    agreement_effective_on: Any

    @classmethod
    def of(cls, case: Any) -> GuardFacts:
        return cls._make(_GUARD_FACTS(case))


_GUARD_FACTS = attrgetter(*GuardFacts._fields)


def case_view(
    case: Any,
    batch: CaseBatch,
    sealer: Sealer,
    definition: Any,
    allowed: list[str],
    now: datetime,
    reveal: bool = False,
) -> dict[str, Any]:
    """The case as the contract shows it; ``case`` is an ORM case or a `CaseRecord`."""
    station = batch.stations.get(case.station_id)
    assignee = batch.users.get(case.assignee_id) if case.assignee_id else None
    facts = case.facts or {}
    clocks = batch.clocks.get(case.id, ())
    masked = None if reveal else batch.masked
    summary = sealer.open(case.summary_sealed) if (reveal and case.summary_sealed) else None
    definitions = definition.clocks
    view: dict[str, Any] = {
        "id": case.id,
        "number": case.number,
        "state": case.state,
        "version": case.version,
        "workflow_version": case.workflow_key,
        "channel": case.channel,
        "category": case.category,
        "risk": case.risk,
        "station": {"code": station.code, "name": station.name} if station else None,
        "assignee": {"id": assignee.id, "username": assignee.username} if assignee else None,
        "complainant": person_view(
            sealer, case.complainant_sealed, facts.get("complainant"), reveal, masked
        ),
        "victim": person_view(sealer, case.victim_sealed, facts.get("victim"), reveal, masked),
        "respondent": person_view(
            sealer, case.respondent_sealed, facts.get("respondent"), reveal, masked
        ),
        "summary": summary if reveal else (mask_text("x") if case.summary_sealed else None),
        "referral_kind": case.referral_kind,
        "session_count": case.session_count,
        "received_at": iso(case.received_at),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "clocks": [clock_view(c, definitions.get(c.name), now) for c in clocks],
        "overdue": any(
            c.stopped_at is None and effective_status(c, now) == "breached" for c in clocks
        ),
        "allowed_events": allowed,
    }
    return view
