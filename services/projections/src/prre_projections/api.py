"""The projections service's JSON API: the caseload and the audit trail.

Every query is limited to the areas named in the caller's token.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from prre_runtime.errors import NotFound
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import ALL_AREAS, Principal

router = APIRouter(tags=["read models"])


def area_filter(caller: Principal, area_id: str | None) -> list[str] | None:
    """The areas a query may read: ``None`` means every area (regional view)."""
    if area_id is not None:
        caller.ensure_area(area_id)
        return [area_id]
    return None if ALL_AREAS in caller.areas else sorted(caller.areas)


@router.get("/caseload")
async def caseload(
    caller: Caller,
    runtime: Runtime,
    area_id: str | None = None,
    stage: str | None = None,
    setting_id: str | None = None,
) -> list[dict[str, Any]]:
    """Every referral in the caller's areas, one row each, with stage and dates."""
    rows = await runtime.pool.fetch(
        """SELECT * FROM caseload
        WHERE ($1::text[] IS NULL OR area_id = ANY($1))
          AND ($2::text IS NULL OR stage = $2)
          AND ($3::text IS NULL OR setting_id = $3)
        ORDER BY received_on DESC, referral_id LIMIT 5000""",
        area_filter(caller, area_id), stage, setting_id,
    )  # fmt: skip
    return [dict(row) for row in rows]


@router.get("/caseload/{referral_id}")
async def case(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    row = await runtime.pool.fetchrow(
        "SELECT * FROM caseload WHERE referral_id = $1", referral_id
    )
    if row is None:
        raise NotFound(f"No referral {referral_id} in the caseload (yet).")
    caller.ensure_area(row["area_id"])
    return dict(row)


@router.get("/audit")
async def audit_trail(
    caller: Caller,
    runtime: Runtime,
    area_id: str | None = None,
    referral_id: uuid.UUID | None = None,
    event_type: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
) -> list[dict[str, Any]]:
    """Search the audit trail: every event of every service, in the order received."""
    rows = await runtime.pool.fetch(
        """SELECT seq, event_id, event_type, source, area_id, partition_key,
            occurred_at, recorded_at, actor_subject, actor_role, envelope, hash
        FROM audit_trail
        WHERE ($1::text[] IS NULL OR area_id = ANY($1))
          AND ($2::text IS NULL OR partition_key = $2)
          AND ($3::text IS NULL OR event_type = $3)
          AND ($4::text IS NULL OR actor_subject = $4)
          AND ($5::timestamptz IS NULL OR occurred_at >= $5)
          AND ($6::timestamptz IS NULL OR occurred_at < $6)
        ORDER BY seq LIMIT $7""",
        area_filter(caller, area_id), str(referral_id) if referral_id else None,
        event_type, actor, since, until, limit,
    )  # fmt: skip
    return [dict(row) for row in rows]
