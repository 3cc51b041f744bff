"""The application layer: who may act, where the case stands, load and save.

Each HTTP command finds what this service knows of the referral (its local
referral directory, fed by the referral and triage topics), checks the caller's
role and area, loads the referral's assessment record and saves what it
records. Dates a person gives are the days facts happened, which may be
earlier than the day they are recorded.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, time

from prre_assessment.domain import AssessmentRecord, CaseStatus, record_id
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.eventstore import CommandContext
from prre_runtime.identity import Principal, Role
from prre_runtime.referral_directory import directory_entry
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)

ACTING_ROLES = (Role.CLINICIAN,)
"""Only SLT clinicians book, complete and report on assessments."""

READING_ROLES = (Role.CLINICIAN, Role.PROGRAMME_LEAD)
"""Who may see the queue, a record and download reports (see ADR 0009)."""


async def case_status(runtime: ServiceRuntime, referral_id: uuid.UUID) -> CaseStatus:
    """Where the referral stands, or ``NotFound`` if this service never heard of it."""
    entry = await directory_entry(runtime.pool, referral_id)
    if entry is None:
        raise NotFound(
            f"No referral with id {referral_id} is known to the assessment service."
        )
    return CaseStatus(
        referral_id=referral_id,
        area_id=entry["area_id"],
        triage=entry["triage"],
        consent=entry["consent"],
        closed_reason=entry["closed_reason"],
    )


async def authorised_case(
    runtime: ServiceRuntime,
    caller: Principal,
    referral_id: uuid.UUID,
    roles: tuple[Role, ...],
) -> CaseStatus:
    caller.ensure_role(*roles)
    case = await case_status(runtime, referral_id)
    caller.ensure_area(case.area_id)
    return case


async def find_record(
    runtime: ServiceRuntime, referral_id: uuid.UUID
) -> AssessmentRecord | None:
    try:
        return await runtime.store.get(
            record_id(referral_id), AssessmentRecord, "assessment record"
        )
    except NotFound:
        return None


async def booked_record(runtime: ServiceRuntime, case: CaseStatus) -> AssessmentRecord:
    """The case's record; a 409 if no assessment was ever scheduled."""
    record = await find_record(runtime, case.referral_id)
    if record is None:
        case.ensure_open()
        raise RuleBroken(
            "No assessment has been scheduled for this referral yet; schedule one "
            "first."
        )
    return record


def occurred(runtime: ServiceRuntime, on: date | None) -> datetime:
    """When a fact dated ``on`` happened: now if today, else that day at noon."""
    today = runtime.clock.today()
    if on is None or on >= today:
        return runtime.clock.now()
    return datetime.combine(on, time(12), tzinfo=UTC)


def context(
    runtime: ServiceRuntime, caller: Principal, on: date | None
) -> CommandContext:
    return runtime.command_context(caller, occurred(runtime, on))


async def save(runtime: ServiceRuntime, record: AssessmentRecord, what: str) -> None:
    await runtime.store.save(record)
    runtime.events_saved()
    logger.info("assessment record of referral %s: %s", record.referral_id, what)
