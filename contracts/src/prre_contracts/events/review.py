"""Review and response-time events, from the review scheduler.

The review scheduler keeps durable timers: it knows when a follow-up review
falls due and when a stage of the pathway has taken longer than the area's
target. Its events are keyed by the referral id.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar

from pydantic import Field

from prre_contracts.events.base import CaseEvent
from prre_contracts.events.values import (
    Baseline,
    Label,
    Publisher,
    ReviewDecision,
    Stage,
    Text,
)


class ReviewSchedulerEvent(CaseEvent, abstract=True):
    """A case event published by the review scheduler."""

    publisher: ClassVar[Publisher] = "review-scheduler"


class ReviewScheduled(ReviewSchedulerEvent):
    """A follow-up review was set for the date the action plan asked for."""

    review_id: uuid.UUID
    plan_id: uuid.UUID | None = None
    scheduled_on: datetime.date
    due_on: datetime.date


class ReviewDue(ReviewSchedulerEvent):
    """The review's date arrived; the clinician should now carry it out."""

    review_id: uuid.UUID
    due_on: datetime.date


class ReviewOverdueFlagged(ReviewSchedulerEvent):
    """A due review passed its response-time target without being done."""

    review_id: uuid.UUID
    due_on: datetime.date
    flagged_on: datetime.date
    working_days_overdue: int = Field(ge=1)


class ReviewCompleted(ReviewSchedulerEvent):
    """The review compared the child's measures now with the baseline.

    The decision closes the case, continues it with further support, or
    starts a new referral.
    """

    review_id: uuid.UUID
    completed_on: datetime.date
    baseline: Baseline
    outcome: Baseline
    decision: ReviewDecision
    notes: Text | None = None


class ResponseTimeBreached(ReviewSchedulerEvent):
    """A stage took longer than the area's target allows.

    Working days are counted with the area's bank holidays and term dates,
    against the response-times policy version in force when the referral
    arrived. ``breached_on`` is the first working day beyond the target;
    ``elapsed_working_days`` counts working days from ``started_on`` to the
    day the breach was recorded (or to the day a late stage ended, if it
    ended before the scheduler looked). A case may have several reviews, so a
    review-stage breach names its ``review_id``.
    """

    stage: Stage
    target_working_days: int = Field(ge=1)
    elapsed_working_days: int = Field(ge=1)
    policy_version: int = Field(ge=1)
    started_on: datetime.date
    breached_on: datetime.date
    review_id: uuid.UUID | None = None


class TimersCancelled(ReviewSchedulerEvent):
    """Every pending timer of a case was stopped, usually because it closed."""

    cancelled_on: datetime.date
    timers: list[Label] = Field(default_factory=list)
    reason: Text | None = None
