"""Response-time targets across real processes, counted in working days.

The area takes the default targets (triage 5 working days, consent 10,
assessment 20). Referrals arrive on the Thursday before Easter 2027, so Good
Friday and Easter Monday, bank holidays in England, do not count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import httpx
import pytest

from e2e.review_journey import SCHEDULER_WAIT_S, Journey, of_type
from helpers import Tokens, eventually, new_area
from prre_runtime.clock import FileClock
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

BEFORE_EASTER = datetime(2027, 3, 25, 9, tzinfo=UTC)  # a Thursday


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


@pytest.fixture
def area(running: Stack, tokens: Tokens, clock: FileClock) -> str:
    clock.set(BEFORE_EASTER)
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        return new_area(client, tokens)


@pytest.fixture
def refer(running: Stack, tokens: Tokens, area: str) -> Iterator[Callable[[], Journey]]:
    """Makes referrals of the area on BEFORE_EASTER; closes their clients after."""
    made: list[Journey] = []

    def referral() -> Journey:
        made.append(Journey(running, tokens, area, BEFORE_EASTER.date()))
        return made[-1]

    yield referral
    for journey in made:
        journey.close()


def outcome(journey: Journey, timer: str) -> str | None:
    clock = journey.clocks().get(timer)
    return clock["outcome"] if clock else None


def test_triage_breaches_after_five_working_days_not_counting_easter(
    refer: Callable[[], Journey], clock: FileClock
) -> None:
    waiting, decided = refer(), refer()
    clock.set(at(date(2027, 3, 31)))
    decided.accept()
    eventually(lambda: decided.clocks().get("response-time:triage", {}).get("ended_on"))

    clock.set(at(date(2027, 4, 6)))

    eventually(
        lambda: outcome(waiting, "response-time:triage") == "breached", SCHEDULER_WAIT_S
    )
    [breach] = of_type(waiting.published(), "ResponseTimeBreached")
    assert breach.data == {
        "area_id": waiting.area,
        "referral_id": waiting.id,
        "stage": "triage",
        "target_working_days": 5,
        "elapsed_working_days": 6,
        "policy_version": 1,
        "started_on": "2027-03-25",
        "breached_on": "2027-04-06",
        "review_id": None,
    }
    eventually(
        lambda: outcome(decided, "response-time:triage") == "met", SCHEDULER_WAIT_S
    )
    assert of_type(decided.published(), "ResponseTimeBreached") == []
    assert outcome(waiting, "response-time:consent") is None  # 6 of 10 days


def test_withdrawn_consent_cancels_the_running_clocks(
    refer: Callable[[], Journey], clock: FileClock
) -> None:
    withdrawn = refer()
    withdrawn.consent()
    withdrawn.accept()
    eventually(lambda: "response-time:assessment" in withdrawn.clocks())

    withdrawn.consent("withdraw")

    [cancelled] = eventually(lambda: of_type(withdrawn.published(), "TimersCancelled"))
    assert cancelled.data["timers"] == ["response-time:assessment"]
    assert cancelled.data["reason"] == "consent-withdrawn"
    untriaged = refer()
    clock.set(at(date(2027, 6, 1)))  # past every target of both referrals
    eventually(
        lambda: outcome(untriaged, "response-time:triage") == "breached",
        SCHEDULER_WAIT_S,
    )
    assert of_type(withdrawn.published(), "ResponseTimeBreached") == []


SCOTTISH_TERMS = {
    "2026/27": [
        {"name": "Autumn", "starts_on": "2026-08-18", "ends_on": "2026-10-09"},
        {"name": "Winter", "starts_on": "2026-10-19", "ends_on": "2026-12-22"},
    ]
}
"""Terms with a week's October holiday between them."""


def test_school_holidays_of_the_areas_terms_do_not_count(
    running: Stack, tokens: Tokens, clock: FileClock
) -> None:
    clock.set(at(date(2026, 10, 8)))  # the Thursday before the holiday
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        area = new_area(client, tokens, nation="scotland", term_dates=SCOTTISH_TERMS)
    waiting = Journey(running, tokens, area, date(2026, 10, 8))

    clock.set(at(date(2026, 10, 23)))

    eventually(
        lambda: outcome(waiting, "response-time:triage") == "breached", SCHEDULER_WAIT_S
    )
    [breach] = of_type(waiting.published(), "ResponseTimeBreached")
    assert breach.data["breached_on"] == "2026-10-23"
    assert breach.data["elapsed_working_days"] == 6  # 11 without the holiday
    waiting.close()
