"""How triage reacts to the referral service's events.

Programme events feed the policy tables; a received referral is screened
(now, or when its criteria version arrives); the referrer's answers to a
request for more information put the case back in the queue. Facts recorded
here use the reaction context, and a redelivered event changes nothing: a
case already opened or already holding a fact caused by the event is left
alone.
"""

from __future__ import annotations

import logging
import uuid

from prre_contracts import Event, EventEnvelope
from prre_contracts.events.programme import (
    ReferralCriteriaDefined,
    TriageThresholdsDefined,
)
from prre_contracts.events.referral import MoreInformationProvided, ReferralReceived
from prre_runtime.consumer import Connection
from prre_runtime.errors import NotFound
from prre_runtime.service import ServiceRuntime
from prre_triage import policy
from prre_triage.domain import TriageCase, case_id
from prre_triage.screening import screen

logger = logging.getLogger(__name__)


class TriageReactions:
    """The triage service's consumer handler (needs the runtime once built)."""

    def __init__(self) -> None:
        self.runtime: ServiceRuntime | None = None

    async def handle(
        self, envelope: EventEnvelope, event: Event, connection: Connection
    ) -> None:
        match event:
            case ReferralCriteriaDefined():
                await policy.keep_criteria(connection, event)
                await self._screen_waiting(envelope, connection, event.area_id)
            case TriageThresholdsDefined():
                await policy.keep_thresholds(connection, event)
                await self._screen_waiting(envelope, connection, event.area_id)
            case ReferralReceived():
                await policy.keep_referral(connection, event)
                await self._screen_waiting(envelope, connection, event.area_id)
            case MoreInformationProvided():
                await self._take_answers(envelope, event)

    @property
    def _runtime(self) -> ServiceRuntime:
        assert self.runtime is not None, "the reactions were not wired to a runtime"
        return self.runtime

    async def _screen_waiting(
        self, envelope: EventEnvelope, connection: Connection, area_id: str
    ) -> None:
        for waiting in await policy.unscreened(connection, area_id):
            if not await self._case_exists(waiting.referral_id):
                await self._screen(envelope, waiting)
            await policy.mark_screened(connection, waiting.referral_id)

    async def _screen(
        self, envelope: EventEnvelope, waiting: policy.Unscreened
    ) -> None:
        screening = screen(
            waiting.criteria, waiting.named, waiting.baseline, waiting.thresholds
        )
        runtime = self._runtime
        # Screening is automatic on receipt, so it is dated the day the
        # referral was made, even when that is earlier than today (a referral
        # recorded late) or the policy it needed arrived a moment later.
        case = TriageCase.screen(
            waiting.area_id, waiting.referral_id, screening, waiting.referred_on,
            runtime.reaction_context(envelope),
        )  # fmt: skip
        await runtime.store.save(case)
        runtime.events_saved()
        logger.info(
            "screened referral %s (meets criteria: %s, suggested: %s)",
            waiting.referral_id, screening.meets_criteria,
            screening.suggested_priority,
        )  # fmt: skip

    async def _case_exists(self, referral_id: uuid.UUID) -> bool:
        try:
            await self._runtime.store.get(case_id(referral_id), TriageCase, "case")
        except NotFound:
            return False
        return True

    async def _take_answers(
        self, envelope: EventEnvelope, event: MoreInformationProvided
    ) -> None:
        runtime = self._runtime
        case = await runtime.store.get(
            case_id(event.referral_id), TriageCase, "triage case"
        )
        if case.has_handled(envelope.event_id) or not case.awaits(event.request_id):
            logger.info(
                "answers %s for referral %s need no action (event %s)",
                event.request_id, event.referral_id, envelope.event_id,
            )  # fmt: skip
            return
        case.receive_information(
            list(event.answers), list(event.concerns_added), event.baseline,
            event.provided_on, runtime.reaction_context(envelope),
        )  # fmt: skip
        await runtime.store.save(case)
        runtime.events_saved()
