"""How cases, clocks and timeline events look to a user: masked unless revealed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.crypto import Sealer
from workflow.privacy import mask_person, mask_text
from workflow.services.clocks import clock_view, effective_status
from workflow.storage.models import Case, ClockInstance, Station, User

PERSON_FIELDS = ("complainant", "victim", "respondent")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def person_view(
    sealer: Sealer, sealed: str | None, facts: Mapping[str, Any] | None, reveal: bool
) -> dict | None:
    if sealed is None and not facts:
        return None
    identity = sealer.open_json(sealed) or {}
    merged = {**identity, **(facts or {})}
    return merged if reveal else mask_person(merged)


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
    """Station codes and names, and usernames, by id: facts that never change once written
    (no call renames them), so a process keeps them and asks only about ids it lacks."""

    def __init__(self) -> None:
        self.stations: dict[int, StationName] = {}
        self.users: dict[int, UserName] = {}

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


class CaseBatch:
    """Everything the views of a page of cases need, loaded in a fixed number of queries."""

    def __init__(self, session: Session, cases: Iterable[Case], directory: Directory) -> None:
        cases = list(cases)
        ids = [c.id for c in cases]
        self.clocks: dict[int, list[ClockInstance]] = {i: [] for i in ids}
        if ids:
            for clock in session.scalars(
                select(ClockInstance)
                .where(ClockInstance.case_id.in_(ids))
                .order_by(ClockInstance.id)
            ):
                self.clocks[clock.case_id].append(clock)
        directory.load(
            session,
            {c.station_id for c in cases},
            {c.assignee_id for c in cases if c.assignee_id is not None},
        )
        self.stations = directory.stations
        self.users = directory.users


def case_view(
    case: Case,
    batch: CaseBatch,
    sealer: Sealer,
    definition: Any,
    allowed: list[str],
    now: datetime,
    reveal: bool = False,
) -> dict[str, Any]:
    station = batch.stations.get(case.station_id)
    assignee = batch.users.get(case.assignee_id) if case.assignee_id else None
    facts = case.facts or {}
    clocks = batch.clocks.get(case.id, [])
    summary = sealer.open(case.summary_sealed) if (reveal and case.summary_sealed) else None
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
            sealer, case.complainant_sealed, facts.get("complainant"), reveal
        ),
        "victim": person_view(sealer, case.victim_sealed, facts.get("victim"), reveal),
        "respondent": person_view(sealer, case.respondent_sealed, facts.get("respondent"), reveal),
        "summary": summary if reveal else (mask_text("x") if case.summary_sealed else None),
        "referral_kind": case.referral_kind,
        "session_count": case.session_count,
        "received_at": iso(case.received_at),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "clocks": [clock_view(c, definition.clocks.get(c.name), now) for c in clocks],
        "overdue": any(
            c.stopped_at is None and effective_status(c, now) == "breached" for c in clocks
        ),
        "allowed_events": allowed,
    }
    return view
