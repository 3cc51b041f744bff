"""Follow-up reviews across real processes: due once, completed, cancelled.

Each test sets the shared clock to a working Monday, takes a referral to an
agreed action plan through the referral, triage and assessment services, and
moves the clock to make the review fall due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from e2e.review_journey import Journey, of_type
from helpers import Tokens, eventually, new_area
from prre_runtime.clock import FileClock
from prre_runtime.identity import Role
from prre_runtime.stack import ServiceProcess, Stack

pytestmark = pytest.mark.slow

MONDAY = datetime(2027, 1, 11, 9, tzinfo=UTC)
DUE = date(2027, 3, 8)  # eight weeks after the feedback meeting
OVERDUE = date(2027, 3, 23)  # the 11th working day after DUE; the target is 10
SCHEDULER = "review-scheduler"
OUTCOME = {
    "attendance_percent": 93,
    "suspensions_this_year": 0,
    "exclusion_status": "none",
}


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


@pytest.fixture
def area(running: Stack, tokens: Tokens, clock: FileClock) -> str:
    """A mobilised English area whose policies took effect on MONDAY."""
    clock.set(MONDAY)
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        return new_area(client, tokens)


@pytest.fixture
def journey(running: Stack, tokens: Tokens, area: str) -> Iterator[Journey]:
    case = Journey(running, tokens, area, MONDAY.date())
    yield case
    case.close()


@pytest.fixture
def replica(running: Stack) -> Iterator[ServiceProcess]:
    """A second review-scheduler process sharing the database and group."""
    second = running.start_replica(SCHEDULER)
    yield second
    label = next(k for k, v in running.services.items() if v is second)
    running.services.pop(label).stop()


def complete(journey: Journey, review_id: str, **body: object) -> httpx.Response:
    headers = body.pop("headers", None) or journey.bearer(Role.CLINICIAN)
    assert isinstance(headers, dict)
    response: httpx.Response = journey.apis[SCHEDULER].post(
        f"/reviews/{review_id}/complete",
        json={"outcome": OUTCOME, "decision": "close", **body},
        headers=headers,
    )
    return response


def area_reviews(journey: Journey, status: str) -> list[dict[str, Any]]:
    response = journey.apis[SCHEDULER].get(
        f"/areas/{journey.area}/reviews",
        params={"status": status},
        headers=journey.bearer(Role.PROGRAMME_LEAD),
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def closed_as(journey: Journey, reason: str) -> bool:
    """Whether the scheduler has heard the referral closed for ``reason``."""
    rows = (
        journey.apis[SCHEDULER]
        .get(
            "/known-referrals",
            params={"area_id": journey.area},
            headers=journey.bearer(Role.PROGRAMME_LEAD),
        )
        .json()
    )
    return any(
        row["referral_id"] == journey.id and row["closed_reason"] == reason
        for row in rows
    )


def refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["message"] == message


def test_a_review_falls_due_and_overdue_once_with_two_schedulers_and_a_restart(
    running: Stack, journey: Journey, clock: FileClock, replica: ServiceProcess
) -> None:
    journey.to_action_plan(review_after_weeks=8)
    review = journey.review_in("scheduled")
    assert review["due_on"] == DUE.isoformat()

    running.restart_service(SCHEDULER, kill=True)
    clock.set(at(DUE))

    review = journey.review_in("due")
    clock.set(at(OVERDUE))
    journey.review_in("overdue")
    assert [row["review_id"] for row in area_reviews(journey, "overdue")] == [
        review["review_id"]
    ]
    completed = complete(journey, review["review_id"])
    assert completed.status_code == 200, completed.text
    events = eventually(
        lambda: (
            (found := journey.published())
            and of_type(found, "ReviewCompleted")
            and found
        )
    )
    assert len(of_type(events, "ReviewScheduled")) == 1
    assert len(of_type(events, "ReviewDue")) == 1
    [overdue] = of_type(events, "ReviewOverdueFlagged")
    assert overdue.data["flagged_on"] == OVERDUE.isoformat()
    assert overdue.data["working_days_overdue"] == 11
    [breach] = of_type(events, "ResponseTimeBreached")
    assert (breach.data["stage"], breach.data["target_working_days"]) == ("review", 10)


def test_a_completed_review_sets_the_outcome_beside_the_baseline(
    journey: Journey, clock: FileClock
) -> None:
    journey.to_action_plan(review_after_weeks=8)
    review_id = journey.review_in("scheduled")["review_id"]

    refused(
        complete(journey, review_id),
        f"Review {review_id} is not due until {DUE}; record it on or after "
        "that date, as the action plan agreed.",
    )
    clock.set(at(DUE))
    journey.review_in("due")
    completed = complete(journey, review_id, notes="Settled in class")

    assert completed.status_code == 200, completed.text
    view = completed.json()
    assert view["status"] == "completed"
    assert view["completed_on"] == DUE.isoformat()
    assert view["baseline"]["attendance_percent"] == 82.5
    assert view["outcome"]["attendance_percent"] == 93
    assert view["decision"] == "close"
    refused(
        complete(journey, review_id),
        f"Review {review_id} was already completed on {DUE}; a review is "
        "recorded once.",
    )


def test_further_support_brings_a_second_review_for_the_next_plan(
    journey: Journey, clock: FileClock
) -> None:
    journey.to_action_plan(review_after_weeks=8)
    first = journey.review_in("scheduled")["review_id"]
    clock.set(at(DUE))
    journey.review_in("due")
    assert complete(journey, first, decision="further-support").status_code == 200

    journey.today = DUE

    def next_plan_agreed() -> bool:
        response = journey.apis["assessment"].post(
            f"/assessments/{journey.id}/action-plan",
            json=journey.plan(review_after_weeks=6),
            headers=journey.bearer(Role.CLINICIAN),
        )
        # 409 until the assessment service has heard of the further support.
        assert response.status_code in (201, 409), response.text
        return bool(response.status_code == 201)

    eventually(next_plan_agreed)
    second = journey.review_in("scheduled")
    assert second["review_id"] != first
    assert second["due_on"] == "2027-04-19"


def test_only_a_clinician_of_the_area_completes_a_review(
    journey: Journey, tokens: Tokens
) -> None:
    journey.to_action_plan(review_after_weeks=6)
    review_id = journey.review_in("scheduled")["review_id"]
    lead = journey.bearer(Role.PROGRAMME_LEAD)
    elsewhere = tokens.bearer(Role.CLINICIAN, "another-area")

    assert complete(journey, review_id, headers=lead).status_code == 403
    assert complete(journey, review_id, headers=elsewhere).status_code == 403
    unknown = complete(journey, "00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404
    invalid = complete(
        journey, review_id, outcome={**OUTCOME, "attendance_percent": 140}
    )
    assert invalid.status_code == 422
    assert invalid.json()["fields"][0]["field"] == "outcome.attendance_percent"


def test_withdrawn_consent_cancels_the_review_and_nothing_falls_due(
    running: Stack, tokens: Tokens, area: str, journey: Journey, clock: FileClock
) -> None:
    journey.to_action_plan(review_after_weeks=8)
    review_id = journey.review_in("scheduled")["review_id"]
    kept = Journey(running, tokens, area, MONDAY.date())
    kept.to_action_plan(review_after_weeks=8)
    kept.review_in("scheduled")

    journey.consent("withdraw")
    journey.review_in("cancelled")
    clock.set(at(DUE))

    # The check that finds the kept review due would find the other one too.
    kept.review_in("due")
    events = journey.published()
    assert of_type(events, "ReviewDue") == []
    [cancelled] = of_type(events, "TimersCancelled")
    assert cancelled.data["timers"] == [f"review-due:{review_id}"]
    assert cancelled.data["reason"] == "consent-withdrawn"
    eventually(lambda: closed_as(journey, "consent-withdrawn"))
    refused(
        complete(journey, review_id),
        f"Referral {journey.id} was closed on {MONDAY.date()} (consent-withdrawn); "
        "its review can no longer be recorded.",
    )
    kept.close()
