"""Administration pages: stations, users, the holiday calendar and dead letters."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.console.conftest import Console, register
from tests.support import tx
from workflow.runtime import Runtime
from workflow.storage.models import CalendarDay, CalendarYear, OutboxMessage, Station, User


def test_stations_are_listed_and_added(console: Console, rt: Runtime) -> None:
    console.login("admin", "en")
    body = console.text("/admin/stations")
    assert "V003" in body and "C01" in body
    response = console.post(
        "/admin/stations",
        {"code": "V004", "name": "北村维权服务站", "kind": "village", "parent": "T02"},
    )
    assert response.status_code == 302
    with tx(rt) as session:
        station = session.scalar(select(Station).where(Station.code == "V004"))
        assert station is not None and station.path == "/D01/T02/V004/"


def test_a_station_the_rules_refuse_is_explained(console: Console) -> None:
    console.login("admin", "en")
    response = console.post(
        "/admin/stations", {"code": "V005", "name": "x", "kind": "village", "parent": "D01"}
    )
    assert response.status_code == 422
    assert "A village belongs to a town" in response.get_data(as_text=True)
    duplicate = console.post(
        "/admin/stations", {"code": "V001", "name": "x", "kind": "village", "parent": "T01"}
    )
    assert "Station V001 already exists." in duplicate.get_data(as_text=True)


def test_users_are_added_and_deactivated(console: Console, rt: Runtime) -> None:
    console.login("admin", "en")
    response = console.post(
        "/admin/users",
        {
            "username": "cw4",
            "role": "caseworker",
            "station": "V003",
            "password": "long-enough-1",
            "email": "",
            "language": "en",
        },
    )
    assert response.status_code == 302
    assert console.post("/admin/users/cw4/deactivate").status_code == 302
    with tx(rt) as session:
        user = session.scalar(select(User).where(User.username == "cw4"))
        assert user is not None and user.language == "en" and not user.active
    body = console.text("/admin/users")
    assert "cw4" in body and "deactivated" in body


def test_a_user_the_rules_refuse_is_explained_field_by_field(console: Console) -> None:
    console.login("admin", "en")
    response = console.post(
        "/admin/users",
        {
            "username": "sup9",
            "role": "supervisor",
            "station": "V001",
            "password": "short",
            "language": "zh",
        },
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="password-error"' in body
    response = console.post(
        "/admin/users",
        {
            "username": "sup9",
            "role": "supervisor",
            "station": "V001",
            "password": "long-enough-1",
            "language": "zh",
        },
    )
    assert response.status_code == 422
    assert "Supervisors sit at town or district stations." in response.get_data(as_text=True)


def test_an_admin_cannot_deactivate_herself(console: Console, rt: Runtime) -> None:
    console.login("admin", "en")
    console.post("/admin/users/admin/deactivate")
    with tx(rt) as session:
        assert session.scalar(select(User.active).where(User.username == "admin"))


def test_the_calendar_shows_a_year_and_takes_corrections(console: Console, rt: Runtime) -> None:
    console.login("admin", "en")
    body = console.text("/admin/calendar?year=2027")
    assert "2027" in body and "Provisional" in body
    response = console.post(
        "/admin/calendar/days?year=2027", {"day": "2027-05-06", "kind": "rest", "name": "调休"}
    )
    assert response.status_code == 302
    with tx(rt) as session:
        day = session.get(CalendarDay, date(2027, 5, 6))
        assert day is not None and day.kind == "rest"


def test_a_years_official_schedule_is_loaded(console: Console, rt: Runtime) -> None:
    console.login("admin", "en")
    register(rt)  # an open clock the schedule may move
    response = console.post(
        "/admin/calendar/schedule",
        {
            "year": "2027",
            "days": "2027-01-01 rest 元旦\n2027-02-06 rest 春节\n2027-02-14 work 调休",
        },
    )
    assert response.status_code == 302
    with tx(rt) as session:
        assert session.get(CalendarYear, 2027) is not None
    assert "Official schedule" in console.text("/admin/calendar?year=2027")


def test_a_bad_schedule_line_is_named(console: Console, rt: Runtime) -> None:
    console.login("admin", "en")
    response = console.post(
        "/admin/calendar/schedule",
        {"year": "2027", "days": "2027-01-01 rest 元旦\n2028-01-01 rest x"},
    )
    assert response.status_code == 422
    assert "Line 2" in response.get_data(as_text=True)
    with tx(rt) as session:
        assert session.get(CalendarYear, 2027) is None


def test_dead_letters_are_listed_and_retried(console: Console, rt: Runtime) -> None:
    register(rt)
    with tx(rt) as session:
        row = session.scalar(select(OutboxMessage).limit(1))
        if row is None:
            row = OutboxMessage(
                work="notify",
                payload={},
                status="dead",
                attempts=5,
                available_at=rt.now(),
                created_at=rt.now(),
            )
            session.add(row)
        row.status, row.attempts, row.last_error = "dead", 5, "SMTP down"
        session.flush()
        letter = row.id
    console.login("admin", "en")
    body = console.text("/admin/dead-letters")
    assert "SMTP down" in body
    assert console.post(f"/admin/dead-letters/{letter}/retry").status_code == 302
    with tx(rt) as session:
        assert session.get(OutboxMessage, letter).status == "pending"
    assert console.post("/admin/dead-letters/999999/retry").status_code == 404
