-- The audit trail of the projections service: every event of every service,
-- append-only. Run by the database's owner (an administrator), never by the
-- service: by prre_projections.audit.protect_audit_trail (the embedded stack,
-- `prre projections protect`) and by deploy/postgres-init.sql (compose).
-- The role prre_projections_app must exist; it may read and append, no more.

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
DROP TRIGGER IF EXISTS audit_trail_not_truncated ON audit_trail;
CREATE TRIGGER audit_trail_not_truncated BEFORE TRUNCATE ON audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_is_append_only();

-- The service's role: read and append only. It does not own the table, so it
-- can neither change rows, truncate, drop the triggers nor drop the table. It
-- may create (and own) the read models in this database. (A developer's
-- scratch database without the role skips this.)
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prre_projections_app') THEN
        EXECUTE format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I '
                       'TO prre_projections_app', current_database());
        GRANT USAGE, CREATE ON SCHEMA public TO prre_projections_app;
        REVOKE ALL ON audit_trail FROM PUBLIC, prre_projections_app;
        GRANT SELECT, INSERT ON audit_trail TO prre_projections_app;
    END IF;
END $$;
