"""One case as the read side sees it: pure rules, no I/O.

A case file is a plain dict with the columns of the ``caseload`` table. Each
event of the case fills in some of them (:func:`apply`); the stage the case
is in, and the stages it has finished, follow from those columns alone
(:func:`stage_of`, :func:`finished_stages`). Keeping the rules here, apart
from SQL, means a rebuild and a live consumer cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from prre_contracts import Event
from prre_contracts.events.assessment import (
    ActionPlanAgreed,
    AssessmentCompleted,
    AssessmentNotAttended,
    AssessmentRescheduled,
    AssessmentScheduled,
    FeedbackMeetingHeld,
    ReportIssued,
)
from prre_contracts.events.referral import (
    ConsentConfirmed,
    ConsentRefused,
    ConsentWithdrawn,
    MoreInformationProvided,
    ReferralClosed,
    ReferralReceived,
    ReferralWithdrawn,
)
from prre_contracts.events.review import (
    ResponseTimeBreached,
    ReviewCompleted,
    ReviewDue,
    ReviewScheduled,
)
from prre_contracts.events.triage import (
    MoreInformationReceived,
    MoreInformationRequested,
    ReferralAccepted,
    ReferralDeclined,
    ReferralScreened,
)
from prre_contracts.events.values import Baseline

CaseFile = dict[str, Any]

STAGES: dict[str, tuple[str, str]] = {
    "awaiting-triage": ("Awaiting triage", "Triage the referral"),
    "more-information": ("More information requested", "Chase the referrer"),
    "awaiting-consent": ("Awaiting consent", "Obtain consent"),
    "to-schedule": ("To schedule", "Book the assessment"),
    "assessment-booked": ("Assessment booked", "Assess the child"),
    "report-due": ("Report due", "Write and issue the report"),
    "feedback-due": ("Feedback due", "Hold the feedback meeting"),
    "plan-due": ("Plan due", "Agree the action plan"),
    "plan-agreed": ("Plan agreed", "Close the case"),
    "review-scheduled": ("Review scheduled", "Review on the date set"),
    "review-due": ("Review due", "Carry out the review"),
    "reviewed": ("Reviewed", "Close the case or continue support"),
    "declined": ("Declined", "Close the case"),
    "stopped": ("Consent ended", "Close the case"),
    "closed": ("Closed", ""),
}
"""Each stage of a case: its label and the next action it asks of the team."""

EXCLUSION_ORDER = ("none", "at-risk", "suspended", "permanently-excluded")
"""Exclusion statuses from best to worst, to tell an improvement."""


def new_case_file(referral_id: object, area_id: str) -> CaseFile:
    """An empty case: the defaults of every column a later event may fill."""
    return {
        "referral_id": referral_id,
        "area_id": area_id,
        "consent": "pending",
        "triage": "pending",
        "assessment_missed": 0,
        "review_is_due": False,
        "breached_stages": [],
    }


def apply(case: CaseFile, event: Event) -> date | None:
    """Fill in what ``event`` tells about the case; return the day it happened."""
    for kind, rule in _RULES:
        if isinstance(event, kind):
            day: date | None = rule(case, event)
            return day
    return _by_name(case, event)


def stage_of(case: CaseFile) -> str:
    """The stage a case is in, from the latest milestone it has reached."""
    if case.get("closed_on"):
        return "closed"
    if _awaiting_review(case):
        return "review-due" if case.get("review_is_due") else "review-scheduled"
    milestones = (
        ("reviewed_on", "reviewed"),
        ("plan_on", "plan-agreed"),
        ("feedback_on", "plan-due"),
        ("report_on", "feedback-due"),
        ("assessed_on", "report-due"),
    )
    for column, stage in milestones:
        if case.get(column):
            return stage
    if case["consent"] in ("refused", "withdrawn"):
        return "stopped"
    return _triage_stage(case)


def _awaiting_review(case: CaseFile) -> bool:
    """A review is set and not yet done (after further support, the next one)."""
    due, reviewed = case.get("review_due_on"), case.get("reviewed_on")
    return bool(due) and (not reviewed or due > reviewed)


def _triage_stage(case: CaseFile) -> str:
    if case["triage"] == "declined":
        return "declined"
    if case["triage"] == "more-information":
        return "more-information"
    if case["triage"] != "accepted":
        return "awaiting-triage"
    if case["consent"] != "confirmed":
        return "awaiting-consent"
    return "assessment-booked" if case.get("assessment_booked_for") else "to-schedule"


@dataclass(frozen=True)
class StageSpan:
    """One stage of the pathway that has a response-time target, and its dates."""

    stage: str
    started_on: date
    ended_on: date | None


def stage_spans(case: CaseFile) -> list[StageSpan]:
    """Every timed stage that has begun, with its end once it has ended.

    Triage and consent both start when the referral arrives and run side by
    side; the assessment stage begins on the later of acceptance and consent,
    since no child is assessed before both.
    """
    accepted, consented = case.get("accepted_on"), case.get("consented_on")
    assessment_start = max(accepted, consented) if accepted and consented else None
    starts_and_ends = (
        ("triage", case.get("received_on"), case.get("triaged_on")),
        ("consent", case.get("received_on"), case.get("consented_on")),
        ("assessment", assessment_start, case.get("assessed_on")),
        ("report", case.get("assessed_on"), case.get("report_on")),
        ("feedback", case.get("report_on"), case.get("feedback_on")),
    )
    spans = [
        StageSpan(stage, start, end) for stage, start, end in starts_and_ends if start
    ]
    review = _review_span(case)
    return [*spans, review] if review else spans


def _review_span(case: CaseFile) -> StageSpan | None:
    """The review stage runs from the day a review falls due until it is done.

    Only the first review is timed once done; a later one (after further
    support) shows its running clock but its finished time is not kept.
    """
    due, reviewed = case.get("review_due_on"), case.get("reviewed_on")
    if due and reviewed and reviewed >= due:
        return StageSpan("review", due, reviewed)
    if due and case.get("review_is_due"):
        return StageSpan("review", due, None)
    return None


TIMED_STAGE = {
    "awaiting-triage": "triage",
    "more-information": "triage",
    "awaiting-consent": "consent",
    "to-schedule": "assessment",
    "assessment-booked": "assessment",
    "report-due": "report",
    "feedback-due": "feedback",
    "review-due": "review",
}
"""The response-time stage whose clock runs while a case is in each stage."""


def current_span(case: CaseFile) -> StageSpan | None:
    """The timed stage an open case is in now, if its clock is running."""
    timed = TIMED_STAGE.get(stage_of(case))
    running = [
        span
        for span in stage_spans(case)
        if span.stage == timed and span.ended_on is None
    ]
    return running[0] if running else None


def _received(case: CaseFile, event: ReferralReceived) -> date:
    case.update(
        setting_id=event.setting_id,
        child_ref=event.child_ref,
        criteria_version=event.criteria_version,
        year_group=event.year_group,
        received_on=event.referred_on,
    )
    _set_baseline(case, event.baseline)
    return event.referred_on


def _set_baseline(case: CaseFile, baseline: Baseline) -> None:
    case.update(
        baseline_attendance=baseline.attendance_percent,
        baseline_suspensions=baseline.suspensions_this_year,
        baseline_exclusion=baseline.exclusion_status,
    )


def _information_provided(case: CaseFile, event: MoreInformationProvided) -> date:
    if case["triage"] == "more-information":
        case["triage"] = "pending"
    if event.baseline is not None:
        _set_baseline(case, event.baseline)
    return event.provided_on


def _information_received(case: CaseFile, event: MoreInformationReceived) -> date:
    if case["triage"] == "more-information":
        case["triage"] = "pending"
    return event.received_on


def _screened(case: CaseFile, event: ReferralScreened) -> date:
    case.update(
        screened_on=event.screened_on, suggested_priority=event.suggested_priority
    )
    return event.screened_on


def _accepted(case: CaseFile, event: ReferralAccepted) -> date:
    case.update(
        triage="accepted",
        priority=event.priority,
        triaged_on=event.decided_on,
        accepted_on=event.decided_on,
    )
    return event.decided_on


def _declined(case: CaseFile, event: ReferralDeclined) -> date:
    case.update(
        triage="declined", triaged_on=event.decided_on, decline_reason=event.reason
    )
    return event.decided_on


def _information_requested(case: CaseFile, event: MoreInformationRequested) -> date:
    case.update(triage="more-information", information_requested_on=event.requested_on)
    return event.requested_on


def _consent_confirmed(case: CaseFile, event: ConsentConfirmed) -> date:
    case.update(
        consent="confirmed",
        consent_on=event.confirmed_on,
        consented_on=event.confirmed_on,
    )
    return event.confirmed_on


def _consent_refused(case: CaseFile, event: ConsentRefused) -> date:
    case.update(consent="refused", consent_on=event.refused_on)
    return event.refused_on


def _consent_withdrawn(case: CaseFile, event: ConsentWithdrawn) -> date:
    case.update(consent="withdrawn", consent_on=event.withdrawn_on)
    return event.withdrawn_on


def _withdrawn(case: CaseFile, event: ReferralWithdrawn) -> date:
    case["withdrawn_on"] = event.withdrawn_on
    return event.withdrawn_on


def _closed(case: CaseFile, event: ReferralClosed) -> date:
    case.update(closed_on=event.closed_on, closed_reason=event.reason)
    return event.closed_on


def _scheduled(case: CaseFile, event: AssessmentScheduled) -> None:
    case["assessment_booked_for"] = event.scheduled_for


def _rescheduled(case: CaseFile, event: AssessmentRescheduled) -> None:
    case["assessment_booked_for"] = event.scheduled_for


def _not_attended(case: CaseFile, event: AssessmentNotAttended) -> date:
    case["assessment_booked_for"] = None
    case["assessment_missed"] = case.get("assessment_missed", 0) + 1
    return event.missed_on


def _assessed(case: CaseFile, event: AssessmentCompleted) -> date:
    case["assessed_on"] = event.completed_on
    return event.completed_on


def _report_issued(case: CaseFile, event: ReportIssued) -> date:
    case["report_on"] = case.get("report_on") or event.issued_on
    return event.issued_on


def _feedback(case: CaseFile, event: FeedbackMeetingHeld) -> date:
    case["feedback_on"] = case.get("feedback_on") or event.held_on
    return event.held_on


def _plan(case: CaseFile, event: ActionPlanAgreed) -> date:
    case.update(plan_on=event.agreed_on, review_required=event.review_required)
    return event.agreed_on


def _review_scheduled(case: CaseFile, event: ReviewScheduled) -> date:
    case.update(review_due_on=event.due_on, review_is_due=False)
    return event.scheduled_on


def _review_due(case: CaseFile, event: ReviewDue) -> date:
    case.update(review_due_on=event.due_on, review_is_due=True)
    return event.due_on


def _reviewed(case: CaseFile, event: ReviewCompleted) -> date:
    case.update(
        reviewed_on=event.completed_on,
        review_decision=event.decision,
        outcome_attendance=event.outcome.attendance_percent,
        outcome_suspensions=event.outcome.suspensions_this_year,
        outcome_exclusion=event.outcome.exclusion_status,
    )
    _set_baseline(case, event.baseline)
    return event.completed_on


def _breached(case: CaseFile, event: ResponseTimeBreached) -> None:
    if event.stage not in case["breached_stages"]:
        case["breached_stages"] = [*case["breached_stages"], event.stage]


def _by_name(case: CaseFile, event: Event) -> date | None:
    """Events newer than this code, recognised by name (a cancelled booking)."""
    if event.event_type == "AssessmentCancelled":
        case["assessment_booked_for"] = None
    return None


_RULES: tuple[tuple[type[Any], Any], ...] = (
    (ReferralReceived, _received),
    (MoreInformationProvided, _information_provided),
    (ReferralScreened, _screened),
    (ReferralAccepted, _accepted),
    (ReferralDeclined, _declined),
    (MoreInformationRequested, _information_requested),
    (MoreInformationReceived, _information_received),
    (ConsentConfirmed, _consent_confirmed),
    (ConsentRefused, _consent_refused),
    (ConsentWithdrawn, _consent_withdrawn),
    (ReferralWithdrawn, _withdrawn),
    (ReferralClosed, _closed),
    (AssessmentScheduled, _scheduled),
    (AssessmentRescheduled, _rescheduled),
    (AssessmentNotAttended, _not_attended),
    (AssessmentCompleted, _assessed),
    (ReportIssued, _report_issued),
    (FeedbackMeetingHeld, _feedback),
    (ActionPlanAgreed, _plan),
    (ReviewScheduled, _review_scheduled),
    (ReviewDue, _review_due),
    (ReviewCompleted, _reviewed),
    (ResponseTimeBreached, _breached),
)
"""Which rule fills in the case file for each kind of case event."""
