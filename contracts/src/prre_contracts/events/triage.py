"""Triage events: deciding whether and how urgently to take a referral on.

Published by the triage service and keyed by the referral id (a triage
meeting, which covers many referrals, is keyed by the area). Screening is the
automatic check of a referral against the area's criteria; the decision that
follows is a person's or a panel's.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar

from pydantic import Field

from prre_contracts.events.base import CaseEvent, Event
from prre_contracts.events.values import (
    Baseline,
    Label,
    Priority,
    Publisher,
    StakeholderRole,
    Text,
)


class TriageEvent(CaseEvent, abstract=True):
    """A case event published by the triage service."""

    publisher: ClassVar[Publisher] = "triage"


class ReferralScreened(TriageEvent):
    """The referral was checked against the area's referral criteria.

    Screening advises; it does not decide. ``suggested_priority`` comes from
    the triage thresholds when the criteria are met.
    """

    criteria_version: int = Field(ge=1)
    criteria_met: list[Text] = Field(default_factory=list)
    criteria_not_met: list[Text] = Field(default_factory=list)
    meets_criteria: bool
    suggested_priority: Priority | None = None
    thresholds_version: int | None = Field(default=None, ge=1)
    screened_on: datetime.date


class ReferralAccepted(TriageEvent):
    """Triage took the referral on with a priority.

    Urgent cases are seen first. The assessment may still wait for consent.
    """

    priority: Priority
    thresholds_version: int | None = Field(default=None, ge=1)
    decided_on: datetime.date
    meeting_id: uuid.UUID | None = None


class ReferralDeclined(TriageEvent):
    """Triage did not take the referral on.

    The reason is shown to the referrer, and signposting names other services
    that may help the child instead.
    """

    reason: Text
    signposting: list[Text] = Field(min_length=1)
    decided_on: datetime.date
    meeting_id: uuid.UUID | None = None


class MoreInformationRequested(TriageEvent):
    """Triage cannot decide yet and asked the referrer questions.

    The response-time clock for triage keeps running while it waits.
    """

    request_id: uuid.UUID
    questions: list[Text] = Field(min_length=1)
    requested_on: datetime.date
    meeting_id: uuid.UUID | None = None


class MoreInformationReceived(TriageEvent):
    """Triage took in the referrer's answers; the case awaits a decision again.

    It follows the referral service's ``MoreInformationProvided`` and repeats
    what triage needs to decide: the answers, concerns added and any new
    baseline.
    """

    request_id: uuid.UUID
    received_on: datetime.date
    answers: list[Text] = Field(min_length=1)
    concerns_added: list[Text] = Field(default_factory=list)
    baseline: Baseline | None = None


class TriageMeetingHeld(Event):
    """The triage panel met and considered a set of referrals.

    Keyed by area, since one meeting covers many cases; the decisions it
    made are published as separate accepted or declined events.
    """

    publisher: ClassVar[Publisher] = "triage"
    key_field: ClassVar[str] = "area_id"

    meeting_id: uuid.UUID
    held_on: datetime.date
    chair_name: Label | None = None
    attendee_roles: list[StakeholderRole] = Field(default_factory=list)
    referral_ids: list[uuid.UUID] = Field(default_factory=list)
