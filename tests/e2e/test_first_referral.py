"""The first slice end to end, across the five real service processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from conftest import SPANS
from helpers import Tokens, eventually, new_area, referral_body
from prre_contracts import event_id_for
from prre_runtime.identity import Role
from prre_runtime.stack import Stack, with_database
from prre_runtime.tracing import span_log_records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def referral_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def projections_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("projections"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def area(referral_api: httpx.Client, tokens: Tokens) -> str:
    return new_area(referral_api, tokens, "oak")


@pytest.fixture(scope="module")
def consented_case(
    referral_api: httpx.Client, tokens: Tokens, area: str
) -> dict[str, Any]:
    referrer = tokens.bearer(Role.REFERRER, area, subject="referrer@oak.example")
    received = referral_api.post(
        "/referrals", json=referral_body(area, "oak"), headers=referrer
    )
    assert received.status_code == 201, received.text
    case: dict[str, Any] = received.json()
    consent = {"by": "parent", "on": case["referred_on"]}
    confirmed = referral_api.post(
        f"/referrals/{case['referral_id']}/consent/confirm",
        json=consent,
        headers=referrer,
    )
    assert confirmed.status_code == 200, confirmed.text
    return case


def test_a_consented_referral_appears_in_the_caseload(
    projections_api: httpx.Client,
    tokens: Tokens,
    area: str,
    consented_case: dict[str, Any],
) -> None:
    lead = tokens.bearer(Role.TRIAGE_LEAD, area)
    url = f"/caseload/{consented_case['referral_id']}"

    def confirmed_row() -> dict[str, Any] | None:
        response = projections_api.get(url, headers=lead)
        row: dict[str, Any] = response.json()
        return (
            row
            if response.status_code == 200 and row["consent"] == "confirmed"
            else None
        )

    row = eventually(confirmed_row)
    assert row["area_id"] == area
    assert row["setting_id"] == "oak"
    assert row["stage"] == "awaiting-triage"
    assert row["child_ref"] == consented_case["child_ref"]
    assert row["received_on"] == consented_case["referred_on"]


def test_the_audit_trail_records_each_event_with_its_actor(
    projections_api: httpx.Client,
    tokens: Tokens,
    area: str,
    consented_case: dict[str, Any],
) -> None:
    governance = tokens.bearer(Role.GOVERNANCE, area)
    query = {"referral_id": consented_case["referral_id"]}

    def both_events() -> list[dict[str, Any]] | None:
        trail = projections_api.get("/audit", params=query, headers=governance)
        # Triage's screening of the referral is on the trail too; keep the
        # referral service's own events.
        rows = [row for row in trail.json() if row["source"] == "referral"]
        return rows if len(rows) == 2 else None

    rows = eventually(both_events)
    assert [row["event_type"] for row in rows] == [
        "ReferralReceived",
        "ConsentConfirmed",
    ]
    assert {row["actor_subject"] for row in rows} == {"referrer@oak.example"}
    assert "Alex" not in str(rows), "the child's name never leaves the referral service"


def test_one_trace_connects_the_referral_request_and_the_projection(
    projections_api: httpx.Client,
    tokens: Tokens,
    area: str,
    consented_case: dict[str, Any],
) -> None:
    test_a_consented_referral_appears_in_the_caseload(
        projections_api, tokens, area, consented_case
    )
    received_id = str(
        event_id_for("referral", uuid.UUID(consented_case["referral_id"]), 1)
    )

    def projection_span() -> dict[str, Any] | None:
        for span in span_log_records(SPANS / "projections.jsonl"):
            if span["attributes"].get("messaging.message.id") == received_id:
                return span
        return None

    trace_id = eventually(projection_span)["context"]["trace_id"]
    referral_spans = span_log_records(SPANS / "referral.jsonl")
    names = {
        span["name"]
        for span in referral_spans
        if span["context"]["trace_id"] == trace_id
    }
    assert "POST /referrals" in names, f"referral service spans in the trace: {names}"
    assert "publish prre.referral.v1" in names


def test_a_token_for_another_area_is_refused(
    referral_api: httpx.Client,
    projections_api: httpx.Client,
    tokens: Tokens,
    area: str,
    consented_case: dict[str, Any],
) -> None:
    outsider = tokens.bearer(Role.REFERRER, "some-other-area")
    referral_id = consented_case["referral_id"]

    refer = referral_api.post(
        "/referrals", json=referral_body(area, "oak"), headers=outsider
    )
    read = referral_api.get(f"/referrals/{referral_id}", headers=outsider)
    case = projections_api.get(f"/caseload/{referral_id}", headers=outsider)
    listing = projections_api.get(
        "/caseload", params={"area_id": area}, headers=outsider
    )

    for response in (refer, read, case, listing):
        assert response.status_code == 403, response.text
        assert area in response.json()["message"]
    own = projections_api.get("/caseload", headers=outsider).json()
    assert own == [], "an outsider's own caseload holds nothing of this area"


def test_an_invalid_referral_is_refused_naming_each_field(
    referral_api: httpx.Client, tokens: Tokens, area: str
) -> None:
    referrer = tokens.bearer(Role.REFERRER, area)
    body = referral_body(area, "oak", concerns=[])
    body["child"].pop("family_name")
    body["baseline"]["attendance_percent"] = 140

    response = referral_api.post("/referrals", json=body, headers=referrer)

    assert response.status_code == 422
    fields = {issue["field"] for issue in response.json()["fields"]}
    assert fields == {"concerns", "child.family_name", "baseline.attendance_percent"}


def test_a_referral_from_a_setting_that_is_not_enrolled_is_refused(
    referral_api: httpx.Client, tokens: Tokens, area: str
) -> None:
    referrer = tokens.bearer(Role.REFERRER, area)

    response = referral_api.post(
        "/referrals", json=referral_body(area, "elm"), headers=referrer
    )

    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Setting 'elm' is not enrolled in area '{area}'; "
        "ask the area's programme lead to enrol it before referring."
    )


def test_the_childs_personal_data_is_encrypted_at_rest(
    running: Stack, consented_case: dict[str, Any]
) -> None:
    url = with_database(running.database_server_url, "prre_referral")
    with psycopg.connect(url) as connection:
        states = [
            row[0] for row in connection.execute("SELECT state FROM referral_events")
        ]

    assert states, "the referral service stored events"
    assert not any(b"Alex" in state or b"2013-02-14" in state for state in states)


@pytest.mark.parametrize("service", ["triage", "assessment", "review-scheduler"])
def test_downstream_services_learn_of_the_referral_and_its_consent(
    running: Stack,
    tokens: Tokens,
    area: str,
    consented_case: dict[str, Any],
    service: str,
) -> None:
    lead = tokens.bearer(Role.TRIAGE_LEAD, area)

    def known() -> dict[str, Any] | None:
        rows = httpx.get(
            f"{running.url(service)}/known-referrals",
            params={"area_id": area},
            headers=lead,
        ).json()
        return next(
            (
                r
                for r in rows
                if r["referral_id"] == consented_case["referral_id"]
                and r["consent"] == "confirmed"
            ),
            None,
        )

    assert eventually(known)["received_on"] == consented_case["referred_on"]


def test_refused_consent_closes_the_case_and_withdrawal_needs_consent_first(
    referral_api: httpx.Client, projections_api: httpx.Client, tokens: Tokens, area: str
) -> None:
    referrer = tokens.bearer(Role.REFERRER, area)
    received = referral_api.post(
        "/referrals", json=referral_body(area, "oak"), headers=referrer
    )
    referral_id = received.json()["referral_id"]

    early = referral_api.post(
        f"/referrals/{referral_id}/consent/withdraw",
        json={"by": "carer"},
        headers=referrer,
    )
    refused = referral_api.post(
        f"/referrals/{referral_id}/consent/refuse",
        json={"by": "carer", "reason": "Family declined"},
        headers=referrer,
    )

    assert early.status_code == 409
    assert "record that consent was refused instead" in early.json()["message"]
    assert refused.status_code == 200, refused.text
    assert refused.json()["closed_reason"] == "consent-refused"

    def closed_row() -> dict[str, Any] | None:
        row: dict[str, Any] = projections_api.get(
            f"/caseload/{referral_id}", headers=referrer
        ).json()
        return row if row.get("stage") == "closed" else None

    assert eventually(closed_row)["closed_reason"] == "consent-refused"
