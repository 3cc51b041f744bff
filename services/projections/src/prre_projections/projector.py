"""How each event changes the read models.

Every function here runs inside the consumer's transaction, together with the
record that the event was consumed, so a redelivered event changes nothing.
"""

from __future__ import annotations

import hashlib
import json

from prre_contracts import Event, EventEnvelope
from prre_projections.readmodels import project_read_models
from prre_runtime.consumer import Connection

GENESIS_HASH = "0" * 64
AUDIT_CHAIN_LOCK = 7302


async def project(
    envelope: EventEnvelope, event: Event, connection: Connection
) -> None:
    """Apply one event to every read model (the consumer's handler)."""
    await append_to_audit_trail(envelope, connection)
    await project_read_models(envelope, event, connection)


def chain_hash(previous_hash: str, envelope_json: str) -> str:
    """Each row's hash covers the previous row's hash and its own event."""
    return hashlib.sha256(f"{previous_hash}\n{envelope_json}".encode()).hexdigest()


def canonical(envelope: EventEnvelope) -> str:
    return json.dumps(
        envelope.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    )


async def append_to_audit_trail(
    envelope: EventEnvelope, connection: Connection
) -> None:
    await connection.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_CHAIN_LOCK)
    last = await connection.fetchrow(
        "SELECT seq, hash FROM audit_trail ORDER BY seq DESC LIMIT 1"
    )
    seq, previous = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS_HASH)
    body = canonical(envelope)
    await connection.execute(
        """INSERT INTO audit_trail (seq, event_id, event_type, schema_version, source,
            area_id, partition_key, aggregate_id, aggregate_version, occurred_at,
            recorded_at, actor_subject, actor_role, correlation_id, envelope,
            previous_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
            $15::jsonb, $16, $17)""",
        seq, envelope.event_id, envelope.event_type, envelope.schema_version,
        envelope.source, envelope.area_id, envelope.partition_key,
        envelope.aggregate_id,
        envelope.aggregate_version, envelope.occurred_at, envelope.recorded_at,
        envelope.actor.subject, envelope.actor.role, envelope.correlation_id, body,
        previous, chain_hash(previous, body),
    )  # fmt: skip
