"""Tables of the read side, created when the service starts."""

from __future__ import annotations

import asyncpg

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

CREATE TABLE IF NOT EXISTS audit_trail (
    seq bigint PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    source text NOT NULL,
    area_id text NOT NULL,
    partition_key text NOT NULL,
    aggregate_id uuid NOT NULL,
    aggregate_version integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    actor_subject text NOT NULL,
    actor_role text NOT NULL,
    correlation_id uuid NOT NULL,
    envelope jsonb NOT NULL,
    previous_hash text NOT NULL,
    hash text NOT NULL,
    appended_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_trail_key ON audit_trail (partition_key, seq);
CREATE INDEX IF NOT EXISTS audit_trail_area_type ON audit_trail (area_id, event_type);
CREATE INDEX IF NOT EXISTS audit_trail_actor ON audit_trail (actor_subject);

CREATE OR REPLACE FUNCTION audit_trail_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % is not allowed', TG_OP;
END $$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_trail_append_only ON audit_trail;
CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH ROW EXECUTE FUNCTION audit_trail_is_append_only();
"""


async def create_read_models(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock(7301)")
        try:
            await connection.execute(READ_MODELS)
        finally:
            await connection.execute("SELECT pg_advisory_unlock(7301)")
