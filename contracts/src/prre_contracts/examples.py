"""One valid example of every catalogue event, telling one case's story.

For tests (every event round-trips, every schema validates its example) and
for readers who learn a contract fastest from an instance. The child is
``child-7f3a``, a pseudonym, as on the real topics.
"""

from __future__ import annotations

import datetime
import uuid

from prre_contracts.events import assessment, programme, referral, review, triage
from prre_contracts.events.base import Event
from prre_contracts.events.values import Action, Baseline, ResponseTimeTarget, Term

AREA = "north-shire"
REFERRAL = uuid.UUID("0b5e8a4c-6f0e-4a8e-9d35-2f1c7a9e4b10")
REVIEW = uuid.UUID("5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
BASELINE = Baseline(
    attendance_percent=71.5, suspensions_this_year=2, exclusion_status="at-risk"
)


def _day(month: int, day: int) -> datetime.date:
    return datetime.date(2025, month, day)


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def programme_examples() -> list[Event]:
    """The area's set-up, from registration to governance reporting."""
    return [
        programme.AreaRegistered(area_id=AREA, name="North Shire", nation="england"),
        programme.GovernanceConfirmed(
            area_id=AREA,
            sponsor_name="Sam Okafor",
            boards=["YJS Management Board", "Education Partnership"],
            confirmed_on=_day(4, 1),
            yjs_board_approved_on=_day(3, 20),
            education_partnership_approved_on=_day(4, 1),
        ),
        programme.SltDeliveryModelAgreed(
            area_id=AREA,
            delivery_model="commissioned",
            provider="North Shire NHS Trust",
            clinical_governance_lead_name="Dr Priya Shah",
            agreed_on=_day(4, 8),
        ),
        programme.InformationSharingAgreementSigned(
            area_id=AREA,
            reference="ISA-2025-014",
            lawful_basis="UK GDPR 6(1)(e) public task; 9(2)(h) health care",
            parties=["North Shire Council", "North Shire NHS Trust"],
            retention_months=84,
            signed_on=_day(4, 15),
            review_on=datetime.date(2026, 4, 15),
        ),
        *_policy_examples(),
        *_setting_examples(),
        *_phase_examples(),
    ]


def _policy_examples() -> list[Event]:
    return [
        programme.ReferralCriteriaDefined(
            area_id=AREA,
            version=1,
            criteria=["At risk of exclusion", "Suspected communication need"],
            effective_from=_day(5, 1),
        ),
        programme.TriageThresholdsDefined(
            area_id=AREA,
            version=1,
            urgent_when=["Permanent exclusion being considered"],
            attendance_below_percent=50,
            exclusion_statuses=["suspended"],
            effective_from=_day(5, 1),
        ),
        programme.ResponseTimesDefined(
            area_id=AREA,
            version=1,
            targets=[
                ResponseTimeTarget(stage="triage", working_days=5),
                ResponseTimeTarget(stage="assessment", working_days=20),
            ],
            effective_from=_day(5, 1),
        ),
        programme.TermDatesRecorded(
            area_id=AREA,
            academic_year="2025/26",
            terms=[Term(name="Autumn", starts_on=_day(9, 3), ends_on=_day(12, 19))],
        ),
    ]


def _setting_examples() -> list[Event]:
    return [
        programme.SettingEnrolled(
            area_id=AREA,
            setting_id="hillside-academy",
            name="Hillside Academy",
            kind="school",
            urn="123456",
            lead_name="Jo Bell",
            enrolled_on=_day(5, 6),
        ),
        programme.SettingLeadChanged(
            area_id=AREA,
            setting_id="hillside-academy",
            lead_name="Chris Day",
            changed_on=_day(10, 1),
        ),
        programme.BriefingDelivered(
            area_id=AREA,
            setting_id="hillside-academy",
            delivered_on=_day(9, 10),
            expected_referrals_per_term=6,
            attendees=12,
        ),
        programme.ServiceLevelArrangementAgreed(
            area_id=AREA,
            setting_id="hillside-academy",
            reference="SLA-HA-01",
            starts_on=datetime.date(2026, 1, 5),
            ends_on=datetime.date(2026, 7, 22),
            assessments_per_term=8,
            terms="Eight assessments a term; SLT visits fortnightly.",
        ),
    ]


def _phase_examples() -> list[Event]:
    return [
        programme.AreaPhaseChanged(
            area_id=AREA,
            from_phase="mobilisation",
            to_phase="pilot",
            changed_on=_day(9, 1),
        ),
        programme.ProgrammeSessionDelivered(
            area_id=AREA,
            session_id=_id(1),
            kind="training",
            title="Spotting communication needs",
            delivered_on=_day(9, 24),
            attendees=18,
            setting_ids=["hillside-academy"],
            attendees_by_setting={"hillside-academy": 18},
        ),
        programme.PilotEvaluationRecorded(
            area_id=AREA,
            evaluated_on=_day(12, 15),
            summary="Referrals arrived as expected; triage met its target.",
            recommendation="proceed-to-scale",
            approved_by="Chair, YJS Management Board",
            governance_report="https://reports.example.org/north-shire/pilot",
        ),
        programme.CommissioningCycleOpened(
            area_id=AREA,
            cycle_id="2026-27",
            commissioner="North Shire Council",
            starts_on=datetime.date(2026, 4, 1),
            ends_on=datetime.date(2027, 3, 31),
            report_due_on=datetime.date(2026, 10, 1),
            start_month=4,
            length_months=12,
        ),
        programme.GovernanceReportPresented(
            area_id=AREA,
            cycle_id="2026-27",
            board="YJS Management Board",
            presented_on=datetime.date(2026, 10, 8),
        ),
    ]


def referral_examples() -> list[Event]:
    """A referral arriving, consent being settled, and the case closing."""
    case = {"area_id": AREA, "referral_id": REFERRAL}
    return [
        referral.ReferralReceived(
            **case,
            setting_id="hillside-academy",
            child_ref="child-7f3a",
            criteria_version=1,
            referred_on=_day(9, 15),
            concerns=["Struggles to follow instructions", "Two suspensions"],
            baseline=BASELINE,
            year_group=9,
        ),
        referral.MoreInformationProvided(
            **case, request_id=_id(2), provided_on=_day(9, 17), answers=["Yes"]
        ),
        referral.ConsentConfirmed(**case, given_by="parent", confirmed_on=_day(9, 18)),
        referral.ConsentRefused(**case, refused_by="carer", refused_on=_day(9, 18)),
        referral.ConsentWithdrawn(
            **case, withdrawn_by="young-person", withdrawn_on=_day(10, 2)
        ),
        referral.ReferralWithdrawn(**case, withdrawn_on=_day(10, 3)),
        referral.ReferralClosed(**case, reason="completed", closed_on=_day(12, 18)),
    ]


def triage_examples() -> list[Event]:
    """Screening, the three possible decisions and a panel meeting."""
    case = {"area_id": AREA, "referral_id": REFERRAL}
    return [
        triage.ReferralScreened(
            **case,
            criteria_version=1,
            criteria_met=["At risk of exclusion"],
            meets_criteria=True,
            suggested_priority="urgent",
            thresholds_version=1,
            screened_on=_day(9, 15),
        ),
        triage.ReferralAccepted(**case, priority="urgent", decided_on=_day(9, 19)),
        triage.ReferralDeclined(
            **case,
            reason="No communication concern described",
            signposting=["School nursing service"],
            decided_on=_day(9, 19),
        ),
        triage.MoreInformationRequested(
            **case,
            request_id=_id(2),
            questions=["Has the child had a hearing test?"],
            requested_on=_day(9, 16),
        ),
        triage.MoreInformationReceived(
            **case, request_id=_id(2), received_on=_day(9, 17), answers=["Yes"]
        ),
        triage.TriageMeetingHeld(
            area_id=AREA,
            meeting_id=_id(3),
            held_on=_day(9, 19),
            attendee_roles=["triage-lead", "slt-clinician", "yjs-worker"],
            referral_ids=[REFERRAL],
        ),
    ]


def assessment_examples() -> list[Event]:
    """Assessment, report and feedback, ending with an action plan."""
    case = {"area_id": AREA, "referral_id": REFERRAL}
    return [
        assessment.AssessmentScheduled(
            **case, assessment_id=_id(4), scheduled_for=_day(10, 6)
        ),
        assessment.AssessmentRescheduled(
            **case,
            assessment_id=_id(4),
            previous_date=_day(10, 6),
            scheduled_for=_day(10, 8),
        ),
        assessment.AssessmentNotAttended(
            **case, assessment_id=_id(4), missed_on=_day(10, 8)
        ),
        assessment.AssessmentCancelled(
            **case,
            assessment_id=_id(4),
            cancelled_on=_day(10, 9),
            reason="consent-withdrawn",
        ),
        assessment.AssessmentCompleted(
            **case,
            assessment_id=_id(4),
            completed_on=_day(10, 13),
            communication_needs=["Understanding spoken instructions"],
        ),
        *_report_examples(),
    ]


def _report_examples() -> list[Event]:
    case = {"area_id": AREA, "referral_id": REFERRAL}
    shared_with = ["setting-lead", "parent-carer", "yjs-worker"]
    return [
        assessment.ReportIssued(
            **case,
            report_id=_id(5),
            version=1,
            issued_on=_day(10, 20),
            shared_with=shared_with,
        ),
        assessment.ReportAmended(
            **case,
            report_id=_id(5),
            version=2,
            amended_on=_day(10, 22),
            reason="Corrected the setting's name",
            shared_with=shared_with,
        ),
        assessment.FeedbackMeetingHeld(
            **case,
            meeting_id=_id(6),
            held_on=_day(10, 27),
            attendee_roles=["setting-lead", "parent-carer"],
            report_version=2,
        ),
        assessment.ActionPlanAgreed(
            **case,
            plan_id=_id(7),
            agreed_on=_day(10, 27),
            actions=[
                Action(
                    description="Give instructions one step at a time",
                    owner_role="setting-lead",
                    due_on=_day(11, 3),
                )
            ],
            review_required=True,
            review_after_weeks=8,
            meeting_id=_id(6),
            feedback_meeting_on=_day(10, 27),
        ),
    ]


def review_examples() -> list[Event]:
    """Timers, the follow-up review and a response-time breach."""
    case = {"area_id": AREA, "referral_id": REFERRAL}
    return [
        review.ReviewScheduled(
            **case, review_id=REVIEW, scheduled_on=_day(10, 27), due_on=_day(12, 22)
        ),
        review.ReviewDue(**case, review_id=REVIEW, due_on=_day(12, 22)),
        review.ReviewOverdueFlagged(
            **case,
            review_id=REVIEW,
            due_on=_day(12, 22),
            flagged_on=_day(12, 31),
            working_days_overdue=3,
        ),
        review.ReviewCompleted(
            **case,
            review_id=REVIEW,
            completed_on=_day(12, 31),
            baseline=BASELINE,
            outcome=Baseline(
                attendance_percent=88,
                suspensions_this_year=2,
                exclusion_status="none",
            ),
            decision="close",
        ),
        review.ResponseTimeBreached(
            **case,
            stage="triage",
            target_working_days=5,
            elapsed_working_days=6,
            policy_version=1,
            started_on=_day(9, 15),
            breached_on=_day(9, 23),
        ),
        review.TimersCancelled(
            **case, cancelled_on=_day(12, 31), timers=["review-overdue"]
        ),
    ]


def all_examples() -> list[Event]:
    """One example of every event in the catalogue."""
    return [
        *programme_examples(),
        *referral_examples(),
        *triage_examples(),
        *assessment_examples(),
        *review_examples(),
    ]
