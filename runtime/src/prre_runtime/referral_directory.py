"""What a downstream service knows about referrals from the referral service.

Triage, assessment and the review scheduler all act on referrals they do not
own. Each keeps this small local directory, fed from the referral topic: which
referrals exist, in which area, whether consent is confirmed and whether the
case is closed, and (for services that follow the triage topic) how triage
decided. It is the consent gate's source of truth outside the referral service:
work past triage may start only when ``triage = 'accepted'`` and
``consent = 'confirmed'`` and the case is not closed, whichever of acceptance
and consent arrived first.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI

from prre_contracts import Event, EventEnvelope
from prre_contracts.events.referral import (
    ConsentConfirmed,
    ConsentRefused,
    ConsentWithdrawn,
    ReferralClosed,
    ReferralReceived,
)
from prre_contracts.events.triage import (
    MoreInformationRequested,
    ReferralAccepted,
    ReferralDeclined,
)
from prre_runtime.clock import Clock
from prre_runtime.consumer import Connection
from prre_runtime.http import Caller, Runtime, create_app
from prre_runtime.identity import ALL_AREAS
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings

DIRECTORY_TABLE = """
CREATE TABLE IF NOT EXISTS referral_directory (
    referral_id uuid PRIMARY KEY,
    area_id text NOT NULL,
    setting_id text NOT NULL,
    criteria_version integer NOT NULL,
    received_on date NOT NULL,
    consent text NOT NULL DEFAULT 'pending',
    closed_reason text
);
ALTER TABLE referral_directory
    ADD COLUMN IF NOT EXISTS consent_on date,
    ADD COLUMN IF NOT EXISTS triage text NOT NULL DEFAULT 'pending',
    ADD COLUMN IF NOT EXISTS priority text,
    ADD COLUMN IF NOT EXISTS triaged_on date,
    ADD COLUMN IF NOT EXISTS closed_on date,
    ALTER COLUMN setting_id DROP NOT NULL,
    ALTER COLUMN criteria_version DROP NOT NULL,
    ALTER COLUMN received_on DROP NOT NULL
"""


async def create_directory(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.execute(DIRECTORY_TABLE)


async def track_referral(
    _: EventEnvelope, event: Event, connection: Connection
) -> None:
    """Keep the directory up to date with one referral-service event."""
    match event:
        case ReferralReceived():
            await connection.execute(
                "INSERT INTO referral_directory (referral_id, area_id, setting_id, "
                "criteria_version, received_on) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (referral_id) DO UPDATE SET setting_id = $3, "
                "criteria_version = $4, received_on = $5",
                event.referral_id, event.area_id, event.setting_id,
                event.criteria_version, event.referred_on,
            )  # fmt: skip
        case ConsentConfirmed():
            await _set_consent(connection, event.referral_id, "confirmed",
                               event.confirmed_on)  # fmt: skip
        case ConsentRefused():
            await _set_consent(connection, event.referral_id, "refused",
                               event.refused_on)  # fmt: skip
        case ConsentWithdrawn():
            await _set_consent(connection, event.referral_id, "withdrawn",
                               event.withdrawn_on)  # fmt: skip
        case ReferralAccepted():
            await _set_triage(
                connection, event.referral_id, event.area_id, "accepted",
                event.decided_on, event.priority,
            )  # fmt: skip
        case ReferralDeclined():
            await _set_triage(
                connection, event.referral_id, event.area_id, "declined",
                event.decided_on,
            )  # fmt: skip
        case MoreInformationRequested():
            await _set_triage(
                connection, event.referral_id, event.area_id, "more-information",
                event.requested_on,
            )  # fmt: skip
        case ReferralClosed():
            await connection.execute(
                "UPDATE referral_directory SET closed_reason = $2, closed_on = $3 "
                "WHERE referral_id = $1",
                event.referral_id, event.reason, event.closed_on,
            )  # fmt: skip


async def _set_consent(
    connection: Connection, referral_id: uuid.UUID, consent: str, on: date
) -> None:
    await connection.execute(
        "UPDATE referral_directory SET consent = $2, consent_on = $3 "
        "WHERE referral_id = $1",
        referral_id, consent, on,
    )  # fmt: skip


async def _set_triage(
    connection: Connection,
    referral_id: uuid.UUID,
    area_id: str,
    triage: str,
    on: date,
    priority: str | None = None,
) -> None:
    # Triage's topic may overtake the referral topic, so a decision can arrive
    # before the referral itself: it then starts the row, which the referral
    # completes (setting, criteria version, date received) when it arrives.
    await connection.execute(
        "INSERT INTO referral_directory "
        "(referral_id, area_id, triage, triaged_on, priority) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (referral_id) DO UPDATE "
        "SET triage = $3, triaged_on = $4, priority = $5",
        referral_id, area_id, triage, on, priority,
    )  # fmt: skip


async def directory_entry(
    connection: Connection | asyncpg.Pool, referral_id: uuid.UUID
) -> asyncpg.Record | None:
    """What this service knows of one referral, or ``None`` if it never heard of it."""
    return await connection.fetchrow(
        "SELECT * FROM referral_directory WHERE referral_id = $1", referral_id
    )


def directory_router() -> APIRouter:
    router = APIRouter(tags=["referral directory"])

    @router.get("/known-referrals")
    async def known_referrals(
        caller: Caller, runtime: Runtime, area_id: str
    ) -> list[dict[str, Any]]:
        """The referrals of an area as this service knows them from events."""
        caller.ensure_area(area_id)
        rows = await runtime.pool.fetch(
            "SELECT * FROM referral_directory WHERE area_id = $1 OR $2 "
            "ORDER BY received_on, referral_id",
            area_id, area_id == ALL_AREAS,
        )  # fmt: skip
        return [dict(row) for row in rows]

    return router


def directory_service(
    name: str,
    consumes: list[str],
    settings: ServiceSettings,
    clock: Clock | None,
    title: str,
) -> FastAPI:
    """A service that, for now, keeps only the referral directory.

    Triage, assessment and the review scheduler start this way until their
    own pathway steps are built: they subscribe to the topics they will need,
    answer readiness checks and serve ``/known-referrals``.
    """
    runtime = ServiceRuntime(
        name,
        settings,
        clock=clock,
        consumes=consumes,
        handler=track_referral,
        before_consuming=create_directory,
    )
    return create_app(runtime, [directory_router()], title=title)
