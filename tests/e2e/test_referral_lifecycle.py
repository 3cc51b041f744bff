"""The referral service's side of the pathway: answers, withdrawal, closure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from e2e.review_journey import Journey
from helpers import CRITERIA, Tokens, eventually, new_area, referral_body
from prre_runtime.clock import FileClock
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

Headers = dict[str, str]
NOT_ASKED = (
    "Triage has not asked for more information on this referral, or its "
    "questions are already answered; wait for triage's request."
)
PEOPLE = [
    {"role": "setting-lead", "name": "Sam Settinglead"},
    {"role": "parent-carer", "name": "Pat Parentcarer"},
]


@pytest.fixture(scope="module")
def apis(running: Stack) -> Iterator[dict[str, httpx.Client]]:
    names = ("referral", "triage", "assessment")
    clients = {n: httpx.Client(base_url=running.url(n), timeout=30) for n in names}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def area(apis: dict[str, httpx.Client], tokens: Tokens) -> str:
    return new_area(apis["referral"], tokens, "oak")


@pytest.fixture(scope="module")
def referrer(tokens: Tokens, area: str) -> Headers:
    return tokens.bearer(Role.REFERRER, area, subject="teacher@oak.example")


@pytest.fixture
def referral_id(apis: dict[str, httpx.Client], area: str, referrer: Headers) -> str:
    body = referral_body(area, "oak", criteria_met=CRITERIA)
    received = apis["referral"].post("/referrals", json=body, headers=referrer)
    assert received.status_code == 201, received.text
    return str(received.json()["referral_id"])


def view(apis: dict[str, httpx.Client], referral_id: str, who: Headers) -> Any:
    return apis["referral"].get(f"/referrals/{referral_id}", headers=who).json()


def test_a_withdrawn_referral_closes_and_triage_can_no_longer_decide_it(
    apis: dict[str, httpx.Client],
    tokens: Tokens,
    area: str,
    referrer: Headers,
    referral_id: str,
) -> None:
    url = f"/referrals/{referral_id}/withdraw"

    withdrawn = apis["referral"].post(url, json={"reason": "Moved"}, headers=referrer)
    again = apis["referral"].post(url, json={}, headers=referrer)

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["closed_reason"] == "withdrawn-by-referrer"
    assert again.status_code == 409
    assert again.json()["message"] == (
        "This referral is closed (withdrawn-by-referrer); nothing more can be "
        "recorded on it. Make a new referral if the child needs support again."
    )
    lead = tokens.bearer(Role.TRIAGE_LEAD, area)

    def triage_knows_it_closed() -> bool:
        rows = (
            apis["triage"]
            .get("/known-referrals", params={"area_id": area}, headers=lead)
            .json()
        )
        return any(r["referral_id"] == referral_id and r["closed_reason"] for r in rows)

    eventually(triage_knows_it_closed)
    refused = apis["triage"].post(
        f"/referrals/{referral_id}/triage/accept",
        json={"priority": "routine"},
        headers=lead,
    )
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        f"Referral {referral_id} is closed (withdrawn-by-referrer); triage "
        "decisions can no longer be recorded on it."
    )


def test_answers_are_refused_unless_triage_asked_and_only_once(
    apis: dict[str, httpx.Client],
    tokens: Tokens,
    area: str,
    referrer: Headers,
    referral_id: str,
) -> None:
    url = f"/referrals/{referral_id}/more-information"
    answers = {"answers": ["Yes"]}

    early = apis["referral"].post(url, json=answers, headers=referrer)
    lead = tokens.bearer(Role.TRIAGE_LEAD, area)
    eventually(
        lambda: (
            apis["triage"]
            .post(
                f"/referrals/{referral_id}/triage/more-information",
                json={"questions": ["Any hearing test?"]},
                headers=lead,
            )
            .status_code
            == 200
        )
    )
    eventually(
        lambda: (
            view(apis, referral_id, referrer)["triage"]["status"] == "more-information"
        )
    )
    first = apis["referral"].post(url, json=answers, headers=referrer)
    second = apis["referral"].post(url, json=answers, headers=referrer)

    assert early.status_code == 409
    assert early.json()["message"] == NOT_ASKED
    assert first.status_code == 200, first.text
    assert first.json()["triage"]["questions"] == ["Any hearing test?"]
    assert second.status_code == 409
    assert second.json()["message"] == NOT_ASKED


def test_a_referral_naming_criteria_the_area_does_not_have_is_refused(
    apis: dict[str, httpx.Client], area: str, referrer: Headers
) -> None:
    body = referral_body(area, "oak", criteria_met=["Lives nearby"])

    response = apis["referral"].post("/referrals", json=body, headers=referrer)

    assert response.status_code == 409
    assert response.json()["message"] == (
        "The referral names criteria that are not in version 1 of the area's "
        "referral criteria: Lives nearby. Quote the criteria as the area wrote them."
    )


def test_an_action_plan_needing_no_review_completes_the_case(
    apis: dict[str, httpx.Client],
    tokens: Tokens,
    area: str,
    referrer: Headers,
    referral_id: str,
) -> None:
    lead = tokens.bearer(Role.TRIAGE_LEAD, area)
    slt = tokens.bearer(Role.CLINICIAN, area)
    consent = apis["referral"].post(
        f"/referrals/{referral_id}/consent/confirm",
        json={"by": "parent"},
        headers=referrer,
    )
    assert consent.status_code == 200, consent.text
    eventually(
        lambda: (
            apis["triage"]
            .post(
                f"/referrals/{referral_id}/triage/accept",
                json={"priority": "routine"},
                headers=lead,
            )
            .status_code
            == 200
        )
    )
    today = date.today().isoformat()

    def post(step: str, body: dict[str, Any]) -> httpx.Response:
        return apis["assessment"].post(
            f"/assessments/{referral_id}/{step}", json=body, headers=slt
        )

    booking = {"scheduled_for": today, "clinician_name": "Jo Therapist"}

    def booked() -> bool:
        # 409 until the assessment service knows the case accepted and consented.
        response = post("schedule", booking)
        assert response.status_code in (201, 409), response.text
        return response.status_code == 201

    eventually(booked)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("complete", {"communication_needs": ["Word finding"]}),
        ("report", {"text": "Findings.", "shared_with": PEOPLE, "author_name": "Jo"}),
        ("feedback-meeting", {"held_on": today, "attendees": PEOPLE}),
        (
            "action-plan",
            {
                "actions": [
                    {
                        "description": "Visual timetable",
                        "owner_role": "setting-lead",
                        "due_on": (date.today() + timedelta(30)).isoformat(),
                    }
                ],
                "review_required": False,
            },
        ),
    ]
    for step, body in steps:
        response = post(step, body)
        assert response.status_code in (200, 201), f"{step}: {response.text}"

    closed = eventually(
        lambda: (v := view(apis, referral_id, referrer))["closed_reason"] and v
    )
    assert closed["closed_reason"] == "completed"
    assert closed["closed_on"] == today
    assert closed["triage"]["status"] == "accepted"


MONDAY = datetime(2027, 1, 11, 9, tzinfo=UTC)
REVIEW_DUE = datetime(2027, 3, 8, 9, tzinfo=UTC)  # eight weeks after the meeting


def test_a_review_that_re_refers_closes_the_case_and_the_child_is_referred_again(
    running: Stack, tokens: Tokens, clock: FileClock
) -> None:
    clock.set(MONDAY)
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        area = new_area(client, tokens)
    journey = Journey(running, tokens, area, MONDAY.date())
    try:
        re_refer(journey, clock)
    finally:
        journey.close()


def re_refer(journey: Journey, clock: FileClock) -> None:
    """Take the journey's referral to a review that re-refers the child."""
    area = journey.area
    referrer = journey.bearer(Role.REFERRER)
    first_view = view(journey.apis, journey.id, referrer)
    journey.to_action_plan(review_after_weeks=8)
    review_id = journey.review_in("scheduled")["review_id"]
    clock.set(REVIEW_DUE)
    journey.review_in("due")

    completed = journey.apis["review-scheduler"].post(
        f"/reviews/{review_id}/complete",
        json={"outcome": first_view["baseline"], "decision": "re-refer"},
        headers=journey.bearer(Role.CLINICIAN),
    )

    assert completed.status_code == 200, completed.text
    closed = eventually(
        lambda: (v := view(journey.apis, journey.id, referrer))["closed_reason"] and v
    )
    assert closed["closed_reason"] == "re-referred"
    assert closed["closed_on"] == REVIEW_DUE.date().isoformat()
    again = journey.apis["referral"].post(
        "/referrals", json=referral_body(area, "pilot-school"), headers=referrer
    )
    assert again.status_code == 201, again.text
    assert again.json()["child_ref"] == first_view["child_ref"]
    assert again.json()["stage"] == "open"
