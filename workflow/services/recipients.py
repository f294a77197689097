"""Who is told: the assignee, the responsible supervisors up the tree, the panel's liaisons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflow.storage.models import Station, User


class Recipient(NamedTuple):
    """What telling a user needs, and nothing more (no ORM object per recipient)."""

    id: int
    email: str | None
    language: str


class CaseRef(Protocol):
    """The parts of a case that decide its recipients (a Case, or a row of those columns)."""

    @property
    def station_id(self) -> int: ...
    @property
    def station_path(self) -> str: ...
    @property
    def assignee_id(self) -> int | None: ...
    @property
    def referral_panel_id(self) -> int | None: ...


_USERS = User.metadata.tables[User.__tablename__]
_STATIONS = Station.metadata.tables[Station.__tablename__]
_COLUMNS = (_USERS.c.id, _USERS.c.email, _USERS.c.language)
# Built once: an escalation wave asks these questions for thousands of rows.
_ACTIVE_BY_ID = (
    select(*_COLUMNS)
    .where(_USERS.c.id.in_(bindparam("ids", expanding=True)), _USERS.c.active.is_(True))
    .order_by(_USERS.c.id)
)
_ACTIVE_BY_ROLE_AT = (
    select(*_COLUMNS, _USERS.c.station_id)
    .where(
        _USERS.c.role == bindparam("role"),
        _USERS.c.active.is_(True),
        _USERS.c.station_id.in_(bindparam("station_ids", expanding=True)),
    )
    .order_by(_USERS.c.id)
)
_SUPERVISORS_AT_CODES = (
    select(*_COLUMNS, _STATIONS.c.code)
    .join(_STATIONS, _STATIONS.c.id == _USERS.c.station_id)
    .where(
        _USERS.c.role == "supervisor",
        _USERS.c.active.is_(True),
        _STATIONS.c.code.in_(bindparam("codes", expanding=True)),
    )
    .order_by(_USERS.c.id)
)
_DISTRICT = select(_STATIONS.c.id).where(_STATIONS.c.kind == "district").limit(1)
SUPERVISOR_KEYWORDS = frozenset({"responsible_supervisors", "upper_supervisors"})


def _recipient(row: object) -> Recipient:
    return Recipient(row.id, row.email, row.language)  # type: ignore[attr-defined]


def path_codes(station_path: str) -> list[str]:
    """Station codes of a materialized path, from the district down."""
    return [code for code in station_path.strip("/").split("/") if code]


class Resolver:
    """Recipient lookups for one transaction, each question asked of the database once.

    A batch of outbox rows about cases of the same station or supervisor chain costs
    one lookup per distinct question, not one per row; ``prefetch`` asks the questions
    of a whole batch in a query per kind before the rows are resolved.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._users: dict[int, Recipient | None] = {}
        self._role_at: dict[tuple[str, int], list[Recipient]] = {}
        self._supervisors_at: dict[str, list[Recipient]] = {}
        self._district_id: int | None = None
        self._district_known = False

    # -- batched lookups ---------------------------------------------------------------

    def know(self, user_id: int, user: Recipient | None) -> None:
        """Take a user read along with other rows (None: absent or inactive)."""
        self._users.setdefault(user_id, user)

    def prefetch(self, wants: Iterable[tuple[CaseRef, Iterable[str], int | None]]) -> None:
        """Load, in one query per kind, what resolving these (case, keywords, panel) needs."""
        users: set[int] = set()
        codes: set[str] = set()
        role_at: dict[str, set[int]] = {}
        for case, keywords, panel_id in wants:
            for keyword in keywords:
                if keyword == "assignee":
                    if case.assignee_id is not None:
                        users.add(case.assignee_id)
                    else:
                        role_at.setdefault("caseworker", set()).add(case.station_id)
                elif keyword in SUPERVISOR_KEYWORDS:
                    codes.update(path_codes(case.station_path))
                elif keyword == "panel_liaisons":
                    panel = panel_id or case.referral_panel_id
                    if panel is not None:
                        role_at.setdefault("court_liaison", set()).add(panel)
        self._load_users(users)
        self._load_supervisors(codes)
        for role, station_ids in role_at.items():
            self._load_role_at(role, station_ids)
        # An unassigned case's assignee-step falls back to its station's caseworkers,
        # and an assignee who left is not told: both are resolved lazily if needed.

    def _load_users(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self._users]
        if not missing:
            return
        for i in missing:
            self._users[i] = None  # absent or inactive unless the query finds it
        for row in self.session.execute(_ACTIVE_BY_ID, {"ids": missing}):
            self._users[row.id] = _recipient(row)

    def _load_role_at(self, role: str, station_ids: Iterable[int]) -> None:
        missing = [s for s in station_ids if (role, s) not in self._role_at]
        if not missing:
            return
        for station_id in missing:
            self._role_at[(role, station_id)] = []
        rows = self.session.execute(_ACTIVE_BY_ROLE_AT, {"role": role, "station_ids": missing})
        for row in rows:
            self._role_at[(role, row.station_id)].append(_recipient(row))

    def _load_supervisors(self, codes: Iterable[str]) -> None:
        missing = [c for c in codes if c not in self._supervisors_at]
        if not missing:
            return
        for code in missing:
            self._supervisors_at[code] = []
        for row in self.session.execute(_SUPERVISORS_AT_CODES, {"codes": missing}):
            self._supervisors_at[row.code].append(_recipient(row))

    # -- the questions -----------------------------------------------------------------

    def user(self, user_id: int) -> Recipient | None:
        """The user if active, else None."""
        self._load_users([user_id])
        return self._users[user_id]

    def active(self, role: str, station_id: int) -> list[Recipient]:
        self._load_role_at(role, [station_id])
        return self._role_at[(role, station_id)]

    def supervised_levels(self, case: CaseRef) -> list[list[Recipient]]:
        """Supervisors per station from the case's station upwards; stations without any skipped."""
        codes = path_codes(case.station_path)
        self._load_supervisors(codes)
        return [self._supervisors_at[c] for c in reversed(codes) if self._supervisors_at[c]]

    def district_supervisors(self) -> list[Recipient]:
        if not self._district_known:
            self._district_id = self.session.scalar(_DISTRICT)
            self._district_known = True
        return self.active("supervisor", self._district_id) if self._district_id else []

    def resolve(
        self, case: CaseRef, keywords: Iterable[str], panel_id: int | None = None
    ) -> list[Recipient]:
        """Turn recipient keywords (from the definition or the ladder) into active users.

        ``panel_id`` pins the panel named when the work was recorded: the case may have
        moved on (returned, decided) before the work runs.
        """
        found: dict[int, Recipient] = {}
        for keyword in keywords:
            for user in self._resolve_one(case, keyword, panel_id):
                found.setdefault(user.id, user)
        return list(found.values())

    def _resolve_one(self, case: CaseRef, keyword: str, panel_id: int | None) -> list[Recipient]:
        if keyword == "assignee":
            if case.assignee_id is not None:
                user = self.user(case.assignee_id)
                if user is not None:
                    return [user]
            # Steps meant for the assignee of an unassigned case go to its station's
            # caseworkers (as do those of an assignee no longer active).
            return self.active("caseworker", case.station_id)
        if keyword == "responsible_supervisors":
            levels = self.supervised_levels(case)
            return levels[0] if levels else []
        if keyword == "upper_supervisors":
            # One level above level 1's; above the district it resolves to the district.
            levels = self.supervised_levels(case)
            if len(levels) >= 2:
                return levels[1]
            return levels[-1] if levels else []
        if keyword == "district_supervisors":
            return self.district_supervisors()
        if keyword == "panel_liaisons":
            panel_id = panel_id or case.referral_panel_id
            if panel_id is None:
                return []
            return self.active("court_liaison", panel_id)
        raise ValueError(f"unknown recipient keyword {keyword!r}")


def resolve(
    session: Session, case: CaseRef, keywords: Iterable[str], panel_id: int | None = None
) -> list[Recipient]:
    """Resolve one row's keywords (a batch shares a ``Resolver`` instead)."""
    return Resolver(session).resolve(case, keywords, panel_id)
