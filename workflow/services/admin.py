"""Configuration: stations, users, the holiday calendar and workflow definitions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.calendar import DayKind
from workflow.definition import load_definition
from workflow.errors import Forbidden, NotFound, ValidationFailed
from workflow.runtime import Runtime, store_definition
from workflow.services import clocks as clock_service
from workflow.services.actions import record_recomputation
from workflow.services.actors import Actor
from workflow.services.auth import hash_password, revoke_all_tokens
from workflow.storage.models import CalendarDay, CalendarYear, Case, ClockInstance, Station, User

STATION_KINDS = ("district", "town", "village", "court")
PARENT_KIND = {"town": "district", "village": "town"}
ROLES = ("caseworker", "volunteer", "supervisor", "court_liaison", "admin")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,32}$")
LANGUAGES = ("zh", "en")


def create_station(
    session: Session, code: str, name: str, kind: str, parent_code: str | None
) -> Station:
    if not CODE_PATTERN.match(code or ""):
        raise ValidationFailed({"code": "letters, digits and _ only, at most 32"})
    if not name or not name.strip():
        raise ValidationFailed({"name": "required"})
    if kind not in STATION_KINDS:
        raise ValidationFailed({"kind": f"one of {', '.join(STATION_KINDS)}"})
    if session.scalar(select(Station.id).where(Station.code == code)) is not None:
        raise ValidationFailed({"code": f"station {code} already exists"})
    parent = None
    if kind in ("district", "court"):
        if parent_code:
            raise ValidationFailed({"parent": f"a {kind} has no parent"})
        if kind == "district" and session.scalar(
            select(Station.id).where(Station.kind == "district")
        ):
            raise ValidationFailed({"kind": "there is already a district"})
    else:
        if not parent_code:
            raise ValidationFailed({"parent": f"a {kind} needs a {PARENT_KIND[kind]} parent"})
        parent = session.scalar(select(Station).where(Station.code == parent_code))
        if parent is None:
            raise ValidationFailed({"parent": f"no station {parent_code}"})
        if parent.kind != PARENT_KIND[kind]:
            raise ValidationFailed({"parent": f"a {kind}'s parent must be a {PARENT_KIND[kind]}"})
    path = (parent.path if parent else "/") + code + "/"
    station = Station(
        code=code,
        name=name.strip(),
        kind=kind,
        parent_id=parent.id if parent else None,
        path=path,
        level=path.count("/") - 1,
    )
    session.add(station)
    session.flush()
    return station


def create_user(
    session: Session,
    rt: Runtime,
    username: str,
    role: str,
    station_code: str,
    password: str,
    email: str | None = None,
    phone: str | None = None,
    language: str = "zh",
    password_hash: str | None = None,
) -> User:
    """Add a user. ``password_hash`` lets bulk loaders (demo data) hash a shared password once."""
    if not re.match(r"^[A-Za-z0-9_.@-]{2,80}$", username or ""):
        raise ValidationFailed({"username": "2–80 letters, digits or . _ - @"})
    if role not in ROLES:
        raise ValidationFailed({"role": f"one of {', '.join(ROLES)}"})
    if not password or len(password) < 8:
        raise ValidationFailed({"password": "at least 8 characters"})
    if language not in LANGUAGES:
        raise ValidationFailed({"language": "zh or en"})
    if email is not None and not re.match(r"^[^@\s]+@[^@\s]+$", email):
        raise ValidationFailed({"email": "not an email address"})
    station = session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        raise ValidationFailed({"station": f"no station {station_code}"})
    if role == "supervisor" and station.kind not in ("town", "district"):
        raise ValidationFailed({"station": "supervisors sit at town or district stations"})
    if role == "court_liaison" and station.kind != "court":
        raise ValidationFailed({"station": "court liaisons sit at court panels"})
    if role in ("caseworker", "volunteer") and station.kind == "court":
        raise ValidationFailed({"station": "caseworkers and volunteers sit at service stations"})
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationFailed({"username": f"user {username} already exists"})
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
        role=role,
        station_id=station.id,
        email=email,
        phone=phone,
        language=language,
        active=True,
        created_at=rt.now(),
    )
    session.add(user)
    session.flush()
    return user


def _user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def deactivate_user(session: Session, rt: Runtime, username: str) -> User:
    user = _user_by_name(session, username)
    user.active = False
    revoke_all_tokens(rt, session, user.id)
    return user


def set_password(session: Session, rt: Runtime, username: str, password: str) -> User:
    if not password or len(password) < 8:
        raise ValidationFailed({"password": "at least 8 characters"})
    user = _user_by_name(session, username)
    user.password_hash = hash_password(password)
    revoke_all_tokens(rt, session, user.id)
    return user


def stations_in_scope(session: Session, actor: Actor) -> list[dict[str, Any]]:
    statement = select(Station).order_by(Station.path)
    if actor.role != "admin":
        statement = statement.where(Station.path.startswith(actor.station_path, autoescape=True))
    stations = list(session.scalars(statement))
    parents = {s.id: s.code for s in session.scalars(select(Station))} if stations else {}
    return [
        {
            "code": s.code,
            "name": s.name,
            "kind": s.kind,
            "parent": parents.get(s.parent_id) if s.parent_id else None,
        }
        for s in stations
    ]


def users_in_scope(
    session: Session, actor: Actor, station_code: str | None
) -> list[dict[str, Any]]:
    """Active users in scope (for assignment)."""
    statement = (
        select(User, Station)
        .join(Station, Station.id == User.station_id)
        .where(User.active.is_(True))
        .order_by(User.username)
    )
    if actor.role != "admin":
        statement = statement.where(Station.path.startswith(actor.station_path, autoescape=True))
    if station_code:
        station = session.scalar(select(Station).where(Station.code == station_code))
        if station is None:
            raise ValidationFailed({"station": "no such station"})
        statement = statement.where(User.station_id == station.id)
    return [
        {"id": u.id, "username": u.username, "role": u.role, "station": s.code}
        for u, s in session.execute(statement)
    ]


def all_users(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every account, deactivated ones included (administrators)."""
    require_admin(actor)
    rows = session.execute(
        select(User, Station.code)
        .join(Station, Station.id == User.station_id)
        .order_by(User.active.desc(), User.username)
    ).all()
    return [
        {
            "id": u.id,
            "username": u.username,
            "role": u.role,
            "station": code,
            "email": u.email,
            "language": u.language,
            "active": u.active,
        }
        for u, code in rows
    ]


# -- calendar ---------------------------------------------------------------------------------


def require_admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden("administrators only")


def set_calendar_days(
    rt: Runtime,
    session: Session,
    days: Iterable[tuple[date, str, str]],
    official_year: int | None = None,
) -> int:
    """Write official/corrected days, then recompute every open clock they touch.

    Returns the number of clocks whose deadline moved.
    """
    touched: list[date] = []
    for day, kind, name in days:
        DayKind(kind)
        row = session.get(CalendarDay, day)
        if row is None:
            session.add(CalendarDay(day=day, year=day.year, kind=kind, name=name))
        else:
            row.kind, row.name = kind, name
        touched.append(day)
    if official_year is not None and session.get(CalendarYear, official_year) is None:
        session.add(CalendarYear(year=official_year, loaded_at=rt.now()))
    session.flush()
    rt.forget_calendar()
    if not touched:
        return 0
    return recompute_open_clocks(rt, session, min(touched))


def recompute_open_clocks(rt: Runtime, session: Session, earliest: date) -> int:
    """Recompute the open day clocks whose period may include ``earliest`` or later days."""
    calendar = rt.calendar(session)
    now = rt.now()
    moved = 0
    clocks = session.scalars(
        select(ClockInstance).where(
            ClockInstance.stopped_at.is_(None),
            ClockInstance.status.in_(clock_service.OPEN_STATUSES),
            ClockInstance.unit != "hours",
        )
    )
    for clock in clocks:
        if clock.last_day is not None and clock.last_day < earliest - _slack():
            continue
        case = session.get(Case, clock.case_id)
        if case is None:
            continue
        definition = rt.workflow(case.workflow_key, session).definition
        clock_def = definition.clocks.get(clock.name)
        if clock_def is None:
            continue
        before = clock.due_at
        fired = clock_service.fired_steps(session, clock.id)
        if clock_service.recompute(clock, clock_def, calendar, rt.tz, now, fired):
            moved += 1
            record_recomputation(session, rt, case, clock.name, before, clock.due_at, "calendar")
    return moved


def _slack() -> Any:
    from datetime import timedelta

    # Ladder steps reach five working days (and holidays) past the last day.
    return timedelta(days=30)


def activate_workflow(rt: Runtime, session: Session, path: Path) -> str:
    definition = load_definition(path)
    store_definition(session, definition, rt.now(), activate=True)
    return definition.key
