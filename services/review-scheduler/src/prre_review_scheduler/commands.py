"""Completing a follow-up review: the one command a person sends the scheduler.

An SLT clinician of the referral's area records the child's measures at
review (the *outcome*) and what happens next. The scheduler sets them beside
the baseline the referral arrived with (or the newer one sent when triage
asked for more information), so the outcome always has something to be
compared with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import asyncpg

from prre_contracts.events.values import Baseline, ReviewDecision
from prre_review_scheduler.domain import CaseSchedule, Completion
from prre_review_scheduler.schedules import load_case, save_case
from prre_review_scheduler.tables import baseline_of
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.identity import Principal, Role
from prre_runtime.referral_directory import directory_entry
from prre_runtime.service import ServiceRuntime

READING_ROLES = (
    Role.CLINICIAN,
    Role.PROGRAMME_LEAD,
    Role.TRIAGE_LEAD,
    Role.GOVERNANCE,
    Role.REGIONAL_ADMIN,
)
"""Who may read reviews: everyone who works the pathway, not referrers."""


async def find_review(runtime: ServiceRuntime, review_id: uuid.UUID) -> asyncpg.Record:
    row = await runtime.pool.fetchrow(
        "SELECT * FROM reviews WHERE review_id = $1", review_id
    )
    if row is None:
        raise NotFound(f"No review with id {review_id}.")
    return row


@dataclass(frozen=True)
class CompleteReview:
    """The command: the day the review took place, the outcome, the decision."""

    completed_on: date
    outcome: Baseline
    decision: ReviewDecision
    notes: str | None = None


async def complete_review(
    runtime: ServiceRuntime,
    caller: Principal,
    review_id: uuid.UUID,
    command: CompleteReview,
) -> None:
    """Record a review's outcome against the baseline, and its decision."""
    review = await find_review(runtime, review_id)
    caller.ensure_area(review["area_id"])
    caller.ensure_role(Role.CLINICIAN)
    referral_id = review["referral_id"]
    await _ensure_case_open(runtime, referral_id)
    case = await _case(runtime, referral_id)
    today = runtime.clock.today()
    case.check_completion(review_id, command.completed_on, today)
    completion = Completion(
        command.completed_on,
        await _baseline(runtime, referral_id),
        command.outcome,
        command.decision,
        command.notes,
    )
    context = runtime.command_context(caller, _occurred(runtime, command.completed_on))
    case.complete_review(review_id, completion, today, context)
    await save_case(runtime, case, runtime.pool)


async def _baseline(runtime: ServiceRuntime, referral_id: uuid.UUID) -> Baseline:
    baseline = await baseline_of(runtime.pool, referral_id)
    if baseline is None:
        raise RuleBroken(
            f"The scheduler has not yet heard of referral {referral_id} and its "
            "baseline; try again in a moment."
        )
    return baseline


async def _ensure_case_open(runtime: ServiceRuntime, referral_id: uuid.UUID) -> None:
    """Refuse work on a case the referral service has closed or lost consent for."""
    entry = await directory_entry(runtime.pool, referral_id)
    if entry is None:
        return
    if entry["closed_reason"]:
        raise RuleBroken(
            f"Referral {referral_id} was closed on {entry['closed_on']} "
            f"({entry['closed_reason']}); its review can no longer be recorded."
        )
    if entry["consent"] in ("refused", "withdrawn"):
        raise RuleBroken(
            f"Consent for referral {referral_id} was {entry['consent']} on "
            f"{entry['consent_on']}; its review can no longer be recorded."
        )


async def _case(runtime: ServiceRuntime, referral_id: uuid.UUID) -> CaseSchedule:
    case = await load_case(runtime, referral_id)
    if case is None:
        raise NotFound(f"No reviews are scheduled for referral {referral_id}.")
    return case


def _occurred(runtime: ServiceRuntime, on: date) -> datetime:
    """When a review dated ``on`` took place: now if today, else that noon."""
    if on >= runtime.clock.today():
        return runtime.clock.now()
    return datetime.combine(on, time(12), tzinfo=UTC)
