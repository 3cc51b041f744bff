"""Drives one referral along the pathway through the real services' APIs.

Used by the review-scheduler's end-to-end tests: a referral is received,
consented and accepted, assessed, reported on and discussed, and an action
plan asks for a review. Every date is the shared clock's day, so a test sets
the clock first and then moves it to make time pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx

from helpers import Tokens, eventually, read_topic, referral_body
from prre_contracts import EventEnvelope, topic_for
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

PEOPLE = [
    {"role": "setting-lead", "name": "Sam Settinglead"},
    {"role": "parent-carer", "name": "Pat Parentcarer"},
]
SERVICES = ("referral", "triage", "assessment", "review-scheduler")
SCHEDULER_WAIT_S = 60.0
"""How long to wait for the scheduler after moving the clock: in a full test
session the jump also breaches every earlier test's open cases, which the
scheduler records a bounded batch at a time."""


class Journey:
    """One referral of ``area`` and the calls that move it on, dated ``today``."""

    def __init__(
        self,
        stack: Stack,
        tokens: Tokens,
        area: str,
        today: date,
        *,
        setting: str = "pilot-school",
    ) -> None:
        self.stack, self.tokens, self.area, self.today = stack, tokens, area, today
        self.apis = {
            name: httpx.Client(base_url=stack.url(name), timeout=30)
            for name in SERVICES
        }
        received = self.apis["referral"].post(
            "/referrals",
            json=referral_body(area, setting),
            headers=self.bearer(Role.REFERRER),
        )
        assert received.status_code == 201, received.text
        self.id: str = received.json()["referral_id"]

    def bearer(self, role: Role) -> dict[str, str]:
        return self.tokens.bearer(role, self.area)

    def close(self) -> None:
        for client in self.apis.values():
            client.close()

    # -- the pathway -----------------------------------------------------------

    def consent(self, decision: str = "confirm") -> None:
        response = self.apis["referral"].post(
            f"/referrals/{self.id}/consent/{decision}",
            json={"by": "parent"},
            headers=self.bearer(Role.REFERRER),
        )
        assert response.status_code == 200, response.text

    def accept(self) -> None:
        def accepted() -> bool:
            response = self.apis["triage"].post(
                f"/referrals/{self.id}/triage/accept",
                json={"priority": "routine"},
                headers=self.bearer(Role.TRIAGE_LEAD),
            )
            # 404 or 409 until triage has heard of the referral and screened it.
            assert response.status_code in (200, 404, 409), response.text
            return response.status_code == 200

        eventually(accepted)

    def known_to_assessment(self, check: Callable[[dict[str, Any]], bool]) -> None:
        """Wait until the assessment service's entry for the referral passes."""

        def known() -> bool:
            rows = (
                self.apis["assessment"]
                .get(
                    "/known-referrals",
                    params={"area_id": self.area},
                    headers=self.bearer(Role.PROGRAMME_LEAD),
                )
                .json()
            )
            return any(row["referral_id"] == self.id and check(row) for row in rows)

        eventually(known)

    def gated(self) -> None:
        """Wait until the assessment service knows it accepted and consented."""
        self.known_to_assessment(
            lambda row: (row["triage"], row["consent"]) == ("accepted", "confirmed")
        )

    def assess(self, review_after_weeks: int = 8) -> None:
        """Book, complete, report, meet and agree a plan, all on ``today``."""
        on = self.today.isoformat()
        steps: list[tuple[str, dict[str, Any]]] = [
            ("schedule", {"scheduled_for": on, "clinician_name": "Jo Therapist"}),
            ("complete", {"completed_on": on}),
            (
                "report",
                {
                    "text": "Receptive language below age expectations.",
                    "shared_with": PEOPLE,
                    "author_name": "Jo Therapist",
                    "issued_on": on,
                },
            ),
            ("feedback-meeting", {"held_on": on, "attendees": PEOPLE}),
            ("action-plan", self.plan(review_after_weeks)),
        ]
        for step, body in steps:
            response = self.apis["assessment"].post(
                f"/assessments/{self.id}/{step}",
                json=body,
                headers=self.bearer(Role.CLINICIAN),
            )
            assert response.status_code in (200, 201), f"{step}: {response.text}"

    def plan(self, review_after_weeks: int) -> dict[str, Any]:
        action = {
            "description": "Break instructions into single steps",
            "owner_role": "setting-lead",
            "due_on": (self.today + timedelta(days=28)).isoformat(),
        }
        return {
            "actions": [action],
            "review_required": True,
            "review_after_weeks": review_after_weeks,
            "agreed_on": self.today.isoformat(),
        }

    def to_action_plan(self, review_after_weeks: int = 8) -> None:
        self.consent()
        self.accept()
        self.gated()
        self.assess(review_after_weeks)
        # The scheduler's consumer may lag on one topic while its group
        # rebalances (a replica joined or left): wait until it has the baseline.
        eventually(self.clocks, SCHEDULER_WAIT_S)

    # -- what the scheduler shows --------------------------------------------------

    def reviews(self) -> list[dict[str, Any]]:
        response = self.apis["review-scheduler"].get(
            f"/referrals/{self.id}/reviews", headers=self.bearer(Role.CLINICIAN)
        )
        assert response.status_code in (200, 404), response.text
        found: list[dict[str, Any]] = (
            response.json() if response.status_code == 200 else []
        )
        return found

    def review_in(self, *statuses: str) -> dict[str, Any]:
        """Wait for a review of this referral with one of ``statuses``."""
        return eventually(
            lambda: next((r for r in self.reviews() if r["status"] in statuses), None),
            SCHEDULER_WAIT_S,
        )

    def clocks(self) -> dict[str, dict[str, Any]]:
        response = self.apis["review-scheduler"].get(
            f"/referrals/{self.id}/response-times",
            headers=self.bearer(Role.PROGRAMME_LEAD),
        )
        assert response.status_code in (200, 404), response.text
        rows = response.json() if response.status_code == 200 else []
        return {row["timer"]: row for row in rows}

    def published(self) -> list[EventEnvelope]:
        """Every event the scheduler has published about this referral."""
        return scheduler_events(self.stack, self.id)


def scheduler_events(stack: Stack, referral_id: str) -> list[EventEnvelope]:
    """The distinct events on the scheduler's topic about one referral.

    Delivery is at least once: a relay restarted after a kill, or the relay
    of a second process of the service, may publish an event again under
    the same event id, which every consumer drops. A fact recorded twice
    would carry two ids, so counting ids counts facts.
    """
    topic = topic_for("review-scheduler")
    records = asyncio.run(read_topic(stack.bootstrap_servers, topic, 1, within=5))
    key = referral_id.encode()
    events = (
        EventEnvelope.from_json(record.value)
        for record in records
        if record.key == key and record.value is not None
    )
    return list({event.event_id: event for event in events}.values())


def of_type(events: list[EventEnvelope], event_type: str) -> list[EventEnvelope]:
    return [event for event in events if event.event_type == event_type]
