"""Tests for the legal-period rule, extension, suspension and the escalation ladder."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from workflow.calendar import CalendarOverride, DayKind, WorkCalendar
from workflow.periods import (
    Deadline,
    Period,
    Unit,
    compute_deadline,
    extend_deadline,
    ladder,
    restore_deadline,
    resume_deadline,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()


def local(text: str) -> datetime:
    """A wall-clock time in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def days(opened: str, length: int, calendar: WorkCalendar = CALENDAR) -> Deadline:
    return compute_deadline(local(opened), Period(Unit.DAYS, length), calendar, SHANGHAI)


def test_15_days_ending_on_national_day_roll_to_the_first_working_day_after_the_week() -> None:
    deadline = days("2026-09-16T10:00", 15)
    assert deadline.last_day == date(2026, 10, 1)
    assert deadline.rolled_from == date(2026, 10, 1)
    assert deadline.due_at == utc("2026-10-08T16:00")  # 24:00 Thursday 8 October
    assert deadline.calendar == "official:2026"
    assert deadline.provisional is False


def test_the_computation_record_shows_start_unit_length_roll_and_calendar() -> None:
    assert days("2026-09-16T10:00", 15).computation() == {
        "start": "2026-09-16T02:00:00+00:00",
        "unit": "days",
        "length": 15,
        "rolled_from": "2026-10-01",
        "calendar": "official:2026",
    }


def test_a_last_day_on_an_adjusted_working_saturday_does_not_roll() -> None:
    deadline = days("2026-09-25T10:00", 15)  # day 15 = Saturday 10 October, a working day
    assert deadline.rolled_from is None
    assert deadline.due_at == utc("2026-10-10T16:00")


def test_a_last_day_on_a_plain_saturday_rolls_to_monday() -> None:
    deadline = days("2026-02-27T10:00", 15)  # day 15 = Saturday 14 March
    assert deadline.rolled_from == date(2026, 3, 14)
    assert deadline.due_at == utc("2026-03-16T16:00")


def test_rest_days_in_the_middle_of_a_period_count() -> None:
    deadline = days("2026-09-28T10:00", 15)  # runs through the whole National Day week
    assert deadline.last_day == date(2026, 10, 13)
    assert deadline.rolled_from is None
    assert deadline.due_at == utc("2026-10-13T16:00")


def test_the_opening_day_is_the_local_day_not_the_utc_day() -> None:
    after_local_midnight = compute_deadline(
        utc("2026-03-10T16:30"), Period(Unit.DAYS, 15), CALENDAR, SHANGHAI
    )  # 00:30 on 11 March in Shanghai
    before_local_midnight = compute_deadline(
        utc("2026-03-10T15:30"), Period(Unit.DAYS, 15), CALENDAR, SHANGHAI
    )  # 23:30 on 10 March in Shanghai
    assert after_local_midnight.last_day == date(2026, 3, 26)
    assert after_local_midnight.due_at == utc("2026-03-26T16:00")
    assert before_local_midnight.last_day == date(2026, 3, 25)
    assert before_local_midnight.due_at == utc("2026-03-25T16:00")


def test_the_deadline_is_24_00_local_which_is_16_00_utc_of_the_last_day() -> None:
    deadline = days("2026-03-05T08:00", 15)
    assert deadline.due_at == utc("2026-03-20T16:00")
    assert deadline.due_at.astimezone(SHANGHAI) == local("2026-03-21T00:00")
    assert deadline.due_at.tzinfo is UTC


def test_working_days_skip_the_holiday_week_and_count_an_adjusted_saturday() -> None:
    deadline = compute_deadline(
        local("2026-09-30T10:00"), Period(Unit.WORKING_DAYS, 3), CALENDAR, SHANGHAI
    )  # 8 October, 9 October, then Saturday 10 October (a working day)
    assert deadline.last_day == date(2026, 10, 10)
    assert deadline.rolled_from is None
    assert deadline.due_at == utc("2026-10-10T16:00")


def test_working_days_never_count_the_opening_day_even_when_it_is_a_working_day() -> None:
    deadline = compute_deadline(
        local("2026-03-16T09:00"), Period(Unit.WORKING_DAYS, 3), CALENDAR, SHANGHAI
    )  # opened Monday: Tuesday, Wednesday, Thursday
    assert deadline.due_at == utc("2026-03-19T16:00")


@pytest.mark.parametrize("opened", ["2026-03-10T09:00:00", "2026-03-10T09:59:59"])
def test_an_hour_period_starts_at_the_end_of_the_opening_hour(opened: str) -> None:
    deadline = compute_deadline(local(opened), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI)
    assert deadline.start == utc("2026-03-10T02:00")  # 10:00 in Shanghai
    assert deadline.due_at == utc("2026-03-11T02:00")
    assert deadline.last_day is None
    assert deadline.computation()["start"] == "2026-03-10T02:00:00+00:00"


def test_24_hours_run_through_a_holiday_without_rolling() -> None:
    deadline = compute_deadline(
        local("2026-09-30T22:10"), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI
    )
    assert deadline.due_at == utc("2026-10-01T15:00")  # 23:00 on National Day
    assert deadline.rolled_from is None


def test_one_month_from_31_january_ends_on_the_last_day_of_february() -> None:
    common_year = compute_deadline(
        local("2026-01-31T10:00"), Period(Unit.MONTHS, 1), CALENDAR, SHANGHAI
    )
    leap_year = compute_deadline(
        local("2028-01-31T10:00"), Period(Unit.MONTHS, 1), CALENDAR, SHANGHAI
    )
    # 28 February 2026 is a Saturday but an adjusted working day: no roll.
    assert common_year.last_day == date(2026, 2, 28)
    assert common_year.due_at == utc("2026-02-28T16:00")
    assert leap_year.last_day == date(2028, 2, 29)
    assert leap_year.due_at == utc("2028-02-29T16:00")
    assert leap_year.calendar == "provisional"


def test_six_months_cross_a_year_end_and_roll_like_days() -> None:
    deadline = compute_deadline(
        local("2026-07-01T10:00"), Period(Unit.MONTHS, 6), CALENDAR, SHANGHAI
    )  # 1 January 2027 is New Year's Day (provisional), then Saturday and Sunday
    assert deadline.rolled_from == date(2027, 1, 1)
    assert deadline.due_at == utc("2027-01-04T16:00")
    assert deadline.calendar == "provisional"


def test_a_provisional_year_rolls_over_national_day_without_the_library_s_guesses() -> None:
    deadline = days("2027-09-16T10:00", 15)  # day 15 = Friday 1 October 2027
    assert deadline.rolled_from == date(2027, 10, 1)
    assert deadline.due_at == utc("2027-10-04T16:00")  # Monday 4 October works
    assert deadline.calendar == "provisional"
    assert deadline.provisional is True


def test_a_period_into_an_unpublished_year_is_provisional() -> None:
    assert days("2026-12-20T10:00", 15).calendar == "provisional"


def test_a_period_across_two_published_years_is_labelled_with_the_later() -> None:
    deadline = days("2025-12-20T10:00", 15)  # Sunday 4 January 2026 is a working day
    assert deadline.due_at == utc("2026-01-04T16:00")
    assert deadline.calendar == "official:2026"


def test_a_rest_override_on_the_last_day_moves_the_deadline() -> None:
    closure = CalendarOverride(date(2026, 3, 25), DayKind.REST, "typhoon closure")
    calendar = WorkCalendar(overrides={closure.day: closure})
    assert days("2026-03-10T10:00", 15).due_at == utc("2026-03-25T16:00")
    deadline = days("2026-03-10T10:00", 15, calendar)
    assert deadline.rolled_from == date(2026, 3, 25)
    assert deadline.due_at == utc("2026-03-26T16:00")


def test_a_database_schedule_makes_a_2027_deadline_official() -> None:
    calendar = WorkCalendar(official_years=frozenset({2027}))
    deadline = days("2027-03-01T10:00", 15, calendar)
    assert deadline.due_at == utc("2027-03-16T16:00")
    assert deadline.calendar == "official:2027"


def test_extend_counts_from_the_last_day_before_roll_forward() -> None:
    resolution = days("2026-08-02T10:00", 60)  # day 60 = 1 October, rolled to 8 October
    assert resolution.due_at == utc("2026-10-08T16:00")
    extended = extend_deadline(resolution, 10, CALENDAR, SHANGHAI)
    assert extended.last_day == date(2026, 10, 11)  # a Sunday
    assert extended.rolled_from == date(2026, 10, 11)
    assert extended.due_at == utc("2026-10-12T16:00")
    assert extended.length == 70
    assert extended.start == resolution.start


def test_extend_equals_computing_the_longer_period_from_the_start() -> None:
    extended = extend_deadline(days("2026-03-01T10:00", 60), 30, CALENDAR, SHANGHAI)
    assert extended == days("2026-03-01T10:00", 90)


def test_only_a_days_period_can_be_extended() -> None:
    hours = compute_deadline(local("2026-03-10T09:00"), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI)
    with pytest.raises(ValueError, match="only a days period"):
        extend_deadline(hours, 5, CALENDAR, SHANGHAI)


def test_resume_grows_a_day_clock_by_the_local_days_the_suspension_touched() -> None:
    acceptance = days("2026-03-10T10:00", 15)  # last day Wednesday 25 March
    resumed = resume_deadline(
        acceptance, local("2026-03-12T10:00"), local("2026-03-14T09:00"), CALENDAR, SHANGHAI
    )  # touched 12, 13 and 14 March: three days, to Saturday 28 March, rolled to Monday
    assert resumed.last_day == date(2026, 3, 28)
    assert resumed.rolled_from == date(2026, 3, 28)
    assert resumed.due_at == utc("2026-03-30T16:00")
    assert resumed.length == 15


def test_a_suspension_within_one_local_day_still_costs_a_day() -> None:
    resumed = resume_deadline(
        days("2026-03-10T10:00", 15),
        local("2026-03-12T10:00"),
        local("2026-03-12T10:05"),
        CALENDAR,
        SHANGHAI,
    )
    assert resumed.due_at == utc("2026-03-26T16:00")


def test_resume_grows_a_working_day_clock_by_working_days() -> None:
    acknowledgement = compute_deadline(
        local("2026-09-28T10:00"), Period(Unit.WORKING_DAYS, 3), CALENDAR, SHANGHAI
    )  # 29 September, 30 September, 8 October
    assert acknowledgement.due_at == utc("2026-10-08T16:00")
    resumed = resume_deadline(
        acknowledgement, local("2026-09-29T15:00"), local("2026-09-30T09:00"), CALENDAR, SHANGHAI
    )  # two days touched: 9 October, then Saturday 10 October (a working day)
    assert resumed.due_at == utc("2026-10-10T16:00")


def test_resume_grows_an_hour_clock_by_the_suspended_time_rounded_up_to_the_hour() -> None:
    emergency = compute_deadline(
        local("2026-03-10T09:30"), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI
    )
    resumed = resume_deadline(
        emergency, local("2026-03-10T11:00"), local("2026-03-10T12:30"), CALENDAR, SHANGHAI
    )
    assert resumed.due_at == utc("2026-03-11T04:00")  # 24 h + 2 h from 10:00 local
    assert resumed.start == emergency.start


def test_a_suspension_cannot_end_before_it_begins() -> None:
    with pytest.raises(ValueError, match="cannot end before"):
        resume_deadline(
            days("2026-03-10T10:00", 15),
            local("2026-03-12T10:00"),
            local("2026-03-11T10:00"),
            CALENDAR,
            SHANGHAI,
        )


def test_a_naive_opening_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadline(datetime(2026, 3, 10, 9), Period(Unit.DAYS, 15), CALENDAR, SHANGHAI)


def test_a_period_of_no_length_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Period(Unit.DAYS, 0)


def test_the_ladder_of_a_day_clock_ending_on_a_friday() -> None:
    deadline = days("2026-03-05T10:00", 15)  # last day Friday 20 March
    assert ladder(deadline, CALENDAR, SHANGHAI) == [
        ("reminder", utc("2026-03-18T16:00")),  # 24:00 Wednesday
        ("level1", utc("2026-03-20T16:00")),  # the deadline
        ("level2", utc("2026-03-24T16:00")),  # 24:00 Tuesday
        ("level3", utc("2026-03-27T16:00")),  # 24:00 the next Friday
    ]


def test_the_ladder_of_a_rolled_day_clock_counts_from_the_day_after_the_roll() -> None:
    deadline = days("2026-09-16T10:00", 15)  # rolled from 1 October to 8 October
    assert ladder(deadline, CALENDAR, SHANGHAI) == [
        ("reminder", utc("2026-09-29T16:00")),  # 30 September, 29 September
        ("level1", utc("2026-10-08T16:00")),
        ("level2", utc("2026-10-10T16:00")),  # 9 October, Saturday 10 October (working)
        ("level3", utc("2026-10-14T16:00")),  # 12, 13, 14 October
    ]


def test_the_ladder_of_an_hour_clock() -> None:
    deadline = compute_deadline(
        local("2026-03-10T09:30"), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI
    )  # runs 10:00 on 10 March to 10:00 on 11 March, local
    assert ladder(deadline, CALENDAR, SHANGHAI) == [
        ("reminder", utc("2026-03-10T20:00")),  # 18 hours in: 04:00 local
        ("level1", utc("2026-03-11T02:00")),
        ("level2", utc("2026-03-11T14:00")),
        ("level3", utc("2026-03-12T02:00")),
    ]


def test_a_suspension_moves_an_hour_clock_s_reminder_with_its_deadline() -> None:
    deadline = compute_deadline(
        local("2026-03-10T09:30"), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI
    )
    resumed = resume_deadline(
        deadline, local("2026-03-10T11:00"), local("2026-03-10T12:30"), CALENDAR, SHANGHAI
    )
    assert ladder(resumed, CALENDAR, SHANGHAI)[0] == ("reminder", utc("2026-03-10T22:00"))


@pytest.mark.parametrize(
    "deadline",
    [
        days("2026-09-16T10:00", 15),
        days("2026-03-10T10:00", 15),
        compute_deadline(local("2026-03-10T09:30"), Period(Unit.HOURS, 24), CALENDAR, SHANGHAI),
        compute_deadline(
            local("2026-09-30T10:00"), Period(Unit.WORKING_DAYS, 3), CALENDAR, SHANGHAI
        ),
    ],
    ids=["rolled-days", "days", "hours", "working-days"],
)
def test_a_stored_deadline_is_restored_from_its_due_time_and_computation(
    deadline: Deadline,
) -> None:
    assert restore_deadline(deadline.due_at, deadline.computation(), SHANGHAI) == deadline
