"""The projections service's JSON API: read models, timeline and audit trail.

Every query is limited to the areas named in the caller's token. The views
under ``/api`` take the same filters as the dashboard pages (``area_id``,
``setting_id``, ``since``, ``until``) and ``as_at`` to see them as they stood
at the end of a past day.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from prre_projections import queries
from prre_projections.views import ViewRequest, area_filter, reading, view_request
from prre_runtime.errors import NotFound
from prre_runtime.http import Caller, Runtime

router = APIRouter(tags=["read models"])


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


def _view(
    caller: Caller,
    runtime: Runtime,
    area_id: str | None = None,
    setting_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    as_at: date | None = None,
) -> ViewRequest:
    return view_request(caller, runtime, area_id, setting_id, since, until, as_at)


View = Annotated[ViewRequest, Depends(_view)]


def _header(view: ViewRequest) -> dict[str, Any]:
    return {"as_at": view.as_at, "today": view.today}


@router.get("/api/caseload")
async def caseload_view(
    view: View,
    runtime: Runtime,
    stage: str | None = None,
    include_closed: bool = False,
) -> dict[str, Any]:
    """Open cases with stage, days in stage, next action, due date and status,
    and the work queues they make up."""
    async with reading(runtime, view) as db:
        cases = await queries.caseload(
            db, view.scope, view.today, stage, include_closed
        )
    queues = queries.work_queues(cases, view.today)
    stages = queries.by_stage(cases)
    return {**_header(view), "by_stage": stages, "queues": queues, "cases": cases}


@router.get("/api/funnel")
async def funnel_view(view: View, runtime: Runtime) -> dict[str, Any]:
    """Referrals reaching each step of the pathway, conversion and decline reasons."""
    async with reading(runtime, view) as db:
        return {**_header(view), **await queries.funnel(db, view.scope)}


@router.get("/api/timeliness")
async def timeliness_view(view: View, runtime: Runtime) -> dict[str, Any]:
    """Working days per stage and term: median, 90th percentile, share on target."""
    async with reading(runtime, view) as db:
        return {**_header(view), "rows": await queries.timeliness(db, view.scope)}


@router.get("/api/volumes")
async def volumes_view(view: View, runtime: Runtime) -> dict[str, Any]:
    """Referrals per setting per term against the setting's expected volume."""
    async with reading(runtime, view) as db:
        return {**_header(view), "rows": await queries.volumes(db, view.scope)}


@router.get("/api/outcomes")
async def outcomes_view(view: View, runtime: Runtime) -> dict[str, Any]:
    """Reviewed cases: attendance, suspensions and exclusion against baseline."""
    async with reading(runtime, view) as db:
        return {**_header(view), "rows": await queries.outcomes(db, view.scope)}


@router.get("/api/programme")
async def programme_view(view: View, runtime: Runtime) -> dict[str, Any]:
    """Each area's phase, readiness checklist, settings and programme activity."""
    async with reading(runtime, view) as db:
        areas = await queries.programme(db, view.scope.areas)
    return {**_header(view), "areas": areas}


@router.get("/api/cases/{referral_id}/timeline")
async def timeline_view(
    referral_id: uuid.UUID,
    caller: Caller,
    runtime: Runtime,
    as_at: date | None = None,
) -> dict[str, Any]:
    """One referral's history across every service, in order, actor and date."""
    facts = await case_timeline(runtime, caller, referral_id, as_at)
    return {"referral_id": referral_id, "as_at": as_at, "facts": facts}


async def case_timeline(
    runtime: Runtime, caller: Caller, referral_id: uuid.UUID, as_at: date | None
) -> list[dict[str, Any]]:
    """The timeline, once the caller is known to cover the case's area."""
    async with runtime.pool.acquire() as db:
        facts = await queries.timeline(db, referral_id, as_at)
    if not facts:
        raise NotFound(f"No facts recorded about referral {referral_id}.")
    caller.ensure_area(facts[0]["area_id"])
    return facts
