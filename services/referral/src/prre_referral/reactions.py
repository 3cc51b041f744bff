"""How the referral service reacts to the other services' events.

The referral service owns the case lifecycle, so it closes cases when another
service's decision ends them: triage declined the referral; an action plan was
agreed that needs no follow-up review; a review closed the case or re-referred
the child. A review deciding on further support keeps the case open.

It also keeps ``referral_triage``, what it has heard from triage about each
referral, so the referrer sees the triage state in the referral view and may
answer a request for more information only when triage made one.

Closing uses the reaction context; a redelivered event, or one for a case
already closed, changes nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date
from typing import Any, Protocol

import asyncpg

from prre_contracts import Event, EventEnvelope
from prre_contracts.events.assessment import ActionPlanAgreed
from prre_contracts.events.review import ReviewCompleted
from prre_contracts.events.triage import (
    MoreInformationReceived,
    MoreInformationRequested,
    ReferralAccepted,
    ReferralDeclined,
    ReferralScreened,
)
from prre_contracts.events.values import ClosureReason
from prre_referral.domain import Referral
from prre_runtime.consumer import Connection
from prre_runtime.errors import NotFound
from prre_runtime.eventstore import AsyncEventStore, CommandContext

logger = logging.getLogger(__name__)

TRIAGE_TABLE = """
CREATE TABLE IF NOT EXISTS referral_triage (
    referral_id uuid PRIMARY KEY,
    status text NOT NULL,
    priority text,
    decided_on date,
    reason text,
    signposting jsonb,
    request_id uuid,
    questions jsonb,
    requested_on date
)
"""

REVIEW_CLOSURES: dict[str, ClosureReason] = {
    "close": "completed",
    "re-refer": "re-referred",
}


async def create_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.execute(TRIAGE_TABLE)


async def triage_of(
    connection: Connection | asyncpg.Pool, referral_id: uuid.UUID
) -> dict[str, Any] | None:
    """What the referral service has heard from triage about a referral."""
    row = await connection.fetchrow(
        "SELECT * FROM referral_triage WHERE referral_id = $1", referral_id
    )
    if row is None:
        return None
    known = dict(row)
    for column in ("signposting", "questions"):
        known[column] = json.loads(known[column]) if known[column] else []
    known.pop("referral_id")
    return known


class Plumbing(Protocol):
    """What the reactions need of the service runtime."""

    @property
    def store(self) -> AsyncEventStore: ...

    def reaction_context(self, cause: EventEnvelope) -> CommandContext: ...

    def events_saved(self) -> None: ...


class ReferralReactions:
    """The referral service's consumer handler (needs the runtime once built)."""

    def __init__(self) -> None:
        self.runtime: Plumbing | None = None

    async def handle(
        self, envelope: EventEnvelope, event: Event, connection: Connection
    ) -> None:
        match event:
            case ReferralScreened():
                await _note(connection, event.referral_id, status="awaiting-decision")
            case ReferralAccepted():
                await _note(
                    connection, event.referral_id, status="accepted",
                    priority=event.priority, decided_on=event.decided_on,
                )  # fmt: skip
            case ReferralDeclined():
                await _note(
                    connection, event.referral_id, status="declined",
                    reason=event.reason, decided_on=event.decided_on,
                    signposting=json.dumps(event.signposting),
                )  # fmt: skip
                await self._close(envelope, event.referral_id, "declined",
                                  event.decided_on)  # fmt: skip
            case MoreInformationRequested():
                await _note(
                    connection, event.referral_id, status="more-information",
                    request_id=event.request_id, requested_on=event.requested_on,
                    questions=json.dumps(event.questions),
                )  # fmt: skip
            case MoreInformationReceived():
                await _note(connection, event.referral_id, status="awaiting-decision")
            case ActionPlanAgreed(review_required=False):
                await self._close(envelope, event.referral_id, "completed",
                                  event.agreed_on)  # fmt: skip
            case ReviewCompleted() if event.decision in REVIEW_CLOSURES:
                await self._close(envelope, event.referral_id,
                                  REVIEW_CLOSURES[event.decision],
                                  event.completed_on)  # fmt: skip

    async def _close(
        self,
        envelope: EventEnvelope,
        referral_id: uuid.UUID,
        reason: ClosureReason,
        closed_on: date,
    ) -> None:
        runtime = self.runtime
        assert runtime is not None, "the reactions were not wired to a runtime"
        try:
            referral = await runtime.store.get(referral_id, Referral, "referral")
        except NotFound:
            logger.warning(
                "event %s (%s) names unknown referral %s; nothing closed",
                envelope.event_id, envelope.event_type, referral_id,
            )  # fmt: skip
            return
        context = runtime.reaction_context(envelope)
        if referral.close_in_reaction(reason, closed_on, context):
            await runtime.store.save(referral)
            runtime.events_saved()
            logger.info(
                "referral %s closed (%s) after event %s",
                referral_id, reason, envelope.event_id,
            )  # fmt: skip


async def _note(connection: Connection, referral_id: uuid.UUID, **values: Any) -> None:
    """Insert or update the referral's row with ``values``."""
    columns = list(values)
    placeholders = ", ".join(f"${n}" for n in range(2, len(columns) + 2))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    await connection.execute(
        f"INSERT INTO referral_triage (referral_id, {', '.join(columns)}) "  # noqa: S608  # column names are this module's own keywords, never input
        f"VALUES ($1, {placeholders}) "
        f"ON CONFLICT (referral_id) DO UPDATE SET {updates}",
        referral_id,
        *values.values(),
    )
