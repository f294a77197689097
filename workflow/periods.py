"""The legal-period rule: when a clock's period ends, and when its escalation steps fall due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from workflow.calendar import PROVISIONAL, WorkCalendar

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# Escalation ladder (workflow.md): working days around the last day for day clocks,
# a share of the period and fixed delays for hour clocks.
REMINDER_WORKING_DAYS_BEFORE = 2
LEVEL2_WORKING_DAYS_AFTER = 2
LEVEL3_WORKING_DAYS_AFTER = 5
REMINDER_SHARE = 0.75
LEVEL2_HOURS_AFTER = timedelta(hours=12)
LEVEL3_HOURS_AFTER = timedelta(hours=24)


class Unit(StrEnum):
    DAYS = "days"
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    MONTHS = "months"


DAY_UNITS = frozenset({Unit.DAYS, Unit.WORKING_DAYS, Unit.MONTHS})


@dataclass(frozen=True)
class Period:
    unit: Unit
    length: int

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"a period lasts at least one {self.unit}, not {self.length}")


@dataclass(frozen=True)
class Deadline:
    """A computed deadline and how it was reached.

    ``start`` is the opening instant for day clocks and the counted start (the opening
    hour's end) for hour clocks, in UTC. ``last_day`` is the local last day of the period
    before any roll-forward (None for hours): extension and suspension count on from it.
    ``rolled_from`` is that day when it was a rest day and the period rolled past it.
    ``calendar`` is ``"official:<year>"`` or ``"provisional"`` over the local years from
    the start to the deadline.
    """

    due_at: datetime
    start: datetime
    unit: Unit
    length: int
    last_day: date | None
    rolled_from: date | None
    calendar: str

    @property
    def provisional(self) -> bool:
        return self.calendar == PROVISIONAL

    def computation(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "unit": self.unit.value,
            "length": self.length,
            "rolled_from": self.rolled_from.isoformat() if self.rolled_from else None,
            "calendar": self.calendar,
        }


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")


def _local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """24:00 local of ``day`` (00:00 of the next day), in UTC."""
    return datetime.combine(day + DAY, time(), tzinfo=tz).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    month_end = (next_month - DAY).day
    return date(year, month, min(day.day, month_end))


def _years(first: date, last: date) -> range:
    return range(min(first.year, last.year), max(first.year, last.year) + 1)


def deadline_for_last_day(
    start: datetime,
    last_day: date,
    unit: Unit,
    length: int,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> Deadline:
    """A day clock's deadline from its last day: the rest-day rule, then 24:00 local.

    A working-day period's last day is a working day by construction, so only a calendar
    change can make it roll; it then rolls like any other day clock.
    """
    _require_aware(start, "start")
    effective = calendar.first_working_day_from(last_day)
    return Deadline(
        due_at=end_of_day(effective, tz),
        start=start.astimezone(UTC),
        unit=unit,
        length=length,
        last_day=last_day,
        rolled_from=last_day if effective != last_day else None,
        calendar=calendar.calendar_label(_years(_local_day(start, tz), effective)),
    )


def _hour_deadline(
    start: datetime, length: int, due_at: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> Deadline:
    # Hours never consult the rest days, but the label still names the years the period
    # spans so that every clock reads the same way and a calendar change finds it.
    return Deadline(
        due_at=due_at,
        start=start,
        unit=Unit.HOURS,
        length=length,
        last_day=None,
        rolled_from=None,
        calendar=calendar.calendar_label(_years(_local_day(start, tz), _local_day(due_at, tz))),
    )


def hour_period_start(opened_at: datetime, tz: ZoneInfo) -> datetime:
    """The opening instant truncated to the local hour, plus one hour, in UTC."""
    # Truncating in local time matters for zones whose offset is not whole hours.
    local = opened_at.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    # Adding in UTC keeps an hour an elapsed hour across a daylight-saving change.
    return local.astimezone(UTC) + HOUR


def compute_deadline(
    opened_at: datetime, period: Period, calendar: WorkCalendar, tz: ZoneInfo
) -> Deadline:
    """When a period opened at ``opened_at`` ends, under the legal-period rule."""
    _require_aware(opened_at, "opened_at")
    if period.unit is Unit.HOURS:
        start = hour_period_start(opened_at, tz)
        return _hour_deadline(start, period.length, start + period.length * HOUR, calendar, tz)
    opening_day = _local_day(opened_at, tz)
    if period.unit is Unit.DAYS:
        last_day = opening_day + period.length * DAY
    elif period.unit is Unit.MONTHS:
        last_day = _add_months(opening_day, period.length)
    else:
        last_day = calendar.shift_working_days(opening_day, period.length)
    return deadline_for_last_day(opened_at, last_day, period.unit, period.length, calendar, tz)


def _require_day_clock(deadline: Deadline) -> date:
    if deadline.unit not in DAY_UNITS or deadline.last_day is None:
        raise ValueError(f"a {deadline.unit} clock has no last day")
    return deadline.last_day


def extend_deadline(
    deadline: Deadline, days: int, calendar: WorkCalendar, tz: ZoneInfo
) -> Deadline:
    """Move a days-counted deadline: the last day before any roll-forward + ``days``.

    The recorded length grows by ``days`` so that recomputing the period from its start
    with that length gives the same deadline. Only ``days`` periods can be extended: the
    spec extends ``resolution`` by days, and days added to a month or working-day count
    would leave ``length`` meaning two things.
    """
    if deadline.unit is not Unit.DAYS:
        raise ValueError(f"only a days period can be extended, not {deadline.unit}")
    if days < 1:
        raise ValueError(f"an extension lasts at least one day, not {days}")
    last_day = _require_day_clock(deadline) + days * DAY
    return deadline_for_last_day(
        deadline.start, last_day, deadline.unit, deadline.length + days, calendar, tz
    )


def suspended_local_days(suspended_from: datetime, resumed_at: datetime, tz: ZoneInfo) -> int:
    """How many local days a suspension touched: its first and last day, both counted."""
    return (_local_day(resumed_at, tz) - _local_day(suspended_from, tz)).days + 1


def resume_deadline(
    deadline: Deadline,
    suspended_from: datetime,
    resumed_at: datetime,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> Deadline:
    """The deadline after a suspension from ``suspended_from`` to ``resumed_at``.

    A day clock grows by every local day the suspension touched, first and last included,
    because on each of them the clock lost (part of) a day's work: a ``days`` or
    ``months`` clock moves its last day (before roll-forward) on by that many calendar
    days, a ``working_days`` clock by that many working days, then the rest-day rule
    applies. An hour clock grows by the suspended time rounded up to whole hours, with no
    roll. ``length`` is unchanged: the suspension is reported beside the clock
    (``suspended_seconds``), not folded into the period.
    """
    _require_aware(suspended_from, "suspended_from")
    _require_aware(resumed_at, "resumed_at")
    if resumed_at < suspended_from:
        raise ValueError("a suspension cannot end before it begins")
    if deadline.unit is Unit.HOURS:
        whole_hours, rest = divmod(resumed_at - suspended_from, HOUR)
        due_at = deadline.due_at + (whole_hours + (1 if rest else 0)) * HOUR
        return _hour_deadline(deadline.start, deadline.length, due_at, calendar, tz)
    touched = suspended_local_days(suspended_from, resumed_at, tz)
    last_day = _require_day_clock(deadline)
    if deadline.unit is Unit.WORKING_DAYS:
        last_day = calendar.shift_working_days(last_day, touched)
    else:
        last_day += touched * DAY
    return deadline_for_last_day(
        deadline.start, last_day, deadline.unit, deadline.length, calendar, tz
    )


def effective_last_day(deadline: Deadline, tz: ZoneInfo) -> date:
    """The day whose 24:00 local is the deadline (the last day after any roll-forward)."""
    return _local_day(deadline.due_at, tz) - DAY


def restore_deadline(due_at: datetime, computation: Mapping[str, Any], tz: ZoneInfo) -> Deadline:
    """Rebuild a stored deadline from its ``due_at`` and ``computation()`` record.

    The last day before roll-forward is not stored: it is ``rolled_from`` when the
    period rolled, else the day whose 24:00 is the deadline.
    """
    _require_aware(due_at, "due_at")
    unit = Unit(computation["unit"])
    rolled = computation.get("rolled_from")
    rolled_from = date.fromisoformat(rolled) if rolled else None
    deadline = Deadline(
        due_at=due_at.astimezone(UTC),
        start=datetime.fromisoformat(computation["start"]).astimezone(UTC),
        unit=unit,
        length=int(computation["length"]),
        last_day=None,
        rolled_from=rolled_from,
        calendar=str(computation["calendar"]),
    )
    if unit is Unit.HOURS:
        return deadline
    return replace(deadline, last_day=rolled_from or effective_last_day(deadline, tz))


def ladder(deadline: Deadline, calendar: WorkCalendar, tz: ZoneInfo) -> list[tuple[str, datetime]]:
    """The escalation steps of a clock, in order, as UTC instants.

    Day clocks count working days around L, the day whose 24:00 is the deadline: the
    reminder falls at 24:00 of the 2nd working day before L (L on a Friday: Wednesday),
    level 2 at 24:00 of the 2nd working day after L, level 3 at 24:00 of the 5th. On a
    short period the reminder can precede the opening; the sweep skips a reminder whose
    time has passed. Hour clocks: the reminder at 75% of the period from its counted
    start, then the deadline, 12 hours and 24 hours after it. The reminder is counted
    back from the deadline so that a suspension moves it as it moves the deadline.
    """
    if deadline.unit is Unit.HOURS:
        still_to_run = deadline.length * HOUR * (1 - REMINDER_SHARE)
        return [
            ("reminder", deadline.due_at - still_to_run),
            ("level1", deadline.due_at),
            ("level2", deadline.due_at + LEVEL2_HOURS_AFTER),
            ("level3", deadline.due_at + LEVEL3_HOURS_AFTER),
        ]
    last = effective_last_day(deadline, tz)

    def working_day_end(count: int) -> datetime:
        return end_of_day(calendar.shift_working_days(last, count), tz)

    return [
        ("reminder", working_day_end(-REMINDER_WORKING_DAYS_BEFORE)),
        ("level1", deadline.due_at),
        ("level2", working_day_end(LEVEL2_WORKING_DAYS_AFTER)),
        ("level3", working_day_end(LEVEL3_WORKING_DAYS_AFTER)),
    ]
