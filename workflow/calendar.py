"""The working-day calendar: which local days are rest days, for any year, and how sure we are."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

import chinese_calendar

OFFICIAL = "official"
PROVISIONAL = "provisional"

# Walking to the next (or previous) working day gives up after this many days: no real
# schedule has a longer run of rest days, so a longer one means a broken override set.
MAX_REST_RUN = 60

_SATURDAY = 5

# Years are cached because deadline and ladder walks ask about days in hot loops; the
# bound keeps a caller asking for many distinct years from growing memory without end.
_CACHED_YEARS = 256


class DayKind(StrEnum):
    REST = "rest"
    WORK = "work"


@dataclass(frozen=True)
class CalendarOverride:
    """One day of an administrator's official schedule or correction, from the database."""

    day: date
    kind: DayKind
    name: str


@dataclass(frozen=True)
class YearView:
    """A year as ``GET /calendar/{year}`` shows it.

    ``rest_days`` lists every rest day that is a holiday: each weekday rest day, and each
    weekend day that carries a holiday name (National Day on a Saturday). Plain weekends
    are left out. ``working_days`` lists every Saturday or Sunday made a working day (调休).
    """

    year: int
    status: str
    rest_days: list[tuple[date, str]]
    working_days: list[tuple[date, str]]


@dataclass(frozen=True)
class _BaseYear:
    """A year's schedule before database overrides: its rest days and the days' names."""

    rest: frozenset[date]
    names: Mapping[date, str]


def _is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


def _days_of(year: int) -> Iterable[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


@lru_cache(maxsize=_CACHED_YEARS)
def library_has_year(year: int) -> bool:
    """Whether the bundled ``chinese_calendar`` holds the published schedule for ``year``."""
    try:
        chinese_calendar.is_holiday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _library_year(year: int) -> _BaseYear:
    rest: set[date] = set()
    names: dict[date, str] = {}
    for day in _days_of(year):
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if on_holiday:
            rest.add(day)
        if name:
            # An adjusted working day carries the name of the holiday it pays for.
            names[day] = str(name)
    return _BaseYear(rest=frozenset(rest), names=names)


# The English names ``holidays.China`` gives the days we take lunar and solar-term dates from.
_LUNAR_NEW_YEAR = "Chinese New Year (Spring Festival)"
_LIBRARY_ANCHORS = {
    "Tomb-Sweeping Day": "Tomb-sweeping Day",
    "Dragon Boat Festival": "Dragon Boat Festival",
    "Mid-Autumn Festival": "Mid-autumn Festival",
}


def statutory_holidays(year: int) -> dict[date, str]:
    """The 13 statutory holidays of the 2024 national holiday regulations, for any year.

    Only dates come from ``holidays``: its day lists follow each era's regulations
    and add "observed" and substitute days, which an unpublished year does not have, so
    the 2024 rule is applied here from the festivals' dates alone. The names match
    ``chinese_calendar``'s so that provisional and official years read alike. When two
    holidays share a date (Mid-Autumn on 3 October 2028) the date is one rest day with both
    names: inventing a replacement day would be an adjusted day, which only a published
    schedule may make. Outside the lunar tables of ``holidays`` (before 2008 for Qingming,
    Dragon Boat and Mid-Autumn; after 2100 for all) only the fixed-date holidays remain.
    """
    found: dict[date, list[str]] = {}

    def add(day: date, name: str) -> None:
        found.setdefault(day, []).append(name)

    add(date(year, 1, 1), "New Year's Day")
    add(date(year, 5, 1), "Labour Day")
    add(date(year, 5, 2), "Labour Day")
    for day_of_month in (1, 2, 3):
        add(date(year, 10, day_of_month), "National Day")

    # Imported here, not at start-up: the package loads every country it has (a
    # quarter of a second), and most processes never compute a provisional year.
    from holidays.countries.china import China

    # observed=False drops the library's guessed in-lieu days; the substitute days of
    # past published schedules are dropped by taking only the anchor festivals by name.
    library = China(years=year, observed=False, language="en_US")
    lunar_new_year: date | None = None
    for day, joined in sorted(library.items()):
        for name in joined.split("; "):
            if name == _LUNAR_NEW_YEAR and lunar_new_year is None:
                lunar_new_year = day
            elif name in _LIBRARY_ANCHORS:
                add(day, _LIBRARY_ANCHORS[name])
    if lunar_new_year is not None:
        # The eve and the first three days of the lunar year.
        for offset in (-1, 0, 1, 2):
            add(lunar_new_year + timedelta(days=offset), "Spring Festival")
    return {day: "; ".join(names) for day, names in sorted(found.items())}


def _provisional_year(year: int) -> _BaseYear:
    names = statutory_holidays(year)
    weekends = {day for day in _days_of(year) if _is_weekend(day)}
    return _BaseYear(rest=frozenset(weekends | names.keys()), names=names)


@lru_cache(maxsize=_CACHED_YEARS)
def _base_year(year: int) -> _BaseYear:
    """The bundled schedule of ``year``: the published one if we have it, else the rule."""
    return _library_year(year) if library_has_year(year) else _provisional_year(year)


class WorkCalendar:
    """Answers "is this local day a rest day?" for every year.

    Precedence, most specific first: a database override for the day; for a year whose
    official schedule an administrator loaded (``official_years``), Saturday and Sunday
    rest and every other day works, because that schedule lists all of the year's holidays
    and adjusted working days as overrides; the schedule bundled in ``chinese_calendar``;
    and, for a year nobody has published, weekends plus the statutory holidays.
    """

    def __init__(
        self,
        overrides: Mapping[date, CalendarOverride] | None = None,
        official_years: Iterable[int] = frozenset(),
    ) -> None:
        self._overrides: Mapping[date, CalendarOverride] = dict(overrides or {})
        self._official_years = frozenset(official_years)

    def is_rest_day(self, day: date) -> bool:
        override = self._overrides.get(day)
        if override is not None:
            return override.kind is DayKind.REST
        if day.year in self._official_years:
            return _is_weekend(day)
        return day in _base_year(day.year).rest

    def is_working_day(self, day: date) -> bool:
        return not self.is_rest_day(day)

    def year_status(self, year: int) -> str:
        if year in self._official_years or library_has_year(year):
            return OFFICIAL
        return PROVISIONAL

    def calendar_label(self, years: Iterable[int]) -> str:
        """``"provisional"`` if any year is, else ``"official:<latest year>"``."""
        touched = set(years)
        if not touched:
            raise ValueError("a calendar label needs at least one year")
        if any(self.year_status(year) == PROVISIONAL for year in touched):
            return PROVISIONAL
        return f"{OFFICIAL}:{max(touched)}"

    def first_working_day_from(self, day: date) -> date:
        """``day`` itself if it is a working day, else the first working day after it."""
        for _ in range(MAX_REST_RUN):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError(f"no working day within {MAX_REST_RUN} days of {day}")

    def shift_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (before it when negative).

        ``day`` itself is never counted, whatever its kind.
        """
        step = timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        since_last = 0
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
                since_last = 0
            else:
                since_last += 1
                if since_last > MAX_REST_RUN:
                    raise ValueError(f"no working day within {MAX_REST_RUN} days of {day}")
        return day

    def _name(self, day: date) -> str | None:
        override = self._overrides.get(day)
        if override is not None:
            return override.name
        if day.year in self._official_years:
            return None
        return _base_year(day.year).names.get(day)

    def rest_days(self, year: int) -> list[tuple[date, str]]:
        """The year's holidays: weekday rest days, and weekend rest days with a name."""
        listed = []
        for day in _days_of(year):
            if not self.is_rest_day(day):
                continue
            name = self._name(day)
            if not _is_weekend(day):
                listed.append((day, name or "rest day"))
            elif name:
                listed.append((day, name))
        return listed

    def adjusted_working_days(self, year: int) -> list[tuple[date, str]]:
        """The Saturdays and Sundays the schedule makes working days (调休)."""
        return [
            (day, self._working_day_name(day))
            for day in _days_of(year)
            if _is_weekend(day) and self.is_working_day(day)
        ]

    def _working_day_name(self, day: date) -> str:
        override = self._overrides.get(day)
        if override is not None:
            return override.name
        # The bundled schedule names a working weekend day after the holiday it pays for.
        paid_for = self._name(day)
        return f"adjusted working day ({paid_for})" if paid_for else "adjusted working day"

    def year_view(self, year: int) -> YearView:
        return YearView(
            year=year,
            status=self.year_status(year),
            rest_days=self.rest_days(year),
            working_days=self.adjusted_working_days(year),
        )
