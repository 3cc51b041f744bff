"""The triage service's HTTP API: the queue, decisions, meetings.

Triage leads of an area decide its referrals. The referrer of the area may
read a referral's triage record, so they can see the decision and its reason.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter

from prre_runtime.errors import NotFound
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import Principal, Role
from prre_runtime.service import ServiceRuntime
from prre_triage import commands
from prre_triage.commands import (
    AcceptReferral,
    Decision,
    DeclineReferral,
    HoldTriageMeeting,
    RequestMoreInformation,
)
from prre_triage.domain import (
    AWAITING_DECISION,
    TriageCase,
    TriagePanel,
    case_id,
    panel_id,
)
from prre_triage.views import case_view, queue_entry

logger = logging.getLogger(__name__)

DECIDING_ROLES = (Role.TRIAGE_LEAD,)
QUEUE_ROLES = (Role.TRIAGE_LEAD, Role.PROGRAMME_LEAD)
READING_ROLES = (Role.TRIAGE_LEAD, Role.PROGRAMME_LEAD, Role.REFERRER, Role.CLINICIAN)

router = APIRouter(tags=["triage"])


@router.get("/areas/{area_id}/triage-queue")
async def triage_queue(
    area_id: str, caller: Caller, runtime: Runtime
) -> list[dict[str, Any]]:
    """Open referrals of the area awaiting a triage decision, urgent first."""
    # Known shortcoming: each open referral's case is loaded from the event
    # store on every call, fine for a pilot's tens of cases; a queue table fed
    # from this service's own topic would make it one query.
    caller.ensure_area(area_id)
    caller.ensure_role(*QUEUE_ROLES)
    rows = await runtime.pool.fetch(
        "SELECT r.referral_id, r.referred_on FROM triage_referrals r "
        "JOIN referral_directory d USING (referral_id) "
        "WHERE r.area_id = $1 AND r.screened AND d.closed_reason IS NULL "
        "ORDER BY r.referred_on, r.referral_id",
        area_id,
    )
    today = runtime.clock.today()
    waiting = []
    for row in rows:
        case = await _case(runtime, row["referral_id"])
        if case.status == AWAITING_DECISION:
            waiting.append(queue_entry(case, row["referred_on"], today))
    return sorted(waiting, key=lambda e: e["suggested_priority"] != "urgent")


@router.get("/referrals/{referral_id}/triage")
async def triage_record(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """A referral's screening, decision, reason, signposting and questions."""
    caller.ensure_role(*READING_ROLES)
    case = await _case(runtime, referral_id)
    caller.ensure_area(case.area_id)
    return case_view(case)


@router.post("/referrals/{referral_id}/triage/accept")
async def accept(
    referral_id: uuid.UUID, body: AcceptReferral, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Accept the referral with a priority (urgent or routine)."""
    return await _decide(runtime, caller, referral_id, body)


@router.post("/referrals/{referral_id}/triage/decline")
async def decline(
    referral_id: uuid.UUID, body: DeclineReferral, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Decline the referral with a reason and where else to turn."""
    return await _decide(runtime, caller, referral_id, body)


@router.post("/referrals/{referral_id}/triage/more-information")
async def request_more_information(
    referral_id: uuid.UUID,
    body: RequestMoreInformation,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    """Ask the referrer questions; the referral waits for the answers."""
    return await _decide(runtime, caller, referral_id, body)


@router.post("/areas/{area_id}/triage-meetings", status_code=201)
async def hold_meeting(
    area_id: str, body: HoldTriageMeeting, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record a triage meeting with its attendees and each decision it made."""
    caller.ensure_area(area_id)
    caller.ensure_role(*DECIDING_ROLES)
    meeting = await commands.hold_meeting(runtime, caller, area_id, body)
    logger.info("triage meeting %s held in area %s", meeting["meeting_id"], area_id)
    return meeting


@router.get("/areas/{area_id}/triage-meetings")
async def meetings(
    area_id: str, caller: Caller, runtime: Runtime
) -> list[dict[str, Any]]:
    """The area's triage meetings, oldest first."""
    caller.ensure_area(area_id)
    caller.ensure_role(*QUEUE_ROLES)
    try:
        panel = await runtime.store.get(panel_id(area_id), TriagePanel, "panel")
    except NotFound:
        return []
    return panel.meetings


async def _decide(
    runtime: ServiceRuntime, caller: Principal, referral_id: uuid.UUID, body: Decision
) -> dict[str, Any]:
    caller.ensure_role(*DECIDING_ROLES)
    case = await commands.decide(runtime, caller, referral_id, body)
    logger.info("triage decision on referral %s: %s", referral_id, case.status)
    return case_view(case)


async def _case(runtime: ServiceRuntime, referral_id: uuid.UUID) -> TriageCase:
    return await runtime.store.get(case_id(referral_id), TriageCase, "referral")
