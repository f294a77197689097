"""Who is acting, and which cases they may see: scope as SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden, NotFound
from workflow.storage.models import Case, Referral, Station, User

CASE_ROLES = frozenset({"caseworker", "volunteer", "supervisor", "court_liaison"})


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    role: str
    station_id: int
    station_code: str
    station_path: str
    station_kind: str
    language: str

    @classmethod
    def of(cls, user: User, station: Station) -> Actor:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            station_id=station.id,
            station_code=station.code,
            station_path=station.path,
            station_kind=station.kind,
            language=user.language,
        )


def load_actor(session: Session, user_id: int) -> Actor | None:
    row = session.execute(
        select(User, Station).join(Station, Station.id == User.station_id).where(User.id == user_id)
    ).first()
    if row is None or not row[0].active:
        return None
    return Actor.of(row[0], row[1])


def case_scope(actor: Actor) -> ColumnElement[bool]:
    """The cases ``actor`` may see, as a WHERE condition on ``cases``."""
    if actor.role == "caseworker":
        return Case.station_id == actor.station_id
    if actor.role == "supervisor":
        return Case.station_path.startswith(actor.station_path, autoescape=True)
    if actor.role == "volunteer":
        return Case.registered_by_id == actor.id
    if actor.role == "court_liaison":
        # Every case ever referred to their panel, also after it left the court.
        return exists().where(Referral.case_id == Case.id, Referral.panel_id == actor.station_id)
    return false()


def require_case_reader(actor: Actor) -> None:
    """Admins configure; they never read case contents (403, not 404)."""
    if actor.role not in CASE_ROLES:
        raise Forbidden("this role may not read case contents")


def load_case_in_scope(session: Session, actor: Actor, case_id: int, *, lock: bool = False) -> Case:
    """The case if ``actor`` may see it; 404 otherwise, so its existence stays hidden."""
    require_case_reader(actor)
    statement = select(Case).where(Case.id == case_id, case_scope(actor))
    if lock:
        # The entry point may have read the case already in this session (its scope
        # check): the locked read must replace those values, not keep them, or a
        # version that changed while we waited for the lock would go unseen.
        statement = statement.with_for_update(of=Case).execution_options(populate_existing=True)
    case = session.scalar(statement)
    if case is None:
        raise NotFound("no such case")
    return case


def station_in_subtree(station: Station, root_path: str) -> bool:
    return station.path.startswith(root_path)
