"""Programme events: how an area is set up and runs PRRE.

Published by the referral service, which owns areas and settings, and keyed by
the area id so one area's programme history stays in order. An area starts in
mobilisation and accepts no referrals until its checklist is complete:
governance, an SLT delivery model, an information-sharing agreement, referral
criteria, triage thresholds, response times, and at least one enrolled setting.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from pydantic import Field

from prre_contracts.events.base import ProgrammeEvent
from prre_contracts.events.values import (
    DeliveryModel,
    ExclusionStatus,
    Label,
    Nation,
    Phase,
    PilotRecommendation,
    ResponseTimeTarget,
    SessionKind,
    SettingKind,
    Term,
    Text,
)

PolicyVersion = Annotated[int, Field(ge=1)]


class AreaRegistered(ProgrammeEvent):
    """A local area joined the platform and entered mobilisation.

    An area is one local authority's Youth Justice Service with its education
    partners. Its nation decides which bank holidays count as non-working days.
    """

    name: Label
    nation: Nation


class GovernanceConfirmed(ProgrammeEvent):
    """The area's sponsor and governance boards signed up to the programme.

    The sponsor is the senior officer accountable for it; the boards are
    typically the YJS management board and the local education partnership.
    """

    sponsor_name: Label
    boards: list[Label] = Field(min_length=1)
    confirmed_on: datetime.date
    yjs_board_approved_on: datetime.date | None = None
    education_partnership_approved_on: datetime.date | None = None


class SltDeliveryModelAgreed(ProgrammeEvent):
    """The area decided how speech and language therapy will be provided.

    The clinical governance lead is the senior therapist answerable for the
    quality and safety of the therapists' practice.
    """

    delivery_model: DeliveryModel
    provider: Label
    clinical_governance_lead_name: Label
    agreed_on: datetime.date


class InformationSharingAgreementSigned(ProgrammeEvent):
    """The partners signed the agreement that lets them share case data.

    It names its lawful basis (the legal ground for processing, such as a
    public task), the parties, how long data are kept and when the agreement
    itself must be reviewed.
    """

    reference: Label
    lawful_basis: Text
    parties: list[Label] = Field(min_length=2)
    retention_months: int = Field(ge=1)
    signed_on: datetime.date
    review_on: datetime.date


class ReferralCriteriaDefined(ProgrammeEvent):
    """A new version of the criteria a referral must meet to be accepted.

    Screening checks every referral against the version in force on the day
    it was received; the referral records which version that was.
    """

    version: PolicyVersion
    criteria: list[Text] = Field(min_length=1)
    effective_from: datetime.date


class TriageThresholdsDefined(ProgrammeEvent):
    """A new version of the rules that make an accepted referral urgent.

    A referral that meets any threshold is suggested as urgent, otherwise as
    routine; the triage panel makes the final call.
    """

    version: PolicyVersion
    urgent_when: list[Text] = Field(min_length=1)
    attendance_below_percent: float | None = Field(default=None, ge=0, le=100)
    suspensions_at_least: int | None = Field(default=None, ge=1)
    exclusion_statuses: list[ExclusionStatus] = Field(default_factory=list)
    effective_from: datetime.date


class ResponseTimesDefined(ProgrammeEvent):
    """A new version of the area's response-time targets, one per stage."""

    version: PolicyVersion
    targets: list[ResponseTimeTarget] = Field(min_length=1)
    effective_from: datetime.date


class SettingEnrolled(ProgrammeEvent):
    """An education setting joined the programme and may now refer.

    ``urn`` is the unique reference number the Department for Education gives
    every school in England (settings elsewhere may have none). The lead is
    the member of staff who owns the setting's part in the programme.
    """

    setting_id: Label
    name: Label
    kind: SettingKind
    urn: Label | None = None
    lead_name: Label
    enrolled_on: datetime.date


class SettingLeadChanged(ProgrammeEvent):
    """Another member of staff became the setting's lead."""

    setting_id: Label
    lead_name: Label
    changed_on: datetime.date


class TermDatesRecorded(ProgrammeEvent):
    """The school terms of one academic year (for example ``2025/26``).

    Time outside the terms does not count towards response-time targets.
    """

    academic_year: Label
    terms: list[Term] = Field(min_length=1)


class AreaPhaseChanged(ProgrammeEvent):
    """The area moved on to its next implementation phase."""

    from_phase: Phase
    to_phase: Phase
    changed_on: datetime.date


class BriefingDelivered(ProgrammeEvent):
    """The programme was explained to a setting's staff.

    The briefing agrees how many referrals the setting expects to make per
    term, which the dashboards compare with what actually arrives.
    """

    setting_id: Label
    delivered_on: datetime.date
    expected_referrals_per_term: int = Field(ge=0)
    attendees: int | None = Field(default=None, ge=0)


class ProgrammeSessionDelivered(ProgrammeEvent):
    """A training, consultation or community-of-practice session took place."""

    session_id: uuid.UUID
    kind: SessionKind
    title: Label
    delivered_on: datetime.date
    attendees: int = Field(ge=0)
    setting_ids: list[Label] = Field(default_factory=list)
    attendees_by_setting: dict[str, int] = Field(default_factory=dict)
    """How many of the attendees came from each setting, by setting id."""


class PilotEvaluationRecorded(ProgrammeEvent):
    """The findings of the pilot term, required before the area scales up."""

    evaluated_on: datetime.date
    summary: Text
    findings: list[Text] = Field(default_factory=list)
    recommendation: PilotRecommendation
    approved_by: Label | None = None
    """Who approved the evaluation, e.g. the chair of the YJS board."""
    governance_report: Text | None = None
    """A link to (or reference of) the governance report it was based on."""


class ServiceLevelArrangementAgreed(ProgrammeEvent):
    """A setting agreed the terms of its service after the pilot.

    A service-level arrangement says what the setting can expect (how many
    assessments a term) and for how long.
    """

    setting_id: Label
    reference: Label
    starts_on: datetime.date
    ends_on: datetime.date
    assessments_per_term: int | None = Field(default=None, ge=0)
    terms: Text | None = None
    """The arrangement's terms in words (what is provided, on what basis)."""


class CommissioningCycleOpened(ProgrammeEvent):
    """A funding period began; governance reports are made per cycle.

    The commissioner is the body that pays for the service.
    """

    cycle_id: Label
    commissioner: Label
    starts_on: datetime.date
    ends_on: datetime.date
    report_due_on: datetime.date
    start_month: int | None = Field(default=None, ge=1, le=12)
    """The calendar month (1-12) every cycle of this area starts in."""
    length_months: int | None = Field(default=None, ge=1, le=60)


class GovernanceReportPresented(ProgrammeEvent):
    """The periodic governance report for a cycle went to a board."""

    cycle_id: Label
    board: Label
    presented_on: datetime.date
    outcome: Literal["noted", "approved", "actions-set"] = "noted"
