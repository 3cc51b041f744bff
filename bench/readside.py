"""What the benchmark reads back from the projections service's database."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg


async def consents(
    connection: asyncpg.Connection, referral_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The consent column of each of these referrals that the caseload shows."""
    rows = await connection.fetch(
        "SELECT referral_id, consent FROM caseload WHERE referral_id = ANY($1::uuid[])",
        referral_ids,
    )
    return {row["referral_id"]: row["consent"] for row in rows}


async def confirmed(
    connection: asyncpg.Connection, referral_ids: list[uuid.UUID]
) -> int:
    count: int = await connection.fetchval(
        """SELECT count(*) FROM caseload
        WHERE referral_id = ANY($1::uuid[]) AND consent = 'confirmed'""",
        referral_ids,
    )
    return count


async def wait_until_confirmed(
    connection: asyncpg.Connection,
    referral_ids: list[uuid.UUID],
    patience: float,
    every: float = 0.01,
) -> float | None:
    """When every referral shows consent confirmed; None if ``patience`` ends first."""
    deadline = time.perf_counter() + patience
    while time.perf_counter() < deadline:
        if await confirmed(connection, referral_ids) == len(referral_ids):
            return time.perf_counter()
        await asyncio.sleep(every)
    return None


async def audit_rows(connection: asyncpg.Connection, area_id: str) -> int:
    """How many events of the area the audit trail has recorded."""
    count: int = await connection.fetchval(
        "SELECT count(*) FROM audit_trail WHERE area_id = $1", area_id
    )
    return count


async def settled_audit_rows(
    connection: asyncpg.Connection, area_id: str, quiet: float = 1.0
) -> int:
    """The area's audit rows once no new one has arrived for ``quiet`` seconds."""
    count = await audit_rows(connection, area_id)
    while True:
        await asyncio.sleep(quiet)
        latest = await audit_rows(connection, area_id)
        if latest == count:
            return count
        count = latest
