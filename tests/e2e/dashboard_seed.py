"""A small area seeded through the real services' APIs for the dashboard tests.

On Monday 11 January 2027 an English area in pilot with two settings (oak,
briefed to expect four referrals a term, and elm) receives four referrals:

- ``full`` (oak): consented, accepted, assessed, reported, feedback and a
  plan with a review after six weeks; reviewed on 22 February with better
  measures and closed;
- ``declined`` (oak): declined by triage, so closed;
- ``waiting`` (elm): accepted, consent not yet given;
- ``new`` (elm): not yet triaged (its five-day triage target is long gone by
  22 February, when the clock is left).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from helpers import Tokens, eventually, new_area, referral_body
from prre_runtime.clock import FileClock
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

MONDAY = date(2027, 1, 11)
REVIEW_DAY = MONDAY + timedelta(weeks=6)
PEOPLE = [
    {"role": "setting-lead", "name": "Sam Settinglead"},
    {"role": "parent-carer", "name": "Pat Parentcarer"},
]
OUTCOME = {"attendance_percent": 93, "suspensions_this_year": 0,
           "exclusion_status": "none"}  # fmt: skip


@dataclass
class Region:
    area: str
    full: str
    declined: str
    waiting: str
    new: str


_seeded: dict[int, Region] = {}


def seeded_region(stack: Stack, tokens: Tokens) -> Region:
    """The seeded area, made once per test session (the stack)."""
    if id(stack) not in _seeded:
        _seeded[id(stack)] = Seeder(stack, tokens).run()
    return _seeded[id(stack)]


def nine_am(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


class Seeder:
    def __init__(self, stack: Stack, tokens: Tokens) -> None:
        self.stack, self.tokens = stack, tokens
        self.clock = FileClock(Path(stack.extra_env["PRRE_CLOCK_FILE"]))
        self.api = {
            name: httpx.Client(base_url=stack.url(name), timeout=30)
            for name in ("referral", "triage", "assessment", "review-scheduler")
        }
        self.area = ""

    def run(self) -> Region:
        self.clock.set(nine_am(MONDAY))
        try:
            self.area = new_area(self.api["referral"], self.tokens, "oak", "elm")
            self._call("referral", f"/areas/{self.area}/briefings", Role.REGIONAL_ADMIN,
                       {"setting_id": "oak", "delivered_on": MONDAY.isoformat(),
                        "attendees": 12, "expected_referrals_per_term": 4})  # fmt: skip
            region = Region(
                self.area, *(self.refer(s) for s in ("oak", "oak", "elm", "elm"))
            )
            self.take_to_plan(region.full)
            self.decide(region.declined, "decline",
                        {"reason": "Needs are met by the school",
                         "signposting": ["Early Help"]})  # fmt: skip
            self.decide(region.waiting, "accept", {"priority": "routine"})
            self.clock.set(nine_am(REVIEW_DAY))
            self.review(region.full)
            return region
        finally:
            for client in self.api.values():
                client.close()

    def bearer(self, role: Role) -> dict[str, str]:
        return self.tokens.bearer(
            role, "*" if role == Role.REGIONAL_ADMIN else self.area
        )

    def _call(
        self, service: str, path: str, role: Role, body: dict[str, Any]
    ) -> dict[str, Any]:
        response = self.api[service].post(path, json=body, headers=self.bearer(role))
        assert response.status_code in (200, 201), f"{path}: {response.text}"
        result: dict[str, Any] = response.json()
        return result

    def _retry(self, service: str, path: str, role: Role, body: dict[str, Any]) -> None:
        """Post until the service has heard what it needs (404/409 until then)."""

        def accepted() -> bool:
            response = self.api[service].post(
                path, json=body, headers=self.bearer(role)
            )
            assert response.status_code in (200, 201, 404, 409), response.text
            return response.status_code in (200, 201)

        eventually(accepted, timeout=60)

    def refer(self, setting: str) -> str:
        body = referral_body(self.area, setting)
        referral_id: str = self._call("referral", "/referrals", Role.REFERRER, body)[
            "referral_id"
        ]
        return referral_id

    def decide(self, referral_id: str, decision: str, body: dict[str, Any]) -> None:
        def decided() -> bool:
            response = self.api["triage"].post(
                f"/referrals/{referral_id}/triage/{decision}",
                json=body,
                headers=self.bearer(Role.TRIAGE_LEAD),
            )
            # 404 or 409 until triage has heard of the referral and screened it.
            assert response.status_code in (200, 404, 409), response.text
            return response.status_code == 200

        eventually(decided)

    def take_to_plan(self, referral_id: str) -> None:
        self._call("referral", f"/referrals/{referral_id}/consent/confirm",
                   Role.REFERRER, {"by": "parent"})  # fmt: skip
        self.decide(referral_id, "accept", {"priority": "urgent"})
        on = MONDAY.isoformat()
        plan = {
            "actions": [{"description": "Break instructions into single steps",
                         "owner_role": "setting-lead", "due_on": "2027-02-08"}],
            "review_required": True, "review_after_weeks": 6, "agreed_on": on,
        }  # fmt: skip
        for step, body in (
            ("schedule", {"scheduled_for": on, "clinician_name": "Jo Therapist"}),
            ("complete", {"completed_on": on}),
            ("report", {"text": "Receptive language below age expectations.",
                        "shared_with": PEOPLE, "author_name": "Jo Therapist",
                        "issued_on": on}),
            ("feedback-meeting", {"held_on": on, "attendees": PEOPLE}),
            ("action-plan", plan),
        ):  # fmt: skip
            self._retry("assessment", f"/assessments/{referral_id}/{step}",
                        Role.CLINICIAN, body)  # fmt: skip

    def review(self, referral_id: str) -> None:
        def due_review() -> str | None:
            response = self.api["review-scheduler"].get(
                f"/referrals/{referral_id}/reviews", headers=self.bearer(Role.CLINICIAN)
            )
            reviews = response.json() if response.status_code == 200 else []
            due = [r["review_id"] for r in reviews if r["status"] == "due"]
            return due[0] if due else None

        review_id = eventually(due_review, timeout=60)
        body = {"outcome": OUTCOME, "decision": "close"}
        path = f"/reviews/{review_id}/complete"
        self._retry("review-scheduler", path, Role.CLINICIAN, body)


Headers = dict[str, str]


def settled_funnel(
    projections: httpx.Client, region: Region, headers: Headers
) -> dict[str, int]:
    """The funnel's counts once every seeded fact has reached the read side."""

    def counts() -> dict[str, int] | None:
        response = projections.get(
            "/api/funnel", params={"area_id": region.area}, headers=headers
        )
        assert response.status_code == 200, response.text
        found = {s["step"]: s["count"] for s in response.json()["steps"]}
        return found if (found["reviewed"], found["closed"]) == (1, 2) else None

    return eventually(counts, timeout=60)
