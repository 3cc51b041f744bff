"""The read side: the SLT clinicians' queue and the reviews that reopen a plan.

The queue lists, for one area, the referrals that passed the consent gate
(accepted by triage and consent confirmed, in either order), are not closed and
still need SLT work, with the next step to take. Where each case stands is
followed from this service's own topic into ``assessment_progress``, written in
the idempotent consumer's transaction like the referral directory.

A follow-up review (from the review scheduler) that decides the child needs
*further support* allows one more action plan; ``further_support_reviews``
counts them per referral.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from fastapi import APIRouter

from prre_assessment.commands import READING_ROLES
from prre_contracts import Event, EventEnvelope
from prre_contracts.events.assessment import (
    ActionPlanAgreed,
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentNotAttended,
    AssessmentRescheduled,
    AssessmentScheduled,
    FeedbackMeetingHeld,
    ReportIssued,
)
from prre_contracts.events.base import CaseEvent
from prre_contracts.events.review import ReviewCompleted
from prre_runtime.consumer import Connection
from prre_runtime.http import Caller, Runtime
from prre_runtime.referral_directory import create_directory

TABLES = """
CREATE TABLE IF NOT EXISTS assessment_progress (
    referral_id uuid PRIMARY KEY,
    step text NOT NULL,
    scheduled_for date
);
CREATE TABLE IF NOT EXISTS further_support_reviews (
    referral_id uuid NOT NULL,
    review_id uuid NOT NULL,
    completed_on date NOT NULL,
    PRIMARY KEY (referral_id, review_id)
)
"""

QUEUE = """
SELECT d.referral_id, d.setting_id, d.priority, d.received_on,
       d.triaged_on AS accepted_on, d.consent_on, p.step, p.scheduled_for
FROM referral_directory d
LEFT JOIN assessment_progress p USING (referral_id)
WHERE d.area_id = $1 AND d.triage = 'accepted' AND d.consent = 'confirmed'
  AND d.closed_reason IS NULL
  AND coalesce(p.step, 'schedule') NOT IN ('done', 'cancelled')
ORDER BY (d.priority = 'urgent') DESC, d.triaged_on, d.received_on, d.referral_id
"""

STEP_AFTER: dict[type[Event], str] = {
    AssessmentScheduled: "booked",
    AssessmentRescheduled: "booked",
    AssessmentNotAttended: "reschedule",
    AssessmentCompleted: "report",
    ReportIssued: "feedback",
    FeedbackMeetingHeld: "plan",
    ActionPlanAgreed: "done",
    AssessmentCancelled: "cancelled",
}
"""The clinician's next step after each fact (``booked`` becomes
``awaiting-date`` or ``complete`` depending on today's date)."""


async def create_tables(pool: asyncpg.Pool) -> None:
    await create_directory(pool)
    async with pool.acquire() as connection:
        await connection.execute(TABLES)


async def track_progress(_: EventEnvelope, event: Event, db: Connection) -> None:
    """Move a case's next step on after one of this service's own facts."""
    step = STEP_AFTER.get(type(event))
    if step is None or not isinstance(event, CaseEvent):
        return
    scheduled_for = getattr(event, "scheduled_for", None)
    await db.execute(
        "INSERT INTO assessment_progress (referral_id, step, scheduled_for) "
        "VALUES ($1, $2, $3) ON CONFLICT (referral_id) DO UPDATE SET "
        "step = EXCLUDED.step, "
        "scheduled_for = coalesce(EXCLUDED.scheduled_for, "
        "assessment_progress.scheduled_for)",
        event.referral_id, step, scheduled_for,
    )  # fmt: skip


async def track_reviews(_: EventEnvelope, event: Event, db: Connection) -> None:
    """Note a review that decided on further support: a new plan is due."""
    if not isinstance(event, ReviewCompleted) or event.decision != "further-support":
        return
    await db.execute(
        "INSERT INTO further_support_reviews (referral_id, review_id, completed_on) "
        "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        event.referral_id, event.review_id, event.completed_on,
    )  # fmt: skip
    await db.execute(
        "UPDATE assessment_progress SET step = 'plan' WHERE referral_id = $1",
        event.referral_id,
    )


async def further_support_reviews(
    db: Connection | asyncpg.Pool, referral_id: uuid.UUID
) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM further_support_reviews WHERE referral_id = $1",
        referral_id,
    )
    return int(count)


def next_step(row: asyncpg.Record, today: date) -> str:
    step: str = row["step"] or "schedule"
    if step != "booked":
        return step
    return "awaiting-date" if row["scheduled_for"] > today else "complete"


queue = APIRouter(tags=["queue"])


@queue.get("/areas/{area_id}/assessment-queue")
async def clinicians_queue(
    area_id: str, caller: Caller, runtime: Runtime
) -> list[dict[str, Any]]:
    """The area's referrals awaiting SLT work, urgent first, then by acceptance."""
    caller.ensure_role(*READING_ROLES)
    caller.ensure_area(area_id)
    today = runtime.clock.today()
    rows = await runtime.pool.fetch(QUEUE, area_id)
    return [{**_jsonable(row), "next_step": next_step(row, today)} for row in rows]


def _jsonable(row: asyncpg.Record) -> dict[str, Any]:
    view = {key: value for key, value in row.items() if key != "step"}
    return {
        key: str(value) if isinstance(value, uuid.UUID) else value
        for key, value in view.items()
    }
