"""What the API shows of an assessment record, and the report as a document."""

from __future__ import annotations

from typing import Any

from prre_assessment.domain import AssessmentRecord, ReportVersion, Stakeholder


def _people(people: tuple[Stakeholder, ...]) -> list[dict[str, str]]:
    return [person.as_private() for person in people]


def _report(record: AssessmentRecord, report: ReportVersion) -> dict[str, Any]:
    return {
        "version": report.version,
        "issued_on": report.issued_on.isoformat(),
        "reason": report.reason,
        "shared_with": _people(report.shared_with),
        "download": f"/assessments/{record.referral_id}/report/versions/"
        f"{report.version}",
    }


def record_view(record: AssessmentRecord) -> dict[str, Any]:
    """The record for an authorised reader; report text only by download."""
    booking = record.booking
    return {
        "referral_id": str(record.referral_id),
        "area_id": record.area_id,
        "assessment_id": str(booking.assessment_id),
        "status": booking.status,
        "scheduled_for": booking.scheduled_for.isoformat(),
        "clinician_name": booking.clinician_name,
        "location": booking.location,
        "history": [
            {**entry, "on": entry["on"].isoformat()} for entry in booking.history
        ],
        "communication_needs": record.communication_needs,
        "reports": [_report(record, report) for report in record.reports],
        "feedback_meetings": [_meeting(meeting) for meeting in record.meetings],
        "action_plans": [plan.model_dump(mode="json") for plan in record.plans],
        "version": record.version,
    }


def _meeting(meeting: dict[str, Any]) -> dict[str, Any]:
    return {
        "meeting_id": str(meeting["meeting_id"]),
        "held_on": meeting["held_on"].isoformat(),
        "attendees": _people(meeting["attendees"]),
        "report_version": meeting["report_version"],
    }


def report_document(record: AssessmentRecord, report: ReportVersion) -> str:
    """One report version as Markdown: a short heading, then the SLT's text."""
    shared = ", ".join(f"{p.name} ({p.role})" for p in report.shared_with)
    lines = [
        f"# Speech and language therapy assessment report (version {report.version})",
        "",
        f"- Referral: {record.referral_id}",
        f"- Issued on: {report.issued_on.isoformat()}",
        f"- Shared with: {shared}",
    ]
    if report.reason:
        lines.append(f"- Amended because: {report.reason}")
    return "\n".join([*lines, "", report.text, ""])
