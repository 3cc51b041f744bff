"""Triage commands: a triage lead's decisions, alone or in a triage meeting.

Each command loads the triage cases it needs, asks them to record facts and
saves everything in one transaction, so a meeting with one invalid decision
records nothing at all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from prre_contracts.events.triage import TriageMeetingHeld
from prre_contracts.events.values import Priority, StakeholderRole
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.eventstore import CommandContext
from prre_runtime.identity import Principal
from prre_runtime.referral_directory import directory_entry
from prre_runtime.service import ServiceRuntime
from prre_triage.domain import Attendee, TriageCase, TriagePanel, case_id, panel_id

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptReferral(Command):
    """Take the referral on; urgent cases are assessed first."""

    priority: Priority
    on: date | None = None


class DeclineReferral(Command):
    """Do not take the referral on; the referrer reads the reason."""

    reason: Text
    signposting: list[Text] = Field(min_length=1)
    on: date | None = None


class RequestMoreInformation(Command):
    """Ask the referrer questions before deciding."""

    questions: list[Text] = Field(min_length=1)
    on: date | None = None


Decision = AcceptReferral | DeclineReferral | RequestMoreInformation


class AcceptInMeeting(AcceptReferral):
    referral_id: uuid.UUID
    outcome: Literal["accept"]


class DeclineInMeeting(DeclineReferral):
    referral_id: uuid.UUID
    outcome: Literal["decline"]


class RequestInMeeting(RequestMoreInformation):
    referral_id: uuid.UUID
    outcome: Literal["more-information"]


MeetingDecision = Annotated[
    AcceptInMeeting | DeclineInMeeting | RequestInMeeting,
    Field(discriminator="outcome"),
]


class MeetingAttendee(Command):
    name: Name
    role: StakeholderRole


class HoldTriageMeeting(Command):
    """Record a triage meeting and every referral it decided."""

    held_on: date
    chair_name: Name | None = None
    attendees: list[MeetingAttendee] = Field(min_length=1)
    decisions: list[MeetingDecision] = Field(min_length=1)


def occurred(runtime: ServiceRuntime, on: date | None) -> datetime:
    """When a fact dated ``on`` happened: now if today, else that day at noon."""
    today = runtime.clock.today()
    if on is not None and on > today:
        raise RuleBroken(
            f"A triage decision cannot be dated in the future ({on.isoformat()}); "
            "record it on the day it is made."
        )
    if on is None or on == today:
        return runtime.clock.now()
    return datetime.combine(on, time(12), tzinfo=UTC)


async def decide(
    runtime: ServiceRuntime,
    caller: Principal,
    referral_id: uuid.UUID,
    decision: Decision,
) -> TriageCase:
    """Record one decision on one referral, outside a meeting."""
    context = runtime.command_context(caller, occurred(runtime, decision.on))
    case = await load_case(runtime, referral_id)
    caller.ensure_area(case.area_id)
    await ensure_open(runtime, referral_id)
    apply(case, decision, context.occurred_at.date(), None, context)
    await runtime.store.save(case)
    runtime.events_saved()
    return case


def apply(
    case: TriageCase,
    decision: Decision,
    on: date,
    meeting_id: uuid.UUID | None,
    context: CommandContext,
) -> None:
    match decision:
        case AcceptReferral():
            case.accept(decision.priority, on, meeting_id, context)
        case DeclineReferral():
            case.decline(decision.reason, decision.signposting, on, meeting_id, context)
        case RequestMoreInformation():
            case.request_more_information(decision.questions, on, meeting_id, context)


async def load_case(runtime: ServiceRuntime, referral_id: uuid.UUID) -> TriageCase:
    """The referral's triage case; 409 if triage knows it but has not screened it."""
    try:
        return await runtime.store.get(case_id(referral_id), TriageCase, "referral")
    except NotFound:
        if await directory_entry(runtime.pool, referral_id) is None:
            raise
        raise RuleBroken(
            f"Referral {referral_id} has reached triage but is not screened yet "
            "(the area's criteria or thresholds it names have not arrived); try "
            "again shortly."
        ) from None


async def ensure_open(runtime: ServiceRuntime, referral_id: uuid.UUID) -> None:
    entry = await directory_entry(runtime.pool, referral_id)
    if entry is not None and entry["closed_reason"]:
        raise RuleBroken(
            f"Referral {referral_id} is closed ({entry['closed_reason']}); triage "
            "decisions can no longer be recorded on it."
        )


async def hold_meeting(
    runtime: ServiceRuntime, caller: Principal, area_id: str, body: HoldTriageMeeting
) -> dict[str, object]:
    """Record the meeting and each of its decisions, all or nothing."""
    context = runtime.command_context(caller, occurred(runtime, body.held_on))
    meeting_id = uuid.uuid4()

    # Every decision must be valid before anything is saved.
    cases = [
        await _decide_in_meeting(runtime, area_id, decision, meeting_id, context)
        for decision in _each_referral_once(body.decisions)
    ]

    # The meeting itself, on the area's panel.
    held = TriageMeetingHeld(
        area_id=area_id, meeting_id=meeting_id, held_on=body.held_on,
        chair_name=body.chair_name,
        attendee_roles=sorted({a.role for a in body.attendees}),
        referral_ids=[case.referral_id for case in cases],
    )  # fmt: skip
    attendees = [Attendee(a.name, a.role) for a in body.attendees]
    panel = await _panel(runtime, area_id)
    if panel is None:
        panel = TriagePanel.first_meeting(area_id, held, attendees, context)
    else:
        panel.hold_meeting(held, attendees, context)

    await runtime.store.save(panel, *cases)
    runtime.events_saved()
    return panel.meetings[-1]


def _each_referral_once(decisions: list[MeetingDecision]) -> list[MeetingDecision]:
    seen: set[uuid.UUID] = set()
    for decision in decisions:
        if decision.referral_id in seen:
            raise RuleBroken(
                f"Referral {decision.referral_id} is decided twice in this meeting; "
                "record one decision per referral."
            )
        seen.add(decision.referral_id)
    return decisions


async def _decide_in_meeting(
    runtime: ServiceRuntime,
    area_id: str,
    decision: MeetingDecision,
    meeting_id: uuid.UUID,
    context: CommandContext,
) -> TriageCase:
    referral_id = decision.referral_id
    try:
        case = await load_case(runtime, referral_id)
        if case.area_id != area_id:
            raise NotFound(f"No referral with id {referral_id}.")
        await ensure_open(runtime, referral_id)
        apply(case, decision, context.occurred_at.date(), meeting_id, context)
    except NotFound:
        raise RuleBroken(
            f"Referral {referral_id} is not known to triage in area '{area_id}'; "
            "nothing from this meeting was recorded. Check the referral ids."
        ) from None
    except RuleBroken as broken:
        raise RuleBroken(
            f"Referral {referral_id}: {broken} Nothing from this meeting was recorded."
        ) from broken
    return case


async def _panel(runtime: ServiceRuntime, area_id: str) -> TriagePanel | None:
    try:
        return await runtime.store.get(panel_id(area_id), TriagePanel, "panel")
    except NotFound:
        return None
