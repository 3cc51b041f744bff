"""Assessment, report, feedback meeting and action plan across real processes.

A referral reaches the SLT clinicians through the referral service (received,
consent) and the triage service (accepted); the assessment service then books,
completes and reports on the assessment, records the feedback meeting and
agrees the action plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from helpers import Tokens, eventually, new_area, referral_body
from prre_runtime.identity import Role
from prre_runtime.stack import Stack, with_database

pytestmark = pytest.mark.slow

PEOPLE = [
    {"role": "setting-lead", "name": "Sam Settinglead"},
    {"role": "parent-carer", "name": "Pat Parentcarer"},
    {"role": "yjs-worker", "name": "Yan Worker"},
]
ACTIONS = [
    {
        "description": "Break instructions into single steps",
        "owner_role": "setting-lead",
        "due_on": (date.today() + timedelta(days=30)).isoformat(),
    }
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
    return new_area(apis["referral"], tokens, "elm")


@pytest.fixture(scope="module")
def slt(tokens: Tokens, area: str) -> dict[str, str]:
    return tokens.bearer(Role.CLINICIAN, area, subject="slt@elm.example")


class Case:
    """Moves one referral along the pathway through the services' APIs."""

    def __init__(self, apis: dict[str, httpx.Client], tokens: Tokens, area: str):
        self.apis, self.tokens, self.area = apis, tokens, area
        referrer = tokens.bearer(Role.REFERRER, area)
        received = apis["referral"].post(
            "/referrals", json=referral_body(area, "elm"), headers=referrer
        )
        assert received.status_code == 201, received.text
        self.id: str = received.json()["referral_id"]

    def consent(self, decision: str = "confirm") -> None:
        referrer = self.tokens.bearer(Role.REFERRER, self.area)
        response = self.apis["referral"].post(
            f"/referrals/{self.id}/consent/{decision}",
            json={"by": "parent"},
            headers=referrer,
        )
        assert response.status_code == 200, response.text

    def accept(self, priority: str = "routine") -> None:
        # The shared referral directory drops an acceptance that overtakes the
        # referral's arrival (two topics), so wait until the service knows it.
        self.known(lambda row: True)
        lead = self.tokens.bearer(Role.TRIAGE_LEAD, self.area)

        def accepted() -> bool:
            response = self.apis["triage"].post(
                f"/referrals/{self.id}/triage/accept",
                json={"priority": priority},
                headers=lead,
            )
            # 404 or 409 until triage has heard of the referral and screened it.
            assert response.status_code in (200, 404, 409), response.text
            return response.status_code == 200

        eventually(accepted)

    def known(self, check: Callable[[dict[str, Any]], bool]) -> None:
        """Wait until the assessment service's directory entry passes ``check``."""
        lead = self.tokens.bearer(Role.PROGRAMME_LEAD, self.area)

        def entry() -> bool:
            rows = (
                self.apis["assessment"]
                .get("/known-referrals", params={"area_id": self.area}, headers=lead)
                .json()
            )
            return any(row["referral_id"] == self.id and check(row) for row in rows)

        eventually(entry)

    def ready(self) -> Case:
        """Accepted and consented, as the assessment service knows it."""
        self.consent()
        self.accept()
        self.known(
            lambda row: (row["triage"], row["consent"]) == ("accepted", "confirmed")
        )
        return self

    def post(self, step: str, body: dict[str, Any], **auth: Any) -> httpx.Response:
        headers = auth.get("headers") or self.tokens.bearer(Role.CLINICIAN, self.area)
        return self.apis["assessment"].post(
            f"/assessments/{self.id}/{step}", json=body, headers=headers
        )


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def booking(days: int = 7) -> dict[str, Any]:
    return {
        "scheduled_for": in_days(days),
        "clinician_name": "Jo Therapist",
        "location": "Elm School, room 4",
    }


def refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 409, response.text
    assert message in response.json()["message"]


def queue(case: Case, slt: dict[str, str]) -> list[dict[str, Any]]:
    response = case.apis["assessment"].get(
        f"/areas/{case.area}/assessment-queue", headers=slt
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def queued(case: Case, slt: dict[str, str]) -> dict[str, Any] | None:
    return next(
        (row for row in queue(case, slt) if row["referral_id"] == case.id), None
    )


@pytest.mark.parametrize("acceptance_first", [True, False])
def test_a_referral_joins_the_queue_once_accepted_and_consented(
    apis: dict[str, httpx.Client],
    tokens: Tokens,
    area: str,
    slt: dict[str, str],
    acceptance_first: bool,
) -> None:
    case = Case(apis, tokens, area)
    first, second = (case.accept, case.consent) if acceptance_first else (
        case.consent, case.accept,
    )  # fmt: skip

    first()
    case.known(lambda row: "accepted" in row["triage"] or row["consent"] == "confirmed")
    assert queued(case, slt) is None, "only half of the consent gate is passed"
    second()
    row = eventually(lambda: queued(case, slt))
    assert row["next_step"] == "schedule"
    assert row["priority"] == "routine"


def test_urgent_referrals_come_first_in_the_queue(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str, slt: dict[str, str]
) -> None:
    routine = Case(apis, tokens, area).ready()
    urgent = Case(apis, tokens, area)
    urgent.consent()
    urgent.accept("urgent")

    eventually(lambda: queued(urgent, slt))
    order = [row["referral_id"] for row in queue(routine, slt)]
    assert order.index(urgent.id) < order.index(routine.id)


def test_booking_is_refused_before_consent_and_before_acceptance(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> None:
    unconsented, unaccepted = Case(apis, tokens, area), Case(apis, tokens, area)
    unconsented.accept()
    unconsented.known(lambda row: row["triage"] == "accepted")
    unaccepted.consent()
    unaccepted.known(lambda row: row["consent"] == "confirmed")

    refused(
        unconsented.post("schedule", booking()),
        "Consent has not been confirmed for this referral; the assessment can be "
        "scheduled once",
    )
    refused(
        unaccepted.post("schedule", booking()),
        "Triage has not accepted this referral",
    )


def test_one_referral_from_booking_to_action_plan(
    apis: dict[str, httpx.Client],
    tokens: Tokens,
    area: str,
    slt: dict[str, str],
    running: Stack,
) -> None:
    case = Case(apis, tokens, area).ready()

    # Nothing can be done before the assessment is booked.
    refused(case.post("complete", {}), "No assessment has been scheduled")

    # Booked; the queue shows it waits for its date; a second booking is refused.
    assert case.post("schedule", booking()).status_code == 201
    refused(case.post("schedule", booking()), "reschedule it instead")
    row = eventually(lambda: _step(case, slt, "awaiting-date"))
    assert row["scheduled_for"] == in_days(7)

    # The child misses it; it is rescheduled, then completed.
    assert case.post("non-attendance", {"reason": "Unwell"}).status_code == 200
    refused(case.post("complete", {}), "The child did not attend")
    refused(_report(case, "v1"), "The assessment has not been completed yet")
    moved = case.post("reschedule", {"scheduled_for": in_days(0), "reason": "Unwell"})
    assert moved.status_code == 200, moved.text
    eventually(lambda: _step(case, slt, "complete"))
    done = case.post(
        "complete", {"communication_needs": ["Understanding spoken instructions"]}
    )
    assert done.status_code == 200, done.text

    # Feedback and plan wait for the report; the report is issued and amended.
    refused(
        case.post("feedback-meeting", {"held_on": in_days(0), "attendees": PEOPLE}),
        "No report has been issued yet",
    )
    eventually(lambda: _step(case, slt, "report"))
    assert _report(case, "Findings: first version.").status_code == 201
    eventually(lambda: _step(case, slt, "feedback"))
    refused(_report(case, "again"), "amend it to issue a new version")
    amended = case.post(
        "report/amendments",
        {"text": "Findings: second version.", "reason": "Added advice",
         "shared_with": PEOPLE},
    )  # fmt: skip
    assert amended.status_code == 201, amended.text

    # Both versions download; the text is encrypted in the event store.
    first, second = _download(case, slt, 1), _download(case, slt, 2)
    assert "Findings: first version." in first.text
    assert "Findings: second version." in second.text
    assert "attachment" in second.headers["content-disposition"]
    assert second.headers["content-type"].startswith("text/markdown")
    raw = _raw_events(running)
    assert raw, "the assessment service stored events"
    for secret in (b"Findings", b"Pat Parentcarer"):
        assert not any(secret in state for state in raw)

    # The plan waits for the meeting; its review must fall in 6 to 12 weeks.
    plan = {"actions": ACTIONS, "review_required": True, "review_after_weeks": 14}
    refused(
        case.post("action-plan", {**plan, "review_after_weeks": 8}),
        "No feedback meeting has been recorded yet",
    )
    meeting = case.post(
        "feedback-meeting", {"held_on": in_days(0), "attendees": PEOPLE}
    )
    assert meeting.status_code == 201, meeting.text
    eventually(lambda: _step(case, slt, "plan"))
    refused(
        case.post("action-plan", plan),
        "A follow-up review must be between 6 and 12 weeks after the feedback "
        "meeting; 14 weeks is outside that window.",
    )
    agreed = case.post("action-plan", {**plan, "review_after_weeks": 8})
    assert agreed.status_code == 201, agreed.text
    refused(
        case.post("action-plan", {**plan, "review_after_weeks": 8}),
        "An action plan has already been agreed",
    )

    # The record holds the whole story; the case leaves the queue.
    record = apis["assessment"].get(f"/assessments/{case.id}", headers=slt).json()
    assert [entry["what"] for entry in record["history"]] == [
        "scheduled", "not-attended", "rescheduled", "completed",
    ]  # fmt: skip
    assert [report["version"] for report in record["reports"]] == [1, 2]
    assert record["feedback_meetings"][0]["report_version"] == 2
    assert record["action_plans"][0]["review_after_weeks"] == 8
    eventually(lambda: queued(case, slt) is None)


def test_only_clinicians_and_programme_leads_of_the_area_read_the_report(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str, slt: dict[str, str]
) -> None:
    case = _reported_case(apis, tokens, area)
    lead = tokens.bearer(Role.PROGRAMME_LEAD, area)
    outsiders = [
        tokens.bearer(Role.CLINICIAN, "another-area"),
        tokens.bearer(Role.REFERRER, area),
        tokens.bearer(Role.GOVERNANCE, area),
    ]

    assert _download(case, lead, 1).status_code == 200
    assert _download(case, lead, 2).status_code == 404
    for headers in outsiders:
        response = _download(case, headers, 1)
        assert response.status_code == 403, response.text
    other_area = _download(case, outsiders[0], 1).json()["message"]
    assert area in other_area


def test_steps_taken_out_of_turn_are_refused_with_what_to_do(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> None:
    booked = Case(apis, tokens, area).ready()
    assert booked.post("schedule", booking()).status_code == 201
    done = _reported_case(apis, tokens, area)
    meeting = {"held_on": in_days(0), "attendees": PEOPLE}
    plan = {"actions": ACTIONS, "review_required": True}

    refused(
        booked.post("report/amendments", {"text": "x", "reason": "y",
                                          "shared_with": PEOPLE}),
        "No report has been issued yet; issue the assessment report before it "
        "can be amended.",
    )  # fmt: skip
    refused(
        done.post("reschedule", {"scheduled_for": in_days(3)}),
        "The assessment has already been completed, so it cannot be rescheduled.",
    )
    refused(
        done.post("non-attendance", {}),
        "The assessment was already completed, so it cannot be recorded as not "
        "attended.",
    )
    refused(
        done.post("complete", {}),
        "The assessment was already completed, so it cannot be recorded as completed.",
    )
    assert done.post("feedback-meeting", meeting).status_code == 201
    refused(
        done.post("action-plan", plan),
        "A follow-up review is required, so say after how many weeks",
    )
    refused(
        done.post(
            "action-plan",
            {**plan, "review_required": False, "review_after_weeks": 8},
        ),
        "No follow-up review is required, so leave out review_after_weeks",
    )
    zero_weeks = done.post("action-plan", {**plan, "review_after_weeks": 0})
    assert zero_weeks.status_code == 422
    assert zero_weeks.json()["fields"][0]["field"] == "review_after_weeks"


def test_consent_withdrawn_after_booking_cancels_the_assessment(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str, slt: dict[str, str]
) -> None:
    case = Case(apis, tokens, area).ready()
    assert case.post("schedule", booking()).status_code == 201

    case.consent("withdraw")

    def cancelled() -> dict[str, Any] | None:
        record: dict[str, Any] = (
            apis["assessment"].get(f"/assessments/{case.id}", headers=slt).json()
        )
        return record if record["status"] == "cancelled" else None

    record = eventually(cancelled)
    assert record["history"][-1]["reason"] == "consent-withdrawn"
    refused(case.post("complete", {}), "This referral is closed (consent-withdrawn)")
    assert queued(case, slt) is None


def test_two_clinicians_booking_at_once_cannot_both_win(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str, running: Stack
) -> None:
    case = Case(apis, tokens, area).ready()
    url = f"{running.url('assessment')}/assessments/{case.id}/schedule"

    def book(clinician: str) -> httpx.Response:
        headers = tokens.bearer(Role.CLINICIAN, area, subject=clinician)
        body = {**booking(), "clinician_name": clinician}
        return httpx.post(url, json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(book, ["jo@elm.example", "kim@elm.example"]))

    assert sorted(r.status_code for r in responses) == [201, 409]
    record = (
        apis["assessment"]
        .get(f"/assessments/{case.id}", headers=tokens.bearer(Role.CLINICIAN, area))
        .json()
    )
    assert [entry["what"] for entry in record["history"]] == ["scheduled"]


def test_an_unknown_referral_is_not_found_and_bad_input_names_the_field(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str, slt: dict[str, str]
) -> None:
    unknown = apis["assessment"].post(
        f"/assessments/{uuid.uuid4()}/schedule", json=booking(), headers=slt
    )
    case = Case(apis, tokens, area).ready()
    invalid = case.post("schedule", {"scheduled_for": "soon"})

    assert unknown.status_code == 404
    assert invalid.status_code == 422
    fields = {item["field"] for item in invalid.json()["fields"]}
    assert fields == {"scheduled_for", "clinician_name"}


def _step(case: Case, slt: dict[str, str], step: str) -> dict[str, Any] | None:
    row = queued(case, slt)
    return row if row and row["next_step"] == step else None


def _report(case: Case, text: str) -> httpx.Response:
    body = {"text": text, "shared_with": PEOPLE, "author_name": "Jo Therapist"}
    return case.post("report", body)


def _reported_case(apis: dict[str, httpx.Client], tokens: Tokens, area: str) -> Case:
    case = Case(apis, tokens, area).ready()
    for step, body in (
        ("schedule", booking(0)),
        ("complete", {"communication_needs": []}),
    ):
        assert case.post(step, body).status_code in (200, 201)
    assert _report(case, "Findings for the area only.").status_code == 201
    return case


def _download(case: Case, headers: dict[str, str], version: int) -> httpx.Response:
    return case.apis["assessment"].get(
        f"/assessments/{case.id}/report/versions/{version}", headers=headers
    )


def _raw_events(running: Stack) -> list[bytes]:
    url = with_database(running.database_server_url, "prre_assessment")
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT state FROM assessment_events").fetchall()
    return [bytes(row[0]) for row in rows]
