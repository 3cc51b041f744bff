"""The assessment record: the rules the SLT's work on one referral follows.

After triage accepts a referral and a parent or carer consents, a speech and
language therapist (SLT) *assesses* the child's communication, writes a
*report* for the people around the child, goes through it with them at a
*feedback meeting*, and agrees an *action plan*: who does what by when, and
whether a follow-up review should check progress 6 to 12 weeks later.

One :class:`AssessmentRecord` holds all of that for one referral. Its id is
derived from the referral id, so two clinicians booking the same case at once
both try to create the same record and only one can win.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from prre_contracts import Event
from prre_contracts.events.assessment import (
    ActionPlanAgreed,
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentNotAttended,
    AssessmentRescheduled,
    AssessmentScheduled,
    FeedbackMeetingHeld,
    ReportAmended,
    ReportIssued,
)
from prre_contracts.events.values import Action, StakeholderRole
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate

RECORDS = uuid.UUID("6f1b3c52-7d0e-4d8a-9a59-2b4f0c1e8a31")
REVIEW_WINDOW_WEEKS = range(6, 13)


def record_id(referral_id: uuid.UUID) -> uuid.UUID:
    """The id of the one assessment record a referral can have."""
    return uuid.uuid5(RECORDS, str(referral_id))


@dataclass(frozen=True)
class CaseStatus:
    """What the assessment service knows of a referral from other services.

    The *consent gate*: assessment work may start only once triage accepted
    the referral and consent was confirmed, in whichever order those arrived,
    and never on a closed case.
    """

    referral_id: uuid.UUID
    area_id: str
    triage: str
    consent: str
    closed_reason: str | None

    def ensure_open(self) -> None:
        if self.closed_reason:
            raise RuleBroken(
                f"This referral is closed ({self.closed_reason}); no more assessment "
                "work can be recorded on it. Make a new referral if the child needs "
                "support again."
            )

    def ensure_ready_for_assessment(self) -> None:
        self.ensure_open()
        if self.consent != "confirmed":
            raise RuleBroken(
                "Consent has not been confirmed for this referral; the assessment "
                "can be scheduled once a parent or carer (or the young person) has "
                "confirmed consent in the referral service."
            )
        if self.triage != "accepted":
            raise RuleBroken(
                f"Triage has not accepted this referral (triage is "
                f"'{self.triage}'); the assessment can be scheduled once a triage "
                "lead accepts it."
            )


@dataclass(frozen=True)
class Stakeholder:
    """A person around the child, named in a report's or meeting's private data.

    Public events carry only the role; the name stays in this service.
    """

    role: StakeholderRole
    name: str

    def as_private(self) -> dict[str, str]:
        return {"role": self.role, "name": self.name}


@dataclass(frozen=True)
class ReportVersion:
    """One version of the written report; every version stays downloadable."""

    version: int
    issued_on: date
    text: str
    shared_with: tuple[Stakeholder, ...]
    reason: str | None = None


@dataclass
class Booking:
    """The assessment appointment and what became of it."""

    assessment_id: uuid.UUID
    scheduled_for: date
    clinician_name: str | None
    location: str | None
    status: str = "booked"
    history: list[dict[str, Any]] = field(default_factory=list)


def _stakeholders(private: Mapping[str, Any], key: str) -> tuple[Stakeholder, ...]:
    return tuple(Stakeholder(p["role"], p["name"]) for p in private.get(key, []))


def _roles(people: Sequence[Stakeholder]) -> list[StakeholderRole]:
    return list(dict.fromkeys(person.role for person in people))


class AssessmentRecord(FactAggregate):
    """The SLT's work on one referral, from booking to action plan."""

    @classmethod
    def schedule(
        cls,
        case: CaseStatus,
        scheduled_for: date,
        clinician_name: str,
        location: str | None,
        context: CommandContext,
    ) -> AssessmentRecord:
        """Book the assessment of a referral that passed the consent gate."""
        case.ensure_ready_for_assessment()
        event = AssessmentScheduled(
            area_id=case.area_id,
            referral_id=case.referral_id,
            assessment_id=uuid.uuid4(),
            scheduled_for=scheduled_for,
            clinician_name=clinician_name,
            location=location,
        )
        return cls.open(record_id(case.referral_id), event, context)

    def schedule_again(self, case: CaseStatus) -> NoReturn:
        """Refuse a second booking: an existing one is rescheduled instead."""
        case.ensure_open()
        self._ensure_not_cancelled()
        raise RuleBroken(
            f"An assessment was already scheduled for this referral (for "
            f"{self.booking.scheduled_for.isoformat()}); reschedule it instead of "
            "scheduling another."
        )

    def reschedule(
        self,
        case: CaseStatus,
        scheduled_for: date,
        reason: str | None,
        context: CommandContext,
    ) -> None:
        self._ensure_active(case)
        if self.booking.status == "completed":
            raise RuleBroken(
                "The assessment has already been completed, so it cannot be "
                "rescheduled."
            )
        self._record(
            AssessmentRescheduled(
                **self._case(),
                assessment_id=self.booking.assessment_id,
                previous_date=self.booking.scheduled_for,
                scheduled_for=scheduled_for,
                reason=reason,
            ),
            context,
        )

    def record_non_attendance(
        self,
        case: CaseStatus,
        missed_on: date,
        reason: str | None,
        context: CommandContext,
    ) -> None:
        self._ensure_booked(case, "recorded as not attended")
        self._record(
            AssessmentNotAttended(
                **self._case(),
                assessment_id=self.booking.assessment_id,
                missed_on=missed_on,
                reason=reason,
            ),
            context,
        )

    def complete(
        self,
        case: CaseStatus,
        completed_on: date,
        communication_needs: list[str],
        context: CommandContext,
    ) -> None:
        self._ensure_booked(case, "recorded as completed")
        self._record(
            AssessmentCompleted(
                **self._case(),
                assessment_id=self.booking.assessment_id,
                completed_on=completed_on,
                communication_needs=communication_needs,
            ),
            context,
        )

    def issue_report(
        self,
        case: CaseStatus,
        text: str,
        shared_with: Sequence[Stakeholder],
        issued_on: date,
        author_name: str,
        context: CommandContext,
    ) -> None:
        """Issue version 1 of the written report of a completed assessment."""
        self._ensure_active(case)
        if self.booking.status != "completed":
            raise RuleBroken(
                "The assessment has not been completed yet; a report can be issued "
                "once the assessment is recorded as completed."
            )
        if self.reports:
            raise RuleBroken(
                "A report has already been issued for this assessment; amend it to "
                "issue a new version."
            )
        event = ReportIssued(
            **self._case(),
            report_id=self.report_id,
            version=1,
            issued_on=issued_on,
            shared_with=_roles(shared_with),
            author_name=author_name,
            document_ref=self._document_ref(1),
        )
        self._record(event, context, self._report_private(text, shared_with))

    def amend_report(
        self,
        case: CaseStatus,
        text: str,
        reason: str,
        shared_with: Sequence[Stakeholder],
        amended_on: date,
        context: CommandContext,
    ) -> None:
        """Issue a corrected report as a new version; earlier ones remain."""
        self._ensure_report(case, "amended")
        version = len(self.reports) + 1
        event = ReportAmended(
            **self._case(),
            report_id=self.report_id,
            version=version,
            amended_on=amended_on,
            reason=reason,
            shared_with=_roles(shared_with),
            document_ref=self._document_ref(version),
        )
        self._record(event, context, self._report_private(text, shared_with))

    def hold_feedback_meeting(
        self,
        case: CaseStatus,
        held_on: date,
        attendees: Sequence[Stakeholder],
        context: CommandContext,
    ) -> uuid.UUID:
        """Record the meeting at which the SLT went through the report."""
        self._ensure_report(case, "discussed at a feedback meeting")
        meeting_id = uuid.uuid4()
        event = FeedbackMeetingHeld(
            **self._case(),
            meeting_id=meeting_id,
            held_on=held_on,
            attendee_roles=_roles(attendees),
            report_version=len(self.reports),
        )
        private = {"attendees": [person.as_private() for person in attendees]}
        self._record(event, context, private)
        return meeting_id

    def agree_action_plan(
        self,
        case: CaseStatus,
        actions: list[Action],
        review_after_weeks: int | None,
        agreed_on: date,
        further_support_reviews: int,
        context: CommandContext,
    ) -> uuid.UUID:
        """Record the plan agreed at the latest feedback meeting.

        ``review_after_weeks`` is ``None`` when no follow-up review is needed.
        A further plan may be agreed once per follow-up review that decided the
        child needs further support (``further_support_reviews``).
        """
        self._ensure_plan_allowed(case, further_support_reviews)
        _ensure_review_window(review_after_weeks)
        meeting = self.meetings[-1]
        plan_id = uuid.uuid4()
        event = ActionPlanAgreed(
            **self._case(),
            plan_id=plan_id,
            agreed_on=agreed_on,
            actions=actions,
            review_required=review_after_weeks is not None,
            review_after_weeks=review_after_weeks,
            meeting_id=meeting["meeting_id"],
            feedback_meeting_on=meeting["held_on"],
        )
        self._record(event, context)
        return plan_id

    def cancel(self, reason: str, cancelled_on: date, context: CommandContext) -> bool:
        """Cancel a booked assessment because the case stopped.

        Returns whether there was anything to cancel: a completed assessment
        or one already cancelled needs no new fact.
        """
        if self.booking.status not in ("booked", "not-attended"):
            return False
        self._record(
            AssessmentCancelled(
                **self._case(),
                assessment_id=self.booking.assessment_id,
                cancelled_on=cancelled_on,
                reason=reason,
            ),
            context,
        )
        return True

    # Rules shared by several commands.

    def _ensure_not_cancelled(self) -> None:
        if self.booking.status == "cancelled":
            raise RuleBroken(
                f"This referral is closed ({self.cancelled_reason}); the assessment "
                "was cancelled and no more work can be recorded on it."
            )

    def _ensure_active(self, case: CaseStatus) -> None:
        case.ensure_open()
        self._ensure_not_cancelled()

    def _ensure_booked(self, case: CaseStatus, what: str) -> None:
        self._ensure_active(case)
        if self.booking.status == "not-attended":
            raise RuleBroken(
                "The child did not attend the booked assessment; reschedule it "
                f"before it can be {what}."
            )
        if self.booking.status == "completed":
            raise RuleBroken(
                f"The assessment was already completed, so it cannot be {what}."
            )

    def _ensure_report(self, case: CaseStatus, what: str) -> None:
        self._ensure_active(case)
        if not self.reports:
            raise RuleBroken(
                f"No report has been issued yet; issue the assessment report before "
                f"it can be {what}."
            )

    def _ensure_plan_allowed(self, case: CaseStatus, further_support: int) -> None:
        self._ensure_active(case)
        if not self.meetings:
            raise RuleBroken(
                "No feedback meeting has been recorded yet; the action plan is "
                "agreed at the feedback meeting, so record the meeting first."
            )
        if len(self.plans) > further_support:
            raise RuleBroken(
                "An action plan has already been agreed for this referral; a new "
                "one can be agreed only after a follow-up review decides the child "
                "needs further support."
            )

    # Helpers.

    @property
    def referral_id(self) -> uuid.UUID:
        return self._referral_id

    @property
    def report_id(self) -> uuid.UUID:
        """The one report of this record (its versions share the id)."""
        return uuid.uuid5(RECORDS, f"report:{self.referral_id}")

    def report(self, version: int) -> ReportVersion | None:
        return self.reports[version - 1] if 0 < version <= len(self.reports) else None

    def _document_ref(self, version: int) -> str:
        return f"assessment:/assessments/{self.referral_id}/report/versions/{version}"

    @staticmethod
    def _report_private(
        text: str, shared_with: Sequence[Stakeholder]
    ) -> dict[str, Any]:
        return {
            "text": text,
            "shared_with": [person.as_private() for person in shared_with],
        }

    def _case(self) -> dict[str, Any]:
        return {"area_id": self.area_id, "referral_id": self.referral_id}

    def _record(
        self,
        event: Event,
        context: CommandContext,
        private: Mapping[str, Any] | None = None,
    ) -> None:
        self.record(event, context, private)

    def _open(self, event: AssessmentScheduled) -> None:
        self._referral_id, self.area_id = event.referral_id, event.area_id
        self.booking = Booking(
            event.assessment_id,
            event.scheduled_for,
            event.clinician_name,
            event.location,
        )
        self.reports: list[ReportVersion] = []
        self.meetings: list[dict[str, Any]] = []
        self.plans: list[ActionPlanAgreed] = []
        self.communication_needs: list[str] = []
        self.cancelled_reason: str | None = None
        self._note("scheduled", event.scheduled_for, None)

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        match event:
            case AssessmentScheduled():
                self._open(event)
            case AssessmentRescheduled():
                self.booking.scheduled_for = event.scheduled_for
                self._note("rescheduled", event.scheduled_for, event.reason)
            case AssessmentNotAttended():
                self._note("not-attended", event.missed_on, event.reason)
            case AssessmentCompleted():
                self.communication_needs = list(event.communication_needs)
                self._note("completed", event.completed_on, None)
            case AssessmentCancelled():
                self.cancelled_reason = event.reason
                self._note("cancelled", event.cancelled_on, event.reason)
            case ReportIssued() | ReportAmended():
                self._add_report(event, private)
            case FeedbackMeetingHeld():
                self.meetings.append(
                    {
                        "meeting_id": event.meeting_id,
                        "held_on": event.held_on,
                        "attendees": _stakeholders(private, "attendees"),
                        "report_version": event.report_version,
                    }
                )
            case ActionPlanAgreed():
                self.plans.append(event)

    def _note(self, status: str, on: date, reason: str | None) -> None:
        if status in ("rescheduled", "scheduled"):
            self.booking.status = "booked"
        else:
            self.booking.status = status
        self.booking.history.append({"what": status, "on": on, "reason": reason})

    def _add_report(
        self, event: ReportIssued | ReportAmended, private: Mapping[str, Any]
    ) -> None:
        on = event.issued_on if isinstance(event, ReportIssued) else event.amended_on
        reason = event.reason if isinstance(event, ReportAmended) else None
        self.reports.append(
            ReportVersion(
                event.version,
                on,
                private["text"],
                _stakeholders(private, "shared_with"),
                reason,
            )
        )


def _ensure_review_window(weeks: int | None) -> None:
    if weeks is not None and weeks not in REVIEW_WINDOW_WEEKS:
        raise RuleBroken(
            "A follow-up review must be between 6 and 12 weeks after the feedback "
            f"meeting; {weeks} weeks is outside that window."
        )
