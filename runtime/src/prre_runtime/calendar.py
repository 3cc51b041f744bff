"""The working-day calendar that response-time targets are counted in.

A working day is a Monday to Friday that is not a bank holiday of the area's
nation and, when the area has recorded the school terms of that academic year,
falls inside one of those terms. Children are only in school during terms, so
the time a stage of the pathway takes is only counted while they are.

An academic year runs from 1 September to 31 August. A term belongs to the
academic year that holds its middle day, so a Scottish autumn term that starts
in mid-August still belongs to the year that begins that September. Where no
term of an academic year is recorded, that year is counted on weekdays and
bank holidays alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Final

import holidays

from prre_contracts.events.values import Nation, Term

SUBDIVISION: Final[dict[Nation, str]] = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}
"""The code the ``holidays`` package gives each UK nation."""

SATURDAY: Final = 5


def academic_year(day: date) -> int:
    """The calendar year in which the academic year holding ``day`` began."""
    return day.year if day.month >= 9 else day.year - 1


class _TermYear:
    """The recorded terms of one academic year and the span they govern.

    The span is 1 September to 31 August, stretched to hold any term that
    starts before or ends after it.
    """

    def __init__(self, year: int, terms: Sequence[Term]) -> None:
        self.terms = terms
        self.first = min([date(year, 9, 1), *(term.starts_on for term in terms)])
        self.last = max([date(year + 1, 8, 31), *(term.ends_on for term in terms)])

    def governs(self, day: date) -> bool:
        return self.first <= day <= self.last

    def in_term(self, day: date) -> bool:
        return any(term.starts_on <= day <= term.ends_on for term in self.terms)


def _group_by_year(terms: Iterable[Term]) -> list[_TermYear]:
    by_year: dict[int, list[Term]] = {}
    for term in terms:
        middle = term.starts_on + (term.ends_on - term.starts_on) / 2
        by_year.setdefault(academic_year(middle), []).append(term)
    return [_TermYear(year, grouped) for year, grouped in sorted(by_year.items())]


class WorkingDayCalendar:
    """Counts working days for one area: its nation's holidays and its terms."""

    def __init__(self, nation: Nation, terms: Sequence[Term] = ()) -> None:
        self.nation = nation
        self._bank_holidays = holidays.country_holidays(
            "GB", subdiv=SUBDIVISION[nation]
        )
        self._term_years = _group_by_year(terms)

    def is_bank_holiday(self, day: date) -> bool:
        """Whether ``day`` is a bank holiday (or a substitute day) in the nation."""
        return day in self._bank_holidays

    def in_school_time(self, day: date) -> bool:
        """False only when the terms of ``day``'s year are known and miss it."""
        governing = [year for year in self._term_years if year.governs(day)]
        return not governing or any(year.in_term(day) for year in governing)

    def is_working_day(self, day: date) -> bool:
        """A weekday, not a bank holiday, and inside a term where terms are known."""
        if day.weekday() >= SATURDAY or self.is_bank_holiday(day):
            return False
        return self.in_school_time(day)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``.

        A stage that began on ``start`` has taken this many working days by the
        end of ``end``. Zero when ``end`` is not after ``start``.
        """
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count

    def add_working_days(self, start: date, days: int) -> date:
        """The date on which ``days`` working days after ``start`` have passed.

        ``add_working_days(start, 0)`` is ``start`` itself; otherwise the
        result is always a working day.
        """
        if days < 0:
            msg = f"cannot count back {-days} working days"
            raise ValueError(msg)
        day = start
        while days:
            day += timedelta(days=1)
            days -= self.is_working_day(day)
        return day
