"""Reactions to other services' events: a stopped case cancels its booking.

Consent refused or withdrawn, or the referral closed for any reason, stops the
case. A booked assessment is then cancelled (``AssessmentCancelled`` with the
reason); later commands on the case are refused because the referral
directory, updated in the same consumer transaction, shows it closed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date

from prre_assessment.commands import find_record
from prre_contracts import Event, EventEnvelope
from prre_contracts.events.referral import (
    ConsentRefused,
    ConsentWithdrawn,
    ReferralClosed,
)
from prre_runtime.consumer import Connection, Handler
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)


def stop_reason(event: Event) -> tuple[uuid.UUID, str, date] | None:
    """Which case stopped, why and when, if ``event`` stops one."""
    match event:
        case ConsentWithdrawn():
            return event.referral_id, "consent-withdrawn", event.withdrawn_on
        case ConsentRefused():
            return event.referral_id, "consent-refused", event.refused_on
        case ReferralClosed():
            return event.referral_id, event.reason, event.closed_on
    return None


def cancel_pending_work(runtime_of: Callable[[], ServiceRuntime]) -> Handler:
    """A handler that cancels a booked assessment when its case stops.

    ``runtime_of`` gives the service's runtime, which is built after its
    handler. The record is saved in the event store's own transaction, before the
    consumer's commits; ``has_handled`` makes a redelivery change nothing.
    """

    async def handle(envelope: EventEnvelope, event: Event, _: Connection) -> None:
        stop = stop_reason(event)
        if stop is None:
            return
        runtime = runtime_of()
        referral_id, reason, on = stop
        record = await find_record(runtime, referral_id)
        if record is None or record.has_handled(envelope.event_id):
            return
        if record.cancel(reason, on, runtime.reaction_context(envelope)):
            await runtime.store.save(record)
            runtime.events_saved()
            logger.info(
                "assessment of referral %s cancelled (%s) after event %s",
                record.referral_id, reason, envelope.event_id,
            )  # fmt: skip

    return handle
