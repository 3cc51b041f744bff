"""The referral directory that downstream services keep, against PostgreSQL.

Triage's decisions and the referral service's events travel on different
topics, so a service can hear that a referral was accepted before it hears
that the referral exists. The directory must keep both, in either order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import cast

import asyncpg
import pytest

from prre_contracts import Event, EventEnvelope
from prre_contracts.events.referral import ConsentConfirmed, ReferralReceived
from prre_contracts.events.triage import ReferralAccepted
from prre_contracts.events.values import Baseline
from prre_runtime.referral_directory import (
    create_directory,
    directory_entry,
    track_referral,
)
from prre_runtime.stack import Stack, with_database

NO_ENVELOPE = cast(EventEnvelope, None)  # the directory reads only the event


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    name = "directory_" + uuid.uuid4().hex[:8]
    stack.create_databases([name])
    directory = await asyncpg.create_pool(
        with_database(stack.database_server_url, name)
    )
    await create_directory(directory)
    yield directory
    await directory.close()


def received(referral_id: uuid.UUID) -> ReferralReceived:
    return ReferralReceived(
        area_id="leeds", referral_id=referral_id, setting_id="oak",
        child_ref="CH-1", criteria_version=1, referred_on=date(2026, 10, 1),
        concerns=["speech"],
        baseline=Baseline(
            attendance_percent=80, suspensions_this_year=1, exclusion_status="at-risk"
        ),
    )  # fmt: skip


async def tell(pool: asyncpg.Pool, *events: Event) -> None:
    async with pool.acquire() as connection:
        for event in events:
            await track_referral(NO_ENVELOPE, event, connection)


@pytest.mark.parametrize("acceptance_first", [True, False])
async def test_acceptance_and_referral_are_kept_in_either_order(
    pool: asyncpg.Pool, acceptance_first: bool
) -> None:
    referral_id = uuid.uuid4()
    accepted = ReferralAccepted(
        area_id="leeds", referral_id=referral_id, priority="urgent",
        decided_on=date(2026, 10, 3),
    )  # fmt: skip
    consented = ConsentConfirmed(
        area_id="leeds", referral_id=referral_id, given_by="parent",
        confirmed_on=date(2026, 10, 2),
    )  # fmt: skip
    order = (
        [accepted, received(referral_id), consented]
        if acceptance_first
        else [received(referral_id), consented, accepted]
    )

    await tell(pool, *order)
    entry = await directory_entry(pool, referral_id)

    assert entry is not None
    assert (entry["triage"], entry["priority"]) == ("accepted", "urgent")
    assert (entry["consent"], entry["setting_id"]) == ("confirmed", "oak")
    assert entry["received_on"] == date(2026, 10, 1)
