"""Loading and saving case schedules, shared by reactions, timers and commands.

Every save is followed by rewriting the case's projection rows, so the tables
the timer loop and the API read follow the aggregate.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prre_contracts import Actor
from prre_review_scheduler.domain import CaseSchedule, case_schedule_id
from prre_review_scheduler.tables import Db, project
from prre_runtime.errors import ConcurrentChange, NotFound
from prre_runtime.eventstore import CommandContext
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5
"""How often a reaction retries after losing a race on the same case."""


async def load_case(
    runtime: ServiceRuntime, referral_id: uuid.UUID
) -> CaseSchedule | None:
    """The case's schedule, or ``None`` while the scheduler has recorded nothing."""
    try:
        return await runtime.store.get(
            case_schedule_id(referral_id), CaseSchedule, "case schedule"
        )
    except NotFound:
        return None


async def save_case(runtime: ServiceRuntime, case: CaseSchedule, db: Db) -> None:
    """Save new facts (a clash raises ConcurrentChange), then project the case."""
    await runtime.store.save(case)
    runtime.events_saved()
    await project(db, case)


def system_context(runtime: ServiceRuntime) -> CommandContext:
    """The context of facts the scheduler records because time passed."""
    actor = Actor(subject=f"service:{runtime.name}", role="system")
    return CommandContext(actor=actor, occurred_at=runtime.clock.now())


async def retrying(work: Callable[[], Awaitable[T]], what: str) -> T:
    """Run ``work`` again (it reloads the case) when another process saved first."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await work()
        except ConcurrentChange:
            if attempt == ATTEMPTS:
                raise
            logger.info("%s lost a race (attempt %s); retrying", what, attempt)
    raise AssertionError("unreachable")
