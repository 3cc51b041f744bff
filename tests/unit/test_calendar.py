"""The working-day calendar: weekends, each nation's bank holidays, school terms."""

from __future__ import annotations

from datetime import date

import pytest

from prre_contracts.events.values import Nation, Term
from prre_runtime.calendar import WorkingDayCalendar

ENGLAND_2025_26 = [
    Term(name="Autumn", starts_on=date(2025, 9, 3), ends_on=date(2025, 12, 19)),
    Term(name="Spring", starts_on=date(2026, 1, 5), ends_on=date(2026, 3, 27)),
    Term(name="Summer", starts_on=date(2026, 4, 13), ends_on=date(2026, 7, 22)),
]


@pytest.mark.parametrize(
    ("nation", "day", "working"),
    [
        ("scotland", date(2026, 11, 30), False),  # St Andrew's Day
        ("england", date(2026, 11, 30), True),
        ("northern-ireland", date(2026, 3, 17), False),  # St Patrick's Day
        ("wales", date(2026, 3, 17), True),
        ("england", date(2026, 4, 6), False),  # Easter Monday
        ("wales", date(2026, 4, 6), False),
        ("scotland", date(2026, 4, 6), True),
        ("scotland", date(2026, 1, 2), False),  # 2 January
        ("england", date(2026, 1, 2), True),
        ("northern-ireland", date(2026, 7, 13), False),  # Boyne, substitute day
        ("scotland", date(2026, 8, 3), False),  # Scotland's summer bank holiday
        ("england", date(2026, 8, 31), False),  # England's late summer one
        ("scotland", date(2026, 8, 31), True),
    ],
)
def test_each_nation_keeps_its_own_bank_holidays(
    nation: Nation, day: date, working: bool
) -> None:
    assert WorkingDayCalendar(nation).is_working_day(day) is working


@pytest.mark.parametrize("nation", ["england", "wales", "scotland", "northern-ireland"])
def test_a_boxing_day_on_a_saturday_moves_to_the_monday(nation: Nation) -> None:
    calendar = WorkingDayCalendar(nation)

    assert not calendar.is_working_day(date(2026, 12, 28))
    assert calendar.is_working_day(date(2026, 12, 29))


def test_weekends_are_never_working_days() -> None:
    calendar = WorkingDayCalendar("england")

    assert not calendar.is_working_day(date(2026, 3, 14))
    assert not calendar.is_working_day(date(2026, 3, 15))
    assert calendar.is_working_day(date(2026, 3, 16))


def test_counting_starts_the_day_after_and_includes_the_last_day() -> None:
    calendar = WorkingDayCalendar("england")

    assert calendar.working_days_between(date(2026, 3, 13), date(2026, 3, 16)) == 1
    assert calendar.working_days_between(date(2026, 3, 9), date(2026, 3, 20)) == 9
    assert calendar.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert calendar.working_days_between(date(2026, 3, 20), date(2026, 3, 9)) == 0


def test_a_bank_holiday_in_one_nation_lengthens_its_count() -> None:
    monday, wednesday = date(2026, 3, 16), date(2026, 3, 18)

    assert WorkingDayCalendar("england").working_days_between(monday, wednesday) == 2
    assert (
        WorkingDayCalendar("northern-ireland").working_days_between(monday, wednesday)
        == 1
    )


def test_adding_working_days_steps_over_easter_where_it_is_a_holiday() -> None:
    maundy_thursday = date(2026, 4, 2)

    assert WorkingDayCalendar("england").add_working_days(maundy_thursday, 1) == date(
        2026, 4, 7
    )
    assert WorkingDayCalendar("scotland").add_working_days(maundy_thursday, 1) == date(
        2026, 4, 6
    )


def test_adding_no_working_days_is_the_same_day() -> None:
    saturday = date(2026, 3, 14)

    assert WorkingDayCalendar("england").add_working_days(saturday, 0) == saturday


def test_adding_a_negative_number_of_days_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot count back 3 working days"):
        WorkingDayCalendar("england").add_working_days(date(2026, 3, 14), -3)


def test_school_holidays_do_not_count_when_terms_are_recorded() -> None:
    calendar = WorkingDayCalendar("england", ENGLAND_2025_26)

    assert not calendar.is_working_day(date(2026, 4, 8))  # Easter holidays
    assert not calendar.is_working_day(date(2026, 7, 27))  # summer holidays
    assert calendar.add_working_days(date(2026, 3, 26), 2) == date(2026, 4, 13)
    assert calendar.working_days_between(date(2026, 3, 26), date(2026, 4, 14)) == 3


def test_a_bank_holiday_inside_a_term_is_still_not_a_working_day() -> None:
    calendar = WorkingDayCalendar("england", ENGLAND_2025_26)

    assert not calendar.is_working_day(date(2026, 5, 4))  # early May bank holiday
    assert calendar.is_working_day(date(2026, 5, 5))


def test_a_year_without_recorded_terms_counts_every_weekday() -> None:
    calendar = WorkingDayCalendar("england", ENGLAND_2025_26)

    assert calendar.is_working_day(date(2027, 8, 2))  # 2026/27: no terms recorded
    assert calendar.is_working_day(date(2025, 8, 4))  # 2024/25: none either


def test_a_term_starting_in_august_belongs_to_the_year_beginning_that_september() -> (
    None
):
    autumn = Term(
        name="Autumn", starts_on=date(2026, 8, 18), ends_on=date(2026, 12, 18)
    )
    calendar = WorkingDayCalendar("scotland", [autumn])

    assert calendar.is_working_day(date(2026, 8, 18))
    assert calendar.is_working_day(date(2026, 8, 17))  # 2025/26 terms unknown
    assert not calendar.is_working_day(date(2026, 12, 21))  # Christmas holidays
