"""Who is told: the assignee, the responsible supervisors up the tree, the panel's liaisons."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.storage.models import Case, Station, User


def _active_users(session: Session, role: str, station_ids: Iterable[int]) -> list[User]:
    ids = list(station_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.role == role, User.active.is_(True), User.station_id.in_(ids))
            .order_by(User.id)
        )
    )


def _supervised_levels(session: Session, case: Case) -> list[list[User]]:
    """Supervisors per station from the case's station upwards, skipping stations without any.

    One query for the whole chain: an escalation wave resolves thousands of these.
    """
    codes = [code for code in case.station_path.strip("/").split("/") if code]
    rows = session.execute(
        select(User, Station.code)
        .join(Station, Station.id == User.station_id)
        .where(User.role == "supervisor", User.active.is_(True), Station.code.in_(codes))
        .order_by(User.id)
    ).all()
    by_code: dict[str, list[User]] = {}
    for user, code in rows:
        by_code.setdefault(code, []).append(user)
    return [by_code[code] for code in reversed(codes) if code in by_code]


def resolve(
    session: Session, case: Case, keywords: Iterable[str], panel_id: int | None = None
) -> list[User]:
    """Turn recipient keywords (from the definition or the ladder) into active users.

    ``panel_id`` pins the panel named when the work was recorded: the case may have
    moved on (returned, decided) before the work runs.
    """
    found: dict[int, User] = {}
    for keyword in keywords:
        for user in _resolve_one(session, case, keyword, panel_id):
            found.setdefault(user.id, user)
    return list(found.values())


def _resolve_one(session: Session, case: Case, keyword: str, panel_id: int | None) -> list[User]:
    if keyword == "assignee":
        if case.assignee_id is not None:
            user = session.get(User, case.assignee_id)
            if user is not None and user.active:
                return [user]
        # Steps meant for the assignee of an unassigned case go to its station's caseworkers.
        return _active_users(session, "caseworker", [case.station_id])
    if keyword == "responsible_supervisors":
        levels = _supervised_levels(session, case)
        return levels[0] if levels else []
    if keyword == "upper_supervisors":
        # One level above level 1's; above the district it resolves to the district.
        levels = _supervised_levels(session, case)
        if len(levels) >= 2:
            return levels[1]
        return levels[-1] if levels else []
    if keyword == "district_supervisors":
        district = session.scalar(select(Station).where(Station.kind == "district"))
        return _active_users(session, "supervisor", [district.id]) if district else []
    if keyword == "panel_liaisons":
        panel_id = panel_id or case.referral_panel_id
        if panel_id is None:
            return []
        return _active_users(session, "court_liaison", [panel_id])
    raise ValueError(f"unknown recipient keyword {keyword!r}")
