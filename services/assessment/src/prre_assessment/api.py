"""The assessment service's HTTP API: booking, report, meeting and plan.

Every command is sent by an SLT clinician of the referral's area; request
bodies are commands (imperative names). The domain answers a broken pathway
rule with a 409 whose message says what to do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from prre_assessment.commands import (
    ACTING_ROLES,
    READING_ROLES,
    authorised_case,
    booked_record,
    case_status,
    context,
    find_record,
    save,
)
from prre_assessment.domain import AssessmentRecord, CaseStatus, Stakeholder
from prre_assessment.queue import further_support_reviews
from prre_assessment.views import record_view, report_document
from prre_contracts.events.values import Action, StakeholderRole
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import Principal
from prre_runtime.service import ServiceRuntime

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]
Document = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)
]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(Command):
    """Someone around the child: their role in the case and their name."""

    role: StakeholderRole
    name: Name

    def stakeholder(self) -> Stakeholder:
        return Stakeholder(self.role, self.name)


class ScheduleAssessment(Command):
    scheduled_for: date
    clinician_name: Name
    location: Name | None = None


class RescheduleAssessment(Command):
    scheduled_for: date
    reason: Text | None = None


class RecordNonAttendance(Command):
    missed_on: date | None = None
    reason: Text | None = None


class CompleteAssessment(Command):
    completed_on: date | None = None
    communication_needs: list[Text] = Field(default_factory=list)


class IssueReport(Command):
    text: Document
    shared_with: list[Person] = Field(min_length=1)
    author_name: Name
    issued_on: date | None = None


class AmendReport(Command):
    text: Document
    reason: Text
    shared_with: list[Person] = Field(min_length=1)
    amended_on: date | None = None


class HoldFeedbackMeeting(Command):
    held_on: date
    attendees: list[Person] = Field(min_length=1)


class AgreeActionPlan(Command):
    """The plan; ``review_after_weeks`` is any positive number, the domain
    refuses one outside the 6 to 12 week window with a 409."""

    actions: list[Action] = Field(min_length=1)
    review_required: bool
    review_after_weeks: int | None = Field(default=None, ge=1)
    agreed_on: date | None = None


assessments = APIRouter(prefix="/assessments", tags=["assessments"])


@assessments.post("/{referral_id}/schedule", status_code=201)
async def schedule(
    referral_id: uuid.UUID, body: ScheduleAssessment, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Book the assessment of an accepted, consented referral."""
    case = await authorised_case(runtime, caller, referral_id, ACTING_ROLES)
    record = await find_record(runtime, referral_id)
    if record is not None:
        record.schedule_again(case)
    record = AssessmentRecord.schedule(
        case,
        body.scheduled_for,
        body.clinician_name,
        body.location,
        context(runtime, caller, None),
    )
    await save(runtime, record, "scheduled")
    await _cancel_if_closed_meanwhile(runtime, caller, record)
    return record_view(record)


async def _cancel_if_closed_meanwhile(
    runtime: ServiceRuntime, caller: Principal, record: AssessmentRecord
) -> None:
    """Cancel a booking made while the case was being closed.

    The closure reaction cancels only a booking it can see; this second look
    at the directory catches one saved just after it looked. A closure whose
    consumer transaction commits after this look and whose reaction looked
    before the booking was saved still leaves a booking on a closed case
    (a narrow race; a lock shared by the directory and the event store would
    remove it).
    """
    case = await case_status(runtime, record.referral_id)
    if case.closed_reason is None:
        return
    if record.cancel(
        case.closed_reason, runtime.clock.today(), context(runtime, caller, None)
    ):
        await save(runtime, record, f"cancelled ({case.closed_reason})")


Step = Callable[[AssessmentRecord, CaseStatus], str]
"""Records one step on the booked record; returns what was done, for the log."""


async def _record_step(
    runtime: ServiceRuntime, caller: Principal, referral_id: uuid.UUID, step: Step
) -> dict[str, Any]:
    """Load the referral's booked record as a clinician of its area, record one
    step of the pathway on it, and save it."""
    case = await authorised_case(runtime, caller, referral_id, ACTING_ROLES)
    record = await booked_record(runtime, case)
    done = step(record, case)
    await save(runtime, record, done)
    return record_view(record)


@assessments.post("/{referral_id}/reschedule")
async def reschedule(
    referral_id: uuid.UUID,
    body: RescheduleAssessment,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        record.reschedule(
            case, body.scheduled_for, body.reason, context(runtime, caller, None)
        )
        return "rescheduled"

    return await _record_step(runtime, caller, referral_id, step)


@assessments.post("/{referral_id}/non-attendance")
async def record_non_attendance(
    referral_id: uuid.UUID,
    body: RecordNonAttendance,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        missed_on = body.missed_on or record.booking.scheduled_for
        record.record_non_attendance(
            case, missed_on, body.reason, context(runtime, caller, missed_on)
        )
        return "not attended"

    return await _record_step(runtime, caller, referral_id, step)


@assessments.post("/{referral_id}/complete")
async def complete(
    referral_id: uuid.UUID, body: CompleteAssessment, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        on = body.completed_on or runtime.clock.today()
        ctx = context(runtime, caller, body.completed_on)
        record.complete(case, on, body.communication_needs, ctx)
        return "completed"

    return await _record_step(runtime, caller, referral_id, step)


@assessments.post("/{referral_id}/report", status_code=201)
async def issue_report(
    referral_id: uuid.UUID, body: IssueReport, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Issue the written report (version 1) of a completed assessment."""

    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        on = body.issued_on or runtime.clock.today()
        people = [person.stakeholder() for person in body.shared_with]
        record.issue_report(
            case, body.text, people, on, body.author_name,
            context(runtime, caller, body.issued_on),
        )  # fmt: skip
        return "report issued"

    return await _record_step(runtime, caller, referral_id, step)


@assessments.post("/{referral_id}/report/amendments", status_code=201)
async def amend_report(
    referral_id: uuid.UUID, body: AmendReport, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Issue a corrected report as a new version."""

    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        on = body.amended_on or runtime.clock.today()
        people = [person.stakeholder() for person in body.shared_with]
        record.amend_report(
            case, body.text, body.reason, people, on,
            context(runtime, caller, body.amended_on),
        )  # fmt: skip
        return f"report version {len(record.reports)}"

    return await _record_step(runtime, caller, referral_id, step)


@assessments.get(
    "/{referral_id}/report/versions/{version}", response_class=PlainTextResponse
)
async def download_report(
    referral_id: uuid.UUID, version: int, caller: Caller, runtime: Runtime
) -> PlainTextResponse:
    """One version of the report as a Markdown document."""
    case = await authorised_case(runtime, caller, referral_id, READING_ROLES)
    record = await find_record(runtime, case.referral_id)
    report = record.report(version) if record else None
    if record is None or report is None:
        raise NotFound(f"No report version {version} for referral {referral_id}.")
    filename = f"assessment-report-{referral_id}-v{version}.md"
    return PlainTextResponse(
        report_document(record, report),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@assessments.post("/{referral_id}/feedback-meeting", status_code=201)
async def hold_feedback_meeting(
    referral_id: uuid.UUID,
    body: HoldFeedbackMeeting,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        people = [person.stakeholder() for person in body.attendees]
        record.hold_feedback_meeting(
            case, body.held_on, people, context(runtime, caller, body.held_on)
        )
        return "feedback meeting held"

    return await _record_step(runtime, caller, referral_id, step)


@assessments.post("/{referral_id}/action-plan", status_code=201)
async def agree_action_plan(
    referral_id: uuid.UUID, body: AgreeActionPlan, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record the action plan agreed at the feedback meeting."""
    further = await further_support_reviews(runtime.pool, referral_id)

    def step(record: AssessmentRecord, case: CaseStatus) -> str:
        on = body.agreed_on or runtime.clock.today()
        record.agree_action_plan(
            case, body.actions, _review_weeks(body), on, further,
            context(runtime, caller, body.agreed_on),
        )  # fmt: skip
        return "action plan agreed"

    return await _record_step(runtime, caller, referral_id, step)


def _review_weeks(body: AgreeActionPlan) -> int | None:
    """The review's timing; a number that contradicts ``review_required`` is a 409."""
    if not body.review_required:
        if body.review_after_weeks is not None:
            raise RuleBroken(
                "No follow-up review is required, so leave out review_after_weeks "
                "(or set review_required to true)."
            )
        return None
    if body.review_after_weeks is None:
        raise RuleBroken(
            "A follow-up review is required, so say after how many weeks it should "
            "take place (between 6 and 12 weeks after the feedback meeting)."
        )
    return body.review_after_weeks


@assessments.get("/{referral_id}")
async def read_record(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """The referral's assessment history, report versions, meetings and plans."""
    case = await authorised_case(runtime, caller, referral_id, READING_ROLES)
    record = await find_record(runtime, referral_id)
    if record is None:
        return {"referral_id": str(referral_id), "area_id": case.area_id,
                "status": "not-scheduled"}  # fmt: skip
    return record_view(record)
