"""Helpers the test tiers share: tokens, polling and reading topics back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from prre_contracts import Actor, EventEnvelope, event_id_for
from prre_contracts.events.referral import ConsentConfirmed
from prre_runtime.identity import Role, issue_token
from prre_runtime.kafka import stop_reader

T = TypeVar("T")


@dataclass(frozen=True)
class Tokens:
    secret: str

    def bearer(
        self, role: Role, *areas: str, subject: str = "tester@example.org"
    ) -> dict[str, str]:
        token = issue_token(
            self.secret, subject=subject, role=role, areas=areas, now=datetime.now(UTC)
        )
        return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def read_topic(
    bootstrap: str, topic: str, expected: int, within: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` from the start, once ``expected`` are there."""
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await reader.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            batch = await reader.getmany(timeout_ms=300)
            for partition_records in batch.values():
                records.extend(partition_records)
            if len(records) >= expected and not batch:
                break
    finally:
        await stop_reader(reader)
    return records


RESPONSE_TIMES = {
    "triage": 5,
    "consent": 10,
    "assessment": 20,
    "report": 10,
    "feedback": 10,
    "review": 10,
}
"""Default working days per stage that ``new_area`` defines (version 1)."""

THRESHOLDS: dict[str, Any] = {
    "attendance_below_percent": 90,
    "suspensions_at_least": 3,
    "exclusion_statuses": ["suspended", "permanently-excluded"],
}
"""Default triage thresholds that ``new_area`` defines (version 1): urgent when
attendance is below 90%, at least 3 suspensions, or suspended/excluded."""

CRITERIA = ["Child at risk of exclusion with communication needs"]


def new_area(
    client: httpx.Client,
    tokens: Tokens,
    *settings: str,
    area_id: str | None = None,
    nation: str = "england",
    phase: str = "pilot",
    effective_from: str | None = None,
    thresholds: dict[str, Any] | None = None,
    response_times: dict[str, int] | None = None,
    term_dates: dict[str, list[dict[str, str]]] | None = None,
) -> str:
    """Register an area, complete its mobilisation checklist and move it on.

    By default the area ends in pilot, ready for referrals from ``settings``
    (at least one is enrolled: ``pilot-school`` when none is given), with
    criteria, THRESHOLDS and RESPONSE_TIMES as version 1, no term dates
    (pass ``term_dates={"2025/26": [{"name", "starts_on", "ends_on"}]}``) and
    the nation given. ``phase="mobilisation"`` stops before moving to pilot.
    ``effective_from`` (ISO date) dates the policies; default today.
    """
    area_id = area_id or unique("area")
    admin = tokens.bearer(Role.REGIONAL_ADMIN, "*")

    def post(path: str, body: dict[str, Any], status: int = 201) -> httpx.Response:
        response = client.post(f"/areas/{area_id}{path}", json=body, headers=admin)
        assert response.status_code == status, response.text
        return response

    created = client.post(
        "/areas",
        json={"area_id": area_id, "name": area_id, "nation": nation},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    for path, body in mobilisation_steps(
        effective_from, thresholds, response_times, settings or ("pilot-school",)
    ):
        post(path, body)
    for year, terms in (term_dates or {}).items():
        post("/term-dates", {"academic_year": year, "terms": terms})
    if phase in ("pilot", "scale"):
        post("/phase", {"to_phase": "pilot"}, status=200)
    return area_id


def mobilisation_steps(
    effective_from: str | None,
    thresholds: dict[str, Any] | None,
    response_times: dict[str, int] | None,
    settings: tuple[str, ...],
) -> list[tuple[str, dict[str, Any]]]:
    """Every mobilisation checklist item as (path under the area, body)."""
    dated = {"effective_from": effective_from} if effective_from else {}
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "/governance",
            {
                "sponsor_name": "Sam Sponsor",
                "yjs_board_approved_on": "2025-01-15",
                "education_partnership_approved_on": "2025-01-22",
            },
        ),
        (
            "/slt-delivery-model",
            {
                "delivery_model": "commissioned",
                "provider": "Community NHS Trust",
                "clinical_governance_lead_name": "Dr Clinical Lead",
                "agreed_on": "2025-01-29",
            },
        ),
        (
            "/information-sharing-agreement",
            {
                "reference": "ISA-TEST-1",
                "parties": ["Council", "NHS Trust"],
                "lawful_basis": "UK GDPR 6(1)(e) public task",
                "retention_months": 84,
                "signed_on": "2025-02-03",
                "review_on": "2026-02-03",
            },
        ),
        ("/criteria", {"criteria": CRITERIA, **dated}),
        ("/triage-thresholds", {**(thresholds or THRESHOLDS), **dated}),
        (
            "/response-times",
            {"working_days": response_times or RESPONSE_TIMES, **dated},
        ),
    ]
    for setting_id in settings:
        enrolment = {
            "setting_id": setting_id,
            "name": f"{setting_id} school",
            "kind": "school",
            "lead_name": "A Lead",
        }
        steps.append(("/settings", enrolment))
    return steps


def referral_body(area_id: str, setting_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "area_id": area_id,
        "setting_id": setting_id,
        "child": {
            "given_name": "Alex",
            "family_name": "Example",
            "date_of_birth": "2013-02-14",
        },
        "concerns": ["Struggles to follow instructions in class"],
        "baseline": {
            "attendance_percent": 82.5,
            "suspensions_this_year": 2,
            "exclusion_status": "at-risk",
        },
        "year_group": 8,
    }
    body.update(overrides)
    return body


def consent_envelope(
    area_id: str,
    referral_id: uuid.UUID | None = None,
    version: int = 2,
    subject: str = "tester@example.org",
) -> EventEnvelope:
    """A ConsentConfirmed envelope as the referral service's relay publishes it."""
    referral_id = referral_id or uuid.uuid4()
    data = ConsentConfirmed(
        area_id=area_id,
        referral_id=referral_id,
        given_by="parent",
        confirmed_on=date(2026, 11, 2),
    )
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=event_id_for("referral", referral_id, version),
        event_type="ConsentConfirmed",
        schema_version=1,
        source="referral",
        area_id=area_id,
        partition_key=str(referral_id),
        aggregate_id=referral_id,
        aggregate_version=version,
        occurred_at=now,
        recorded_at=now,
        actor=Actor(subject=subject, role="referrer"),
        correlation_id=uuid.uuid4(),
        data=data.model_dump(mode="json"),
    )
