"""Two scheduler runtimes checking the same timers at once, on real PostgreSQL.

Each runtime has its own pool and event-store connection to one database,
as two processes of the service would. They check every timer at the same
moment several times over; the event store's optimistic concurrency must
leave each case with one ReviewDue and one breach.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from pydantic import SecretStr

from helpers import unique
from prre_review_scheduler.domain import (
    Breach,
    CaseSchedule,
    case_schedule_id,
    open_case,
    scheduled,
)
from prre_review_scheduler.schedules import load_case, save_case, system_context
from prre_review_scheduler.tables import create_tables
from prre_review_scheduler.timers import check_timers
from prre_runtime.clock import FixedClock
from prre_runtime.eventstore import FactAggregate
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings
from prre_runtime.stack import Stack, with_database

pytestmark = pytest.mark.slow

MEETING = date(2026, 1, 12)
CASES = 12


@pytest.fixture
async def pair(stack: Stack) -> AsyncIterator[tuple[ServiceRuntime, ServiceRuntime]]:
    """Two runtimes of the review scheduler sharing one new database."""
    database = unique("scheduler_race").replace("-", "_")
    stack.create_databases([database])
    settings = ServiceSettings(
        database_url=SecretStr(with_database(stack.database_server_url, database)),
        kafka_bootstrap_servers=stack.bootstrap_servers,
        token_secret=SecretStr("not used here"),
    )
    clock = FixedClock(datetime(2026, 1, 12, 9, tzinfo=UTC))
    runtimes = [
        ServiceRuntime("review-scheduler", settings, clock=clock) for _ in range(2)
    ]
    for runtime in runtimes:
        await runtime.start()
    await create_tables(runtimes[0].pool)
    yield runtimes[0], runtimes[1]
    for runtime in runtimes:
        await runtime.stop()


def fact_types(runtime: ServiceRuntime, referral_id: uuid.UUID) -> list[str]:
    """The type of every fact stored on a case's schedule, oldest first."""
    store = runtime.store.store.repository.event_store
    types = []
    for stored in store.get(case_schedule_id(referral_id)):
        assert isinstance(stored, FactAggregate.Opened | FactAggregate.Recorded)
        types.append(stored.fact["type"])
    return types


async def schedule_reviews(runtime: ServiceRuntime) -> list[uuid.UUID]:
    """CASES cases, each with a review due six weeks after MEETING."""
    referrals = [uuid.uuid4() for _ in range(CASES)]
    for referral_id in referrals:
        first = scheduled(referral_id, "race-area", uuid.uuid4(), MEETING, 6)
        case = open_case(first, system_context(runtime))
        await save_case(runtime, case, runtime.pool)
    return referrals


async def test_two_schedulers_record_each_review_due_once(
    pair: tuple[ServiceRuntime, ServiceRuntime],
) -> None:
    first, second = pair
    referrals = await schedule_reviews(first)
    assert isinstance(first.clock, FixedClock)
    first.clock.advance(datetime(2026, 2, 23, 9, tzinfo=UTC) - first.clock.now())

    await asyncio.gather(*(check_timers(r) for _ in range(3) for r in pair))

    for referral_id in referrals:
        assert fact_types(first, referral_id) == ["ReviewScheduled", "ReviewDue"]
    rows = await second.pool.fetch("SELECT status FROM reviews")
    assert [row["status"] for row in rows] == ["due"] * CASES


async def test_a_breach_raced_by_two_schedulers_is_recorded_once(
    pair: tuple[ServiceRuntime, ServiceRuntime],
) -> None:
    first, second = pair
    [referral_id] = (await schedule_reviews(first))[:1]
    breach = Breach("triage", 5, 6, 1, MEETING, date(2026, 1, 20))
    loaded: list[CaseSchedule | None] = [
        await load_case(runtime, referral_id) for runtime in pair
    ]

    racing = zip(pair, loaded, strict=True)
    results = await asyncio.gather(
        *(flag_and_save(runtime, case, breach) for runtime, case in racing),
        return_exceptions=True,
    )

    assert sorted(type(result).__name__ for result in results) == [
        "ConcurrentChange",
        "NoneType",
    ]
    assert fact_types(second, referral_id).count("ResponseTimeBreached") == 1


async def flag_and_save(
    runtime: ServiceRuntime, case: CaseSchedule | None, breach: Breach
) -> None:
    assert case is not None
    case.flag_breach(breach, system_context(runtime))
    await save_case(runtime, case, runtime.pool)
