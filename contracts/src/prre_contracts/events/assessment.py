"""Assessment events: from the SLT assessment to an agreed action plan.

Published by the assessment service and keyed by the referral id. A speech
and language therapist (SLT) assesses the child's communication, writes a
report for the people around the child, talks it through at a feedback
meeting, and agrees an action plan with them.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar, Self

from pydantic import Field, model_validator

from prre_contracts.events.base import CaseEvent
from prre_contracts.events.values import (
    Action,
    Label,
    Publisher,
    StakeholderRole,
    Text,
)


class AssessmentEvent(CaseEvent, abstract=True):
    """A case event published by the assessment service."""

    publisher: ClassVar[Publisher] = "assessment"


class AssessmentScheduled(AssessmentEvent):
    """An assessment was booked: only once accepted and consented."""

    assessment_id: uuid.UUID
    scheduled_for: datetime.date
    clinician_name: Label | None = None
    location: Label | None = None


class AssessmentRescheduled(AssessmentEvent):
    """A booked assessment moved to another date."""

    assessment_id: uuid.UUID
    previous_date: datetime.date
    scheduled_for: datetime.date
    reason: Text | None = None


class AssessmentNotAttended(AssessmentEvent):
    """The child did not come to a booked assessment."""

    assessment_id: uuid.UUID
    missed_on: datetime.date
    reason: Text | None = None


class AssessmentCancelled(AssessmentEvent):
    """A booked assessment will not take place because the case stopped.

    ``reason`` says why, usually the referral's closure reason, such as
    consent withdrawn by the parent or carer.
    """

    assessment_id: uuid.UUID
    cancelled_on: datetime.date
    reason: Text


class AssessmentCompleted(AssessmentEvent):
    """The assessment took place.

    ``communication_needs`` are the needs found, such as difficulty
    understanding spoken language or expressing oneself; an empty list means
    none were identified.
    """

    assessment_id: uuid.UUID
    completed_on: datetime.date
    communication_needs: list[Text] = Field(default_factory=list)


class ReportIssued(AssessmentEvent):
    """The assessment report was shared with the people around the child.

    ``shared_with`` lists roles, not people. The report itself stays in the
    assessment service; ``document_ref`` points to it there.
    """

    report_id: uuid.UUID
    version: int = Field(ge=1)
    issued_on: datetime.date
    shared_with: list[StakeholderRole] = Field(min_length=1)
    author_name: Label | None = None
    document_ref: Label | None = None


class ReportAmended(AssessmentEvent):
    """A corrected report was issued as a new version; earlier ones remain."""

    report_id: uuid.UUID
    version: int = Field(ge=2)
    amended_on: datetime.date
    reason: Text
    shared_with: list[StakeholderRole] = Field(min_length=1)
    document_ref: Label | None = None


class FeedbackMeetingHeld(AssessmentEvent):
    """The SLT went through the report with the setting and the family."""

    meeting_id: uuid.UUID
    held_on: datetime.date
    attendee_roles: list[StakeholderRole] = Field(min_length=1)
    report_version: int | None = Field(default=None, ge=1)


class ActionPlanAgreed(AssessmentEvent):
    """The actions that will support the child were agreed.

    A follow-up review, when required, is due 6 to 12 weeks after the
    feedback meeting; ``review_after_weeks`` is set exactly when
    ``review_required`` is true. ``meeting_id`` and ``feedback_meeting_on``
    name the feedback meeting the plan was agreed at, the day the review
    window counts from.
    """

    plan_id: uuid.UUID
    agreed_on: datetime.date
    actions: list[Action] = Field(min_length=1)
    review_required: bool
    review_after_weeks: int | None = Field(default=None, ge=6, le=12)
    meeting_id: uuid.UUID | None = None
    feedback_meeting_on: datetime.date | None = None

    @model_validator(mode="after")
    def _review_weeks_match_requirement(self) -> Self:
        if self.review_required != (self.review_after_weeks is not None):
            msg = "review_after_weeks is set exactly when review_required is true"
            raise ValueError(msg)
        return self
