"""What triage shows: one referral's triage record and a line of the queue."""

from __future__ import annotations

from datetime import date
from typing import Any

from prre_triage.domain import InformationRequest, TriageCase


def screening_view(case: TriageCase) -> dict[str, Any]:
    screened = case.screening
    return {
        "criteria_version": screened.criteria_version,
        "criteria_met": screened.criteria_met,
        "criteria_not_met": screened.criteria_not_met,
        "meets_criteria": screened.meets_criteria,
        "suggested_priority": screened.suggested_priority,
        "thresholds_version": screened.thresholds_version,
        "screened_on": screened.screened_on.isoformat(),
    }


def request_view(request: InformationRequest) -> dict[str, Any]:
    baseline = request.new_baseline
    return {
        "request_id": str(request.request_id),
        "questions": request.questions,
        "requested_on": request.requested_on.isoformat(),
        "answers": request.answers,
        "concerns_added": request.concerns_added,
        "new_baseline": baseline.model_dump() if baseline else None,
        "received_on": request.received_on.isoformat() if request.received_on else None,
    }


def decision_view(case: TriageCase) -> dict[str, Any] | None:
    if not case.decision:
        return None
    decided = dict(case.decision)
    return {
        "outcome": case.status,
        "decided_on": decided["decided_on"].isoformat(),
        "priority": decided.get("priority"),
        "reason": decided.get("reason"),
        "signposting": decided.get("signposting", []),
        "meeting_id": str(decided["meeting_id"]) if decided["meeting_id"] else None,
    }


def case_view(case: TriageCase) -> dict[str, Any]:
    """A referral's triage record, as the triage lead and the referrer read it."""
    return {
        "referral_id": str(case.referral_id),
        "area_id": case.area_id,
        "status": case.status,
        "screening": screening_view(case),
        "decision": decision_view(case),
        "information_requests": [request_view(r) for r in case.requests],
        "version": case.version,
    }


def queue_entry(case: TriageCase, received_on: date, today: date) -> dict[str, Any]:
    """One line of an area's triage queue.

    Days waiting are calendar days since the referral was received; the
    review scheduler counts working days against the area's target.
    """
    return {
        "referral_id": str(case.referral_id),
        "received_on": received_on.isoformat(),
        "days_waiting": (today - received_on).days,
        "suggested_priority": case.screening.suggested_priority,
        "meets_criteria": case.screening.meets_criteria,
        "criteria_not_met": case.screening.criteria_not_met,
        "answers_received": bool(case.requests),
    }
