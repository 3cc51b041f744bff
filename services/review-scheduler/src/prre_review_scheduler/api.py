"""The review scheduler's HTTP API: complete a review, read reviews and clocks.

Reviews are listed per area (scheduled, due, overdue, completed, cancelled)
with the baseline beside the outcome, and per referral; a referral's
response-time clocks show each stage's start, end and outcome.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StringConstraints

from prre_contracts.events.values import Baseline, ReviewDecision
from prre_review_scheduler.commands import (
    READING_ROLES,
    CompleteReview,
    complete_review,
    find_review,
)
from prre_review_scheduler.tables import review_view
from prre_runtime.errors import NotFound
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import ALL_AREAS

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]
ReviewStatus = Literal["scheduled", "due", "overdue", "completed", "cancelled"]

reviews = APIRouter(tags=["reviews"])


class RecordReview(BaseModel):
    """What the clinician found at review, and what happens next."""

    model_config = ConfigDict(extra="forbid")

    completed_on: date | None = None
    outcome: Baseline
    decision: ReviewDecision
    notes: Text | None = None


@reviews.post("/reviews/{review_id}/complete")
async def record_review(
    review_id: uuid.UUID, body: RecordReview, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Complete a due review (SLT clinician of the referral's area)."""
    command = CompleteReview(
        body.completed_on or runtime.clock.today(),
        body.outcome,
        body.decision,
        body.notes,
    )
    await complete_review(runtime, caller, review_id, command)
    return review_view(await find_review(runtime, review_id))


@reviews.get("/areas/{area_id}/reviews")
async def area_reviews(
    area_id: str, caller: Caller, runtime: Runtime, status: ReviewStatus | None = None
) -> list[dict[str, Any]]:
    """An area's reviews, soonest due first, optionally of one status."""
    caller.ensure_area(area_id)
    caller.ensure_role(*READING_ROLES)
    rows = await runtime.pool.fetch(
        "SELECT * FROM reviews WHERE (area_id = $1 OR $2) "
        "AND ($3::text IS NULL OR status = $3) ORDER BY due_on, review_id",
        area_id, area_id == ALL_AREAS, status,
    )  # fmt: skip
    return [review_view(row) for row in rows]


@reviews.get("/referrals/{referral_id}/reviews")
async def referral_reviews(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> list[dict[str, Any]]:
    """One referral's reviews, first scheduled first."""
    rows = await runtime.pool.fetch(
        "SELECT * FROM reviews WHERE referral_id = $1 ORDER BY due_on, review_id",
        referral_id,
    )
    if not rows:
        raise NotFound(f"No reviews are scheduled for referral {referral_id}.")
    caller.ensure_area(rows[0]["area_id"])
    caller.ensure_role(*READING_ROLES)
    return [review_view(row) for row in rows]


@reviews.get("/referrals/{referral_id}/response-times")
async def response_times(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> list[dict[str, Any]]:
    """The stage clocks of one referral: start, end and outcome of each."""
    area_id = await runtime.pool.fetchval(
        "SELECT area_id FROM scheduler_cases WHERE referral_id = $1", referral_id
    )
    if area_id is None:
        raise NotFound(f"The scheduler knows no referral {referral_id}.")
    caller.ensure_area(area_id)
    caller.ensure_role(*READING_ROLES)
    rows = await runtime.pool.fetch(
        "SELECT timer, stage, review_id, started_on, ended_on, outcome "
        "FROM stage_clocks WHERE referral_id = $1 ORDER BY started_on, timer",
        referral_id,
    )
    return [dict(row) for row in rows]
