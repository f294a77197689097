"""Tests for the working-day calendar: published, database and provisional schedules."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.calendar import (
    CalendarOverride,
    DayKind,
    WorkCalendar,
    library_has_year,
    statutory_holidays,
)

BUNDLED = WorkCalendar()


def test_the_bundled_library_holds_2026_but_not_2027() -> None:
    assert library_has_year(2026) is True
    assert library_has_year(2027) is False


def test_2026_national_day_week_is_rest_and_the_adjusted_saturday_works() -> None:
    assert [BUNDLED.is_rest_day(date(2026, 10, day)) for day in range(1, 11)] == [
        True, True, True, True, True, True, True,  # 1-7 October: the holiday week
        False, False,  # Thursday 8 and Friday 9
        False,  # Saturday 10 October: an adjusted working day
    ]  # fmt: skip


def test_a_plain_weekend_is_rest_and_a_plain_weekday_works_in_an_official_year() -> None:
    assert BUNDLED.is_rest_day(date(2026, 3, 14)) is True  # Saturday
    assert BUNDLED.is_rest_day(date(2026, 3, 15)) is True  # Sunday
    assert BUNDLED.is_working_day(date(2026, 3, 16)) is True  # Monday


def test_a_year_in_the_library_is_official_and_one_beyond_it_is_provisional() -> None:
    assert BUNDLED.year_status(2026) == "official"
    assert BUNDLED.year_status(2027) == "provisional"
    assert BUNDLED.year_status(2030) == "provisional"


PROVISIONAL_2027 = {
    date(2027, 1, 1): "New Year's Day",
    date(2027, 2, 5): "Spring Festival",  # the eve
    date(2027, 2, 6): "Spring Festival",
    date(2027, 2, 7): "Spring Festival",
    date(2027, 2, 8): "Spring Festival",
    date(2027, 4, 5): "Tomb-sweeping Day",
    date(2027, 5, 1): "Labour Day",
    date(2027, 5, 2): "Labour Day",
    date(2027, 6, 9): "Dragon Boat Festival",
    date(2027, 9, 15): "Mid-autumn Festival",
    date(2027, 10, 1): "National Day",
    date(2027, 10, 2): "National Day",
    date(2027, 10, 3): "National Day",
}


def test_a_provisional_year_has_exactly_the_13_statutory_holidays() -> None:
    assert statutory_holidays(2027) == PROVISIONAL_2027


def test_the_library_s_observed_guesses_are_not_rest_days_in_a_provisional_year() -> None:
    # holidays.China guesses these in-lieu days for 2027; only a published schedule makes them.
    guessed = [date(2027, 2, 9), date(2027, 2, 10), date(2027, 5, 3), date(2027, 5, 4)]
    guessed += [date(2027, 10, 4), date(2027, 10, 5)]
    assert [BUNDLED.is_rest_day(day) for day in guessed] == [False] * 6


def test_2030_has_13_statutory_holiday_dates_including_the_spring_festival_eve() -> None:
    holidays_2030 = statutory_holidays(2030)
    assert len(holidays_2030) == 13
    assert [day for day, name in holidays_2030.items() if name == "Spring Festival"] == [
        date(2030, 2, 2),
        date(2030, 2, 3),
        date(2030, 2, 4),
        date(2030, 2, 5),
    ]
    assert date(2030, 2, 6) not in holidays_2030  # the library's "(observed)" eve


def test_2028_counts_13_holidays_on_12_dates_because_mid_autumn_falls_on_3_october() -> None:
    holidays_2028 = statutory_holidays(2028)
    assert len(holidays_2028) == 12
    assert holidays_2028[date(2028, 10, 3)] == "National Day; Mid-autumn Festival"
    assert sum(len(name.split("; ")) for name in holidays_2028.values()) == 13
    assert date(2028, 10, 4) not in holidays_2028


def test_a_provisional_year_makes_no_weekend_day_a_working_day() -> None:
    assert BUNDLED.adjusted_working_days(2027) == []
    assert BUNDLED.is_rest_day(date(2027, 2, 20)) is True  # a Saturday after Spring Festival


def test_the_year_view_of_a_provisional_year_lists_its_13_holidays() -> None:
    view = BUNDLED.year_view(2027)
    assert view.year == 2027
    assert view.status == "provisional"
    assert view.rest_days == list(PROVISIONAL_2027.items())
    assert view.working_days == []


def test_the_year_view_of_2026_lists_its_six_adjusted_working_weekend_days() -> None:
    view = BUNDLED.year_view(2026)
    assert view.status == "official"
    assert view.working_days == [
        (date(2026, 1, 4), "adjusted working day (New Year's Day)"),
        (date(2026, 2, 14), "adjusted working day (Spring Festival)"),
        (date(2026, 2, 28), "adjusted working day (Spring Festival)"),
        (date(2026, 5, 9), "adjusted working day (Labour Day)"),
        (date(2026, 9, 20), "adjusted working day (National Day)"),
        (date(2026, 10, 10), "adjusted working day (National Day)"),
    ]
    national_day = [day for day, name in view.rest_days if name == "National Day"]
    assert national_day == [date(2026, 10, day) for day in range(1, 8)]
    assert date(2026, 3, 14) not in [day for day, _ in view.rest_days]  # a plain Saturday
    assert len(view.rest_days) == 33


def test_a_rest_override_makes_a_weekday_a_rest_day() -> None:
    closure = CalendarOverride(date(2026, 3, 25), DayKind.REST, "typhoon closure")
    calendar = WorkCalendar(overrides={closure.day: closure})
    assert calendar.is_rest_day(date(2026, 3, 25)) is True
    assert (date(2026, 3, 25), "typhoon closure") in calendar.rest_days(2026)
    assert BUNDLED.is_rest_day(date(2026, 3, 25)) is False


def test_a_work_override_makes_a_saturday_a_working_day() -> None:
    makeup = CalendarOverride(date(2026, 3, 14), DayKind.WORK, "make-up day")
    calendar = WorkCalendar(overrides={makeup.day: makeup})
    assert calendar.is_working_day(date(2026, 3, 14)) is True
    assert (date(2026, 3, 14), "make-up day") in calendar.adjusted_working_days(2026)


def test_a_database_schedule_makes_a_year_official_and_replaces_the_statutory_rule() -> None:
    schedule = [
        CalendarOverride(date(2027, 2, 9), DayKind.REST, "Spring Festival"),
        CalendarOverride(date(2027, 2, 20), DayKind.WORK, "Spring Festival"),
    ]
    calendar = WorkCalendar(
        overrides={day.day: day for day in schedule}, official_years=frozenset({2027})
    )
    assert calendar.year_status(2027) == "official"
    assert calendar.is_rest_day(date(2027, 2, 9)) is True  # listed
    assert calendar.is_working_day(date(2027, 2, 20)) is True  # listed working Saturday
    # An unlisted weekday works even where the statutory rule would rest: the schedule is whole.
    assert calendar.is_working_day(date(2027, 10, 1)) is True
    assert calendar.is_rest_day(date(2027, 2, 13)) is True  # an unlisted Saturday
    assert calendar.calendar_label([2026, 2027]) == "official:2027"


def test_the_label_is_provisional_when_any_touched_year_is() -> None:
    assert BUNDLED.calendar_label([2026]) == "official:2026"
    assert BUNDLED.calendar_label([2025, 2026]) == "official:2026"
    assert BUNDLED.calendar_label([2026, 2027]) == "provisional"


def test_the_label_of_no_years_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one year"):
        BUNDLED.calendar_label([])


def test_shifting_working_days_never_counts_the_starting_day() -> None:
    assert BUNDLED.shift_working_days(date(2026, 3, 20), 2) == date(2026, 3, 24)  # Fri -> Tue
    assert BUNDLED.shift_working_days(date(2026, 3, 20), -2) == date(2026, 3, 18)  # Fri -> Wed
    assert BUNDLED.shift_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)


def test_the_first_working_day_from_a_rest_day_skips_the_holiday_week() -> None:
    assert BUNDLED.first_working_day_from(date(2026, 10, 1)) == date(2026, 10, 8)
    assert BUNDLED.first_working_day_from(date(2026, 10, 8)) == date(2026, 10, 8)


def test_a_calendar_with_no_working_day_in_sight_is_refused() -> None:
    closed = {
        day: CalendarOverride(day, DayKind.REST, "closed")
        for day in (date.fromordinal(date(2026, 3, 1).toordinal() + n) for n in range(120))
    }
    with pytest.raises(ValueError, match="no working day"):
        WorkCalendar(overrides=closed).first_working_day_from(date(2026, 3, 1))
