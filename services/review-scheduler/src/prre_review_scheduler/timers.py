"""The timer loop: durable timers checked against the injected clock.

Timers live in the database (review due dates and stage clocks), never in a
process's memory, so a restart loses nothing: the next check finds every due
date that has come. Each process of the service runs this loop. When two of
them act on the same case at once, both append to the same version of its
schedule and the event store refuses the second save (ConcurrentChange); the
loser records nothing, and on its next check finds the fact already there.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid

import asyncpg

from prre_review_scheduler.domain import Breach, CaseSchedule, breached, open_case
from prre_review_scheduler.schedules import load_case, save_case, system_context
from prre_review_scheduler.tables import (
    calendar_of,
    open_clocks,
    response_times_of,
    reviews_to_fire,
    settle_clock,
)
from prre_review_scheduler.timing import ResponseTimes, StageClock, in_force, judge
from prre_runtime.calendar import WorkingDayCalendar
from prre_runtime.errors import ConcurrentChange
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.5
BREACHES_PER_CHECK = 20


async def watch_timers(runtime: ServiceRuntime) -> None:
    """Check every timer twice a second until the service stops."""
    while True:
        try:
            await check_timers(runtime)
        except Exception:
            logger.exception("timer check failed; trying again shortly")
        await asyncio.sleep(CHECK_INTERVAL_S)


async def check_timers(runtime: ServiceRuntime) -> None:
    """Fire the reviews that have come due, then judge every running clock.

    Each case is judged against the clock as it reads at that moment, not at
    the start of the check: a check with many cases to record takes a while,
    and the day must not be stale when a case's facts are decided.
    """
    for referral_id in await reviews_to_fire(runtime.pool, runtime.clock.today()):
        await _fire_reviews(runtime, referral_id)
    await _judge_clocks(runtime)


async def _fire_reviews(runtime: ServiceRuntime, referral_id: uuid.UUID) -> None:
    case = await load_case(runtime, referral_id)
    if case is None:
        return
    fired = case.fire_due_reviews(runtime.clock.today(), system_context(runtime))
    if await _saved(runtime, case, "ReviewDue", referral_id):
        for review_id in fired:
            logger.info("review %s of referral %s is due", review_id, referral_id)


async def _judge_clocks(runtime: ServiceRuntime) -> None:
    """Judge the open clocks, recording at most BREACHES_PER_CHECK breaches.

    The bound keeps a check short after a jump in time, so due reviews (fired
    at the start of every check) never wait behind a long run of breaches.
    Each process takes the clocks in its own random order, so two processes
    mostly record different cases instead of racing on the same one.
    """
    # Known shortcoming: every check reads every open clock and counts its
    # working days in Python. Fine for thousands of open cases; for far more,
    # store each clock's deadline (recomputed when the area's terms or targets
    # change) and select only the clocks past it.
    areas = Areas(runtime.pool)
    rows = await open_clocks(runtime.pool)
    random.shuffle(rows)
    flagged = 0
    for row in rows:
        if flagged >= BREACHES_PER_CHECK:
            return
        calendar = await areas.calendar(row["area_id"])
        if calendar is None:
            continue
        policy = in_force(await areas.policies(row["area_id"]), row["received_on"])
        clock = StageClock(
            row["stage"], row["started_on"], row["ended_on"], row["review_id"]
        )
        verdict = judge(clock, policy, calendar, runtime.clock.today())
        if verdict == "met":
            await settle_clock(runtime.pool, row["referral_id"], row["timer"], "met")
        elif isinstance(verdict, Breach):
            await _flag(runtime, row["referral_id"], row["area_id"], verdict)
            flagged += 1


async def _flag(
    runtime: ServiceRuntime, referral_id: uuid.UUID, area_id: str, breach: Breach
) -> None:
    case = await load_case(runtime, referral_id)
    context = system_context(runtime)
    if case is None:
        case = open_case(breached(referral_id, area_id, breach), context)
    else:
        case.flag_breach(breach, context)
    if await _saved(runtime, case, "ResponseTimeBreached", referral_id):
        logger.info(
            "%s response time of referral %s breached", breach.stage, referral_id
        )


async def _saved(
    runtime: ServiceRuntime, case: CaseSchedule, what: str, referral_id: uuid.UUID
) -> bool:
    """Save and project; false when another process saved this case first."""
    try:
        await save_case(runtime, case, runtime.pool)
    except ConcurrentChange:
        logger.info("another scheduler recorded %s for %s first", what, referral_id)
        return False
    return True


class Areas:
    """Each area's calendar and response times, read once per check."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._calendars: dict[str, WorkingDayCalendar | None] = {}
        self._policies: dict[str, list[ResponseTimes]] = {}

    async def calendar(self, area_id: str) -> WorkingDayCalendar | None:
        if area_id not in self._calendars:
            self._calendars[area_id] = await calendar_of(self._pool, area_id)
        return self._calendars[area_id]

    async def policies(self, area_id: str) -> list[ResponseTimes]:
        if area_id not in self._policies:
            self._policies[area_id] = await response_times_of(self._pool, area_id)
        return self._policies[area_id]
