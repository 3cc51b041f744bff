"""Referral events: a case arrives, consent is settled, the case ends.

Published by the referral service and keyed by the referral id. The referral
service alone keeps the child's personal data (encrypted); these events name
the child only by ``child_ref``, a pseudonym that means nothing outside it.

Consent gates the pathway: nothing happens after triage until a parent, carer
or competent young person has confirmed it, and a refusal or withdrawal stops
the case.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar

from pydantic import Field

from prre_contracts.events.base import CaseEvent
from prre_contracts.events.values import (
    Baseline,
    ClosureReason,
    ConsentParty,
    Label,
    Publisher,
    Text,
)


class ReferralEvent(CaseEvent, abstract=True):
    """A case event published by the referral service."""

    publisher: ClassVar[Publisher] = "referral"


class ReferralReceived(ReferralEvent):
    """A setting enrolled in the area referred a child.

    ``concerns`` are what worries the referrer (in their words, without the
    child's personal details); ``baseline`` is the child's school measures on
    referral; ``criteria_version`` is the area's referral criteria in force.
    """

    setting_id: Label
    child_ref: Label
    criteria_version: int = Field(ge=1)
    referred_on: datetime.date
    concerns: list[Text] = Field(min_length=1)
    baseline: Baseline
    year_group: int | None = Field(default=None, ge=0, le=14)
    criteria_met: list[Text] = Field(default_factory=list)
    """The criteria of ``criteria_version`` the referrer says the child meets,
    word for word; triage screens the referral against them."""
    thresholds_version: int | None = Field(default=None, ge=1)
    """The area's triage thresholds in force on ``referred_on``, by which
    triage suggests a priority."""


class MoreInformationProvided(ReferralEvent):
    """The referrer answered triage's request for more information.

    New concerns are added to the referral; a new baseline, if given,
    replaces the one sent with the referral.
    """

    request_id: uuid.UUID | None = None
    provided_on: datetime.date
    answers: list[Text] = Field(min_length=1)
    concerns_added: list[Text] = Field(default_factory=list)
    baseline: Baseline | None = None


class ConsentConfirmed(ReferralEvent):
    """Consent to the assessment and to sharing its results was given."""

    given_by: ConsentParty
    confirmed_on: datetime.date


class ConsentRefused(ReferralEvent):
    """Consent was refused, so the case cannot go on."""

    refused_by: ConsentParty
    refused_on: datetime.date
    reason: Text | None = None


class ConsentWithdrawn(ReferralEvent):
    """Consent given earlier was taken back; the case stops there."""

    withdrawn_by: ConsentParty
    withdrawn_on: datetime.date
    reason: Text | None = None


class ReferralWithdrawn(ReferralEvent):
    """The referrer took the referral back before the case finished."""

    withdrawn_on: datetime.date
    reason: Text | None = None


class ReferralClosed(ReferralEvent):
    """The case ended; no further event follows for this referral."""

    reason: ClosureReason
    closed_on: datetime.date
