"""The envelope every PRRE event travels in.

An envelope separates what happened (``data``, validated against the event
catalogue) from the facts about the recording: who did it, when it happened
versus when the system learned of it, which case it belongs to, and which
request and trace caused it. Integrators read envelopes from Kafka; the
projections service stores them verbatim in the audit trail.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EVENT_ID_NAMESPACE = uuid.UUID("4f0c2b1e-6a8d-5c3e-9b7a-2d1e0f9c8b7a")


def event_id_for(
    source: str, aggregate_id: uuid.UUID, aggregate_version: int
) -> uuid.UUID:
    """The stable id of the event at ``aggregate_version`` of ``aggregate_id``
    in the event store of service ``source``.

    Derived rather than random, so republishing or replaying an event never
    makes it look new to a consumer that deduplicates by event id. The source
    is part of it because two services may well key aggregates alike (both by
    the referral id, say); without it their events would share ids and every
    consumer would drop one of them as a duplicate.
    """
    return uuid.uuid5(
        EVENT_ID_NAMESPACE, f"{source}:{aggregate_id}:{aggregate_version}"
    )


class Actor(BaseModel):
    """The person or service that caused an event: the token's subject and role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=64)


class EventEnvelope(BaseModel):
    """One published event, as carried on Kafka and kept in the audit trail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(
        description="Stable across republishing: derived from aggregate id and version."
    )
    event_type: str = Field(description="Past-tense name from the catalogue.")
    schema_version: int = Field(ge=1)
    source: str = Field(description="The service that recorded the event.")
    area_id: str = Field(description="The local area the event belongs to.")
    partition_key: str = Field(
        description="Kafka key: the referral id, or the area id for programme events."
    )
    aggregate_id: uuid.UUID
    aggregate_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(
        description="When it happened in the world; may be earlier than recorded_at."
    )
    recorded_at: AwareDatetime = Field(description="When the service stored it.")
    actor: Actor
    correlation_id: uuid.UUID = Field(
        description="Shared by every event that one user request set in motion."
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="The event that caused this one, if any."
    )
    traceparent: str | None = Field(default=None, description="W3C trace context.")
    tracestate: str | None = None
    data: dict[str, Any]

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> EventEnvelope:
        return cls.model_validate_json(raw)
