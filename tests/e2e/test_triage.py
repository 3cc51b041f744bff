"""Triage end to end: screening, decisions, meetings, across the real processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from helpers import CRITERIA, Tokens, eventually, new_area, referral_body
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

Headers = dict[str, str]


@pytest.fixture(scope="module")
def referral_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def triage_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("triage"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def area(referral_api: httpx.Client, tokens: Tokens) -> str:
    return new_area(referral_api, tokens, "oak")


@pytest.fixture(scope="module")
def lead(tokens: Tokens, area: str) -> Headers:
    return tokens.bearer(Role.TRIAGE_LEAD, area, subject="lead@yjs.example")


@pytest.fixture(scope="module")
def referrer(tokens: Tokens, area: str) -> Headers:
    return tokens.bearer(Role.REFERRER, area, subject="teacher@oak.example")


@pytest.fixture
def refer(
    referral_api: httpx.Client, triage_api: httpx.Client, area: str, lead: Headers,
    referrer: Headers,
) -> Callable[..., str]:  # fmt: skip
    """Refers a child; returns the referral id once triage has screened it."""

    def send(**overrides: Any) -> str:
        body = referral_body(area, "oak", **{"criteria_met": CRITERIA, **overrides})
        received = referral_api.post("/referrals", json=body, headers=referrer)
        assert received.status_code == 201, received.text
        referral_id: str = received.json()["referral_id"]
        eventually(lambda: record(triage_api, referral_id, lead))
        return referral_id

    return send


def record(
    triage_api: httpx.Client, referral_id: str, headers: Headers
) -> dict[str, Any] | None:
    response = triage_api.get(f"/referrals/{referral_id}/triage", headers=headers)
    return response.json() if response.status_code == 200 else None


def referral_view(
    referral_api: httpx.Client, referral_id: str, headers: Headers
) -> dict[str, Any]:
    response = referral_api.get(f"/referrals/{referral_id}", headers=headers)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def test_a_referral_is_screened_and_queued_with_a_suggested_priority(
    triage_api: httpx.Client, area: str, lead: Headers, refer: Callable[..., str]
) -> None:
    referral_id = refer()

    screening = eventually(lambda: record(triage_api, referral_id, lead))["screening"]
    queue = triage_api.get(f"/areas/{area}/triage-queue", headers=lead).json()

    assert screening["meets_criteria"] is True
    assert screening["criteria_met"] == CRITERIA
    assert (screening["criteria_version"], screening["thresholds_version"]) == (1, 1)
    assert screening["suggested_priority"] == "urgent", "attendance 82.5% < 90%"
    [entry] = [e for e in queue if e["referral_id"] == referral_id]
    assert entry["suggested_priority"] == "urgent"
    assert entry["days_waiting"] == 0


def test_a_referral_recorded_late_is_screened_on_the_day_it_was_made(
    referral_api: httpx.Client, triage_api: httpx.Client, tokens: Tokens
) -> None:
    area = new_area(referral_api, tokens, "elm", effective_from="2025-01-06")
    made_on = date.today() - timedelta(days=10)
    body = referral_body(
        area, "elm", criteria_met=CRITERIA, referred_on=made_on.isoformat()
    )
    received = referral_api.post(
        "/referrals", json=body, headers=tokens.bearer(Role.REFERRER, area)
    )
    assert received.status_code == 201, received.text
    lead = tokens.bearer(Role.TRIAGE_LEAD, area)

    triaged = eventually(
        lambda: record(triage_api, received.json()["referral_id"], lead)
    )
    queue = triage_api.get(f"/areas/{area}/triage-queue", headers=lead).json()

    assert triaged["screening"]["screened_on"] == made_on.isoformat()
    assert queue[0]["days_waiting"] == 10


def test_a_referral_not_naming_the_criteria_is_screened_as_not_meeting_them(
    triage_api: httpx.Client, lead: Headers, refer: Callable[..., str]
) -> None:
    referral_id = refer(criteria_met=[])

    screening = eventually(lambda: record(triage_api, referral_id, lead))["screening"]

    assert screening["meets_criteria"] is False
    assert screening["criteria_not_met"] == CRITERIA
    assert screening["suggested_priority"] is None


def test_a_declined_referral_closes_and_the_referrer_reads_the_reason(
    referral_api: httpx.Client,
    triage_api: httpx.Client,
    lead: Headers,
    referrer: Headers,
    refer: Callable[..., str],
) -> None:
    referral_id = refer()
    decision = {"reason": "Needs are met by the school", "signposting": ["Early Help"]}

    declined = triage_api.post(
        f"/referrals/{referral_id}/triage/decline", json=decision, headers=lead
    )

    assert declined.status_code == 200, declined.text
    closed = eventually(
        lambda: (
            (v := referral_view(referral_api, referral_id, referrer))["closed_reason"]
            and v
        )
    )
    assert closed["closed_reason"] == "declined"
    assert closed["triage"]["reason"] == "Needs are met by the school"
    seen = record(triage_api, referral_id, referrer)
    assert seen is not None
    assert seen["decision"]["reason"] == "Needs are met by the school"
    assert seen["decision"]["signposting"] == ["Early Help"]


def test_a_decided_referral_cannot_be_decided_again(
    triage_api: httpx.Client, lead: Headers, refer: Callable[..., str]
) -> None:
    referral_id = refer()
    url = f"/referrals/{referral_id}/triage"
    accepted = triage_api.post(
        f"{url}/accept", json={"priority": "routine"}, headers=lead
    )
    assert accepted.status_code == 200, accepted.text

    again = triage_api.post(
        f"{url}/decline", json={"reason": "No", "signposting": ["GP"]}, headers=lead
    )

    assert again.status_code == 409
    today = accepted.json()["decision"]["decided_on"]
    assert again.json()["message"] == (
        f"Triage already accepted this referral on {today}; a triage decision "
        "cannot be changed."
    )


def test_more_information_then_answers_then_acceptance(
    referral_api: httpx.Client,
    triage_api: httpx.Client,
    lead: Headers,
    referrer: Headers,
    refer: Callable[..., str],
) -> None:
    referral_id = refer()
    questions = {"questions": ["Has the child had a hearing test?"]}

    asked = triage_api.post(
        f"/referrals/{referral_id}/triage/more-information", json=questions,
        headers=lead,
    )  # fmt: skip
    assert asked.status_code == 200, asked.text
    eventually(
        lambda: (
            referral_view(referral_api, referral_id, referrer)["triage"]["status"]
            == "more-information"
        )
    )
    answers = {"answers": ["Yes, clear in May"], "concerns_added": ["Low mood"]}
    answered = referral_api.post(
        f"/referrals/{referral_id}/more-information", json=answers, headers=referrer
    )
    assert answered.status_code == 200, answered.text

    back = eventually(
        lambda: (
            (r := record(triage_api, referral_id, lead))
            and r["status"] == "awaiting-decision"
            and r
        )
    )
    [request] = back["information_requests"]
    assert request["questions"] == questions["questions"]
    assert request["answers"] == ["Yes, clear in May"]
    assert request["concerns_added"] == ["Low mood"]
    accepted = triage_api.post(
        f"/referrals/{referral_id}/triage/accept", json={"priority": "urgent"},
        headers=lead,
    )  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    view = eventually(
        lambda: (
            (v := referral_view(referral_api, referral_id, referrer))["triage"][
                "status"
            ]
            == "accepted"
            and v
        )
    )
    assert view["triage"]["priority"] == "urgent"
    assert "Low mood" in view["concerns"]


def test_a_second_request_while_waiting_for_answers_is_refused(
    triage_api: httpx.Client, lead: Headers, refer: Callable[..., str]
) -> None:
    referral_id = refer()
    url = f"/referrals/{referral_id}/triage/more-information"
    first = triage_api.post(url, json={"questions": ["Hearing?"]}, headers=lead)
    assert first.status_code == 200

    second = triage_api.post(url, json={"questions": ["Vision?"]}, headers=lead)

    assert second.status_code == 409
    asked_on = first.json()["information_requests"][0]["requested_on"]
    assert second.json()["message"] == (
        f"Triage already asked the referrer for more information on {asked_on} and "
        "is waiting for the answers; decide the referral or wait."
    )


def test_a_triage_meeting_decides_two_referrals(
    triage_api: httpx.Client, area: str, lead: Headers, refer: Callable[..., str]
) -> None:
    urgent, declined = refer(), refer()
    meeting = {
        "held_on": date.today().isoformat(),
        "chair_name": "Jo Chair",
        "attendees": [
            {"name": "Jo Chair", "role": "triage-lead"},
            {"name": "Sam Therapist", "role": "slt-clinician"},
        ],
        "decisions": [
            {"referral_id": urgent, "outcome": "accept", "priority": "urgent"},
            {
                "referral_id": declined,
                "outcome": "decline",
                "reason": "Already supported by CAMHS",
                "signposting": ["CAMHS"],
            },
        ],
    }

    held = triage_api.post(f"/areas/{area}/triage-meetings", json=meeting, headers=lead)

    assert held.status_code == 201, held.text
    meeting_id = held.json()["meeting_id"]
    assert held.json()["referral_ids"] == [urgent, declined]
    assert held.json()["attendees"][1] == {
        "name": "Sam Therapist",
        "role": "slt-clinician",
    }
    first = record(triage_api, urgent, lead)
    second = record(triage_api, declined, lead)
    assert first
    assert first["decision"]["outcome"] == "accepted"
    assert second
    assert second["decision"]["outcome"] == "declined"
    assert first["decision"]["meeting_id"] == second["decision"]["meeting_id"]
    assert first["decision"]["meeting_id"] == meeting_id
    listed = triage_api.get(f"/areas/{area}/triage-meetings", headers=lead).json()
    assert meeting_id in [m["meeting_id"] for m in listed]


def test_a_meeting_with_one_invalid_decision_records_nothing(
    triage_api: httpx.Client, area: str, lead: Headers, refer: Callable[..., str]
) -> None:
    waiting, decided = refer(), refer()
    triage_api.post(
        f"/referrals/{decided}/triage/accept", json={"priority": "routine"},
        headers=lead,
    )  # fmt: skip
    meeting = {
        "held_on": date.today().isoformat(),
        "attendees": [{"name": "Jo Chair", "role": "triage-lead"}],
        "decisions": [
            {"referral_id": waiting, "outcome": "accept", "priority": "urgent"},
            {"referral_id": decided, "outcome": "accept", "priority": "urgent"},
        ],
    }
    before = triage_api.get(f"/areas/{area}/triage-meetings", headers=lead).json()

    refused = triage_api.post(
        f"/areas/{area}/triage-meetings", json=meeting, headers=lead
    )

    assert refused.status_code == 409
    today = date.today().isoformat()
    assert refused.json()["message"] == (
        f"Referral {decided}: Triage already accepted this referral on {today}; a "
        "triage decision cannot be changed. Nothing from this meeting was recorded."
    )
    untouched = record(triage_api, waiting, lead)
    assert untouched
    assert untouched["status"] == "awaiting-decision"
    after = triage_api.get(f"/areas/{area}/triage-meetings", headers=lead).json()
    assert after == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m, r: m["decisions"].append(dict(m["decisions"][0])),
            "Referral {r} is decided twice in this meeting; record one decision "
            "per referral.",
        ),
        (
            lambda m, r: m["decisions"][0].update(referral_id=str(uuid.UUID(int=7))),
            f"Referral {uuid.UUID(int=7)} is not known to triage in area '{{a}}'; "
            "nothing from this meeting was recorded. Check the referral ids.",
        ),
        (
            lambda m, r: m.update(held_on=(date.today() + timedelta(1)).isoformat()),
            "A triage decision cannot be dated in the future ({tomorrow}); record it "
            "on the day it is made.",
        ),
    ],
    ids=["twice", "unknown", "future"],
)
def test_a_meeting_that_breaks_a_rule_is_refused_with_a_reason(
    triage_api: httpx.Client,
    area: str,
    lead: Headers,
    refer: Callable[..., str],
    change: Callable[[dict[str, Any], str], None],
    message: str,
) -> None:
    referral_id = refer()
    meeting: dict[str, Any] = {
        "held_on": date.today().isoformat(),
        "attendees": [{"name": "Jo Chair", "role": "triage-lead"}],
        "decisions": [
            {"referral_id": referral_id, "outcome": "accept", "priority": "urgent"}
        ],
    }
    change(meeting, referral_id)

    refused = triage_api.post(
        f"/areas/{area}/triage-meetings", json=meeting, headers=lead
    )

    assert refused.status_code == 409
    tomorrow = (date.today() + timedelta(1)).isoformat()
    assert refused.json()["message"] == message.format(
        r=referral_id, a=area, tomorrow=tomorrow
    )


def test_another_areas_triage_lead_and_a_referrer_cannot_decide(
    triage_api: httpx.Client,
    area: str,
    tokens: Tokens,
    referrer: Headers,
    refer: Callable[..., str],
) -> None:
    referral_id = refer()
    outsider = tokens.bearer(Role.TRIAGE_LEAD, "another-area")
    url = f"/referrals/{referral_id}/triage"

    responses = [
        triage_api.post(f"{url}/accept", json={"priority": "urgent"}, headers=outsider),
        triage_api.get(url, headers=outsider),
        triage_api.get(f"/areas/{area}/triage-queue", headers=outsider),
        triage_api.post(f"{url}/accept", json={"priority": "urgent"}, headers=referrer),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert area in responses[0].json()["message"]
    assert "'referrer' cannot do this" in responses[3].json()["message"]


def test_an_unknown_referral_is_not_found_and_bad_input_names_the_field(
    triage_api: httpx.Client, lead: Headers, refer: Callable[..., str]
) -> None:
    unknown = triage_api.post(
        f"/referrals/{uuid.uuid4()}/triage/accept", json={"priority": "urgent"},
        headers=lead,
    )  # fmt: skip
    invalid = triage_api.post(
        f"/referrals/{refer()}/triage/decline",
        json={"reason": "", "signposting": []},
        headers=lead,
    )

    assert unknown.status_code == 404
    assert invalid.status_code == 422
    assert {f["field"] for f in invalid.json()["fields"]} == {"reason", "signposting"}
