"""Tables of the read side, created when the service starts."""

from __future__ import annotations

import asyncpg

from prre_projections.audit import ensure_audit_trail

READ_MODELS = """
CREATE TABLE IF NOT EXISTS caseload (
    referral_id uuid PRIMARY KEY,
    area_id text NOT NULL,
    setting_id text NOT NULL,
    child_ref text NOT NULL,
    criteria_version integer NOT NULL,
    stage text NOT NULL,
    consent text NOT NULL,
    received_on date NOT NULL,
    stage_since date NOT NULL,
    consent_on date,
    closed_reason text,
    closed_on date,
    last_event_type text NOT NULL,
    last_event_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS caseload_area_stage ON caseload (area_id, stage);
"""


async def create_read_models(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock(7301)")
        try:
            await ensure_audit_trail(connection)  # its owner is not the service
            await connection.execute(READ_MODELS)
        finally:
            await connection.execute("SELECT pg_advisory_unlock(7301)")
