"""How the scheduler follows other services' events.

Programme events keep the area's policy (nation, response times, terms);
case events start and stop stage clocks; an agreed action plan schedules its
review; a closure or a refused or withdrawn consent cancels every pending
timer of the case. Everything runs in the idempotent consumer's transaction.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from prre_contracts import Event, EventEnvelope
from prre_contracts.events.assessment import (
    ActionPlanAgreed,
    AssessmentCompleted,
    FeedbackMeetingHeld,
    ReportIssued,
)
from prre_contracts.events.base import CaseEvent
from prre_contracts.events.programme import (
    AreaRegistered,
    ResponseTimesDefined,
    TermDatesRecorded,
)
from prre_contracts.events.referral import (
    ConsentConfirmed,
    ConsentRefused,
    ConsentWithdrawn,
    MoreInformationProvided,
    ReferralClosed,
    ReferralReceived,
)
from prre_contracts.events.triage import ReferralAccepted, ReferralDeclined
from prre_contracts.events.values import Stage
from prre_review_scheduler.domain import (
    CaseSchedule,
    PlanTerms,
    cancellation,
    open_case,
    scheduled,
)
from prre_review_scheduler.schedules import load_case, retrying, save_case
from prre_review_scheduler.tables import (
    pass_gate,
    running_timers,
    start_clock,
    stop_clock,
)
from prre_review_scheduler.timing import StageClock
from prre_runtime.consumer import Connection, Handler
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)


async def keep_policy(_: EventEnvelope, event: Event, db: Connection) -> None:
    """Keep the area's nation, response-time versions and term dates."""
    match event:
        case AreaRegistered():
            await db.execute(
                "INSERT INTO scheduler_areas (area_id, nation) VALUES ($1, $2) "
                "ON CONFLICT (area_id) DO UPDATE SET nation = $2",
                event.area_id, event.nation,
            )  # fmt: skip
        case ResponseTimesDefined():
            targets = {t.stage: t.working_days for t in event.targets}
            await db.execute(
                "INSERT INTO scheduler_response_times VALUES ($1, $2, $3, $4::jsonb) "
                "ON CONFLICT DO NOTHING",
                event.area_id, event.version, event.effective_from, json.dumps(targets),
            )  # fmt: skip
        case TermDatesRecorded():
            terms = json.dumps([t.model_dump(mode="json") for t in event.terms])
            await db.execute(
                "INSERT INTO scheduler_terms VALUES ($1, $2, $3::jsonb) "
                "ON CONFLICT (area_id, academic_year) DO UPDATE SET terms = $3::jsonb",
                event.area_id, event.academic_year, terms,
            )  # fmt: skip


async def keep_clocks(_: EventEnvelope, event: Event, db: Connection) -> None:
    """Start and stop the stage clocks of a case as its pathway moves on."""
    match event:
        case ReferralReceived():
            await _receive(db, event)
        case MoreInformationProvided(baseline=baseline) if baseline is not None:
            await db.execute(
                "UPDATE scheduler_cases SET baseline = $2::jsonb "
                "WHERE referral_id = $1",
                event.referral_id, baseline.model_dump_json(),
            )  # fmt: skip
        case ConsentConfirmed():
            await _stop(db, event.referral_id, "consent", event.confirmed_on)
            await _gate(db, event.referral_id, "consented", event.confirmed_on)
        case ReferralAccepted():
            await _stop(db, event.referral_id, "triage", event.decided_on)
            await _gate(db, event.referral_id, "accepted", event.decided_on)
        case ReferralDeclined():
            await _stop(db, event.referral_id, "triage", event.decided_on)
        case AssessmentCompleted():
            await _stop(db, event.referral_id, "assessment", event.completed_on)
            await _start(db, event.referral_id, "report", event.completed_on)
        case ReportIssued():
            await _stop(db, event.referral_id, "report", event.issued_on)
            await _start(db, event.referral_id, "feedback", event.issued_on)
        case FeedbackMeetingHeld():
            await _stop(db, event.referral_id, "feedback", event.held_on)


async def _receive(db: Connection, event: ReferralReceived) -> None:
    # Known shortcoming: a request for more information does not pause the
    # triage clock; pausing it needs the request and answer dates on the clock
    # and a rule, from the areas, for which waits count.
    await db.execute(
        "INSERT INTO scheduler_cases (referral_id, area_id, received_on, baseline) "
        "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
        event.referral_id, event.area_id, event.referred_on,
        event.baseline.model_dump_json(),
    )  # fmt: skip
    await _start(db, event.referral_id, "triage", event.referred_on)
    await _start(db, event.referral_id, "consent", event.referred_on)


async def _start(
    db: Connection, referral_id: uuid.UUID, stage: Stage, on: date
) -> None:
    await start_clock(db, referral_id, StageClock(stage, on))


async def _stop(db: Connection, referral_id: uuid.UUID, stage: Stage, on: date) -> None:
    await stop_clock(db, referral_id, StageClock(stage, on, ended_on=on))


async def _gate(db: Connection, referral_id: uuid.UUID, side: str, on: date) -> None:
    """The assessment clock starts on the later of acceptance and consent.

    Kept apart from the referral directory, whose rows begin with the
    referral's arrival: an acceptance from the triage topic can overtake it.
    """
    opened_on = await pass_gate(db, referral_id, side, on)
    if opened_on:
        await _start(db, referral_id, "assessment", opened_on)


def follow_the_case(runtime: Callable[[], ServiceRuntime]) -> Handler:
    """The reactions that record facts on a case's schedule (review, closure)."""

    async def handle(envelope: EventEnvelope, event: Event, db: Connection) -> None:
        match event:
            case ActionPlanAgreed(review_after_weeks=int(weeks)):
                await _schedule_review(runtime(), envelope, event, weeks, db)
            case ConsentRefused():
                closing = Closing(event, "consent-refused", event.refused_on)
                await _cancel(runtime(), envelope, closing, db)
            case ConsentWithdrawn():
                closing = Closing(event, "consent-withdrawn", event.withdrawn_on)
                await _cancel(runtime(), envelope, closing, db)
            case ReferralClosed():
                closing = Closing(event, event.reason, event.closed_on)
                await _cancel(runtime(), envelope, closing, db)

    return handle


async def _schedule_review(
    runtime: ServiceRuntime,
    envelope: EventEnvelope,
    plan: ActionPlanAgreed,
    weeks: int,
    db: Connection,
) -> None:
    if await db.fetchval(
        "SELECT cancelled_on FROM scheduler_cases WHERE referral_id = $1",
        plan.referral_id,
    ):
        logger.info("plan %s of a closed case schedules no review", plan.plan_id)
        return
    terms = PlanTerms(
        plan.plan_id, plan.feedback_meeting_on or plan.agreed_on, plan.agreed_on, weeks
    )

    async def attempt() -> None:
        case = await load_case(runtime, plan.referral_id)
        context = runtime.reaction_context(envelope)
        if case is None:
            first = scheduled(
                plan.referral_id, plan.area_id, plan.plan_id, terms.meeting_on, weeks
            )
            case = open_case(first, context)
        elif not case.has_handled(envelope.event_id):
            case.schedule_review(terms, context)
        await save_case(runtime, case, db)

    await retrying(attempt, f"scheduling the review of plan {plan.plan_id}")
    logger.info(
        "review scheduled for referral %s (plan %s)", plan.referral_id, plan.plan_id
    )


@dataclass(frozen=True)
class Closing:
    """The event that stops a case, why, and on which day."""

    event: CaseEvent
    reason: str
    on: date


async def _cancel(
    runtime: ServiceRuntime, envelope: EventEnvelope, closing: Closing, db: Connection
) -> None:
    referral_id = closing.event.referral_id

    async def attempt() -> None:
        case = await load_case(runtime, referral_id)
        timers = await _pending_timers(db, case, referral_id)
        if not timers:
            return
        context = runtime.reaction_context(envelope)
        if case is None:
            first = cancellation(
                referral_id, closing.event.area_id, timers, closing.reason, closing.on
            )
            case = open_case(first, context)
        else:
            case.cancel_timers(timers, closing.reason, closing.on, context)
        await save_case(runtime, case, db)

    await retrying(attempt, f"cancelling the timers of referral {referral_id}")
    await db.execute(
        "UPDATE scheduler_cases SET cancelled_on = COALESCE(cancelled_on, $2) "
        "WHERE referral_id = $1",
        referral_id, closing.on,
    )  # fmt: skip
    logger.info("timers of referral %s cancelled (%s)", referral_id, closing.reason)


async def _pending_timers(
    db: Connection, case: CaseSchedule | None, referral_id: uuid.UUID
) -> list[str]:
    """Review timers first, then the stage clocks still running."""
    if case is not None and case.cancelled_on:
        return []
    pending = case.pending_review_timers() if case else []
    running = await running_timers(db, referral_id)
    return pending + [timer for timer in running if timer not in pending]
