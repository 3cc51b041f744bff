"""Tables of the read side, created when the service starts."""

from __future__ import annotations

import asyncpg

from prre_projections.audit import ensure_audit_trail
from prre_runtime.consumer import Connection

READ_MODELS = """
CREATE TABLE IF NOT EXISTS caseload (
    referral_id uuid PRIMARY KEY,
    area_id text NOT NULL,
    setting_id text,
    child_ref text,
    criteria_version integer,
    year_group integer,
    stage text NOT NULL,
    stage_since date,
    consent text NOT NULL DEFAULT 'pending',
    consent_on date,
    consented_on date,
    triage text NOT NULL DEFAULT 'pending',
    priority text,
    suggested_priority text,
    screened_on date,
    information_requested_on date,
    triaged_on date,
    accepted_on date,
    decline_reason text,
    assessment_booked_for date,
    assessment_missed integer NOT NULL DEFAULT 0,
    assessed_on date,
    report_on date,
    feedback_on date,
    plan_on date,
    review_required boolean,
    review_due_on date,
    review_is_due boolean NOT NULL DEFAULT false,
    reviewed_on date,
    review_decision text,
    baseline_attendance double precision,
    baseline_suspensions integer,
    baseline_exclusion text,
    outcome_attendance double precision,
    outcome_suspensions integer,
    outcome_exclusion text,
    breached_stages text[] NOT NULL DEFAULT '{}',
    received_on date,
    withdrawn_on date,
    closed_reason text,
    closed_on date,
    last_event_type text NOT NULL,
    last_event_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS caseload_area_stage ON caseload (area_id, stage);
CREATE INDEX IF NOT EXISTS caseload_area_received ON caseload (area_id, received_on);
-- The caseload page lists an area's open cases, oldest first.
CREATE INDEX IF NOT EXISTS caseload_open ON caseload (area_id, received_on, referral_id)
    WHERE stage <> 'closed';
-- The funnel counts milestones without visiting the table's rows.
CREATE INDEX IF NOT EXISTS caseload_funnel ON caseload (area_id, received_on)
    INCLUDE (setting_id, triaged_on, accepted_on, consented_on, assessed_on,
             report_on, feedback_on, reviewed_on, closed_on, triage, decline_reason);

CREATE TABLE IF NOT EXISTS stage_times (
    referral_id uuid NOT NULL,
    stage text NOT NULL,
    area_id text NOT NULL,
    setting_id text,
    started_on date NOT NULL,
    ended_on date NOT NULL,
    working_days integer NOT NULL,
    target_days integer,
    PRIMARY KEY (referral_id, stage)
);
-- The school term the stage ended in (term_of), stored when the row is
-- written and refreshed when the area's term dates change.
ALTER TABLE stage_times ADD COLUMN IF NOT EXISTS term text;
-- Timeliness reads only these indexes: one area, or the whole region, by day.
DROP INDEX IF EXISTS stage_times_area;
CREATE INDEX IF NOT EXISTS stage_times_area_ended ON stage_times (area_id, ended_on)
    INCLUDE (setting_id, stage, term, working_days, target_days);
CREATE INDEX IF NOT EXISTS stage_times_ended ON stage_times (ended_on)
    INCLUDE (area_id, setting_id, stage, term, working_days, target_days);

CREATE TABLE IF NOT EXISTS breaches (
    referral_id uuid NOT NULL,
    stage text NOT NULL,
    area_id text NOT NULL,
    target_days integer NOT NULL,
    elapsed_days integer NOT NULL,
    policy_version integer NOT NULL,
    started_on date NOT NULL,
    breached_on date NOT NULL,
    PRIMARY KEY (referral_id, stage, started_on)
);

CREATE TABLE IF NOT EXISTS areas (
    area_id text PRIMARY KEY,
    name text,
    nation text NOT NULL DEFAULT 'england',
    phase text NOT NULL DEFAULT 'mobilisation',
    phase_since date,
    registered_on date,
    sponsor_name text,
    governance_on date,
    delivery_model text,
    slt_provider text,
    slt_model_on date,
    isa_reference text,
    isa_signed_on date,
    isa_review_on date,
    criteria_version integer,
    thresholds_version integer,
    response_times_version integer,
    pilot_evaluated_on date,
    pilot_recommendation text
);

CREATE TABLE IF NOT EXISTS response_targets (
    area_id text NOT NULL,
    version integer NOT NULL,
    effective_from date NOT NULL,
    stage text NOT NULL,
    working_days integer NOT NULL,
    PRIMARY KEY (area_id, version, stage)
);

CREATE TABLE IF NOT EXISTS terms (
    area_id text NOT NULL,
    academic_year text NOT NULL,
    name text NOT NULL,
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    PRIMARY KEY (area_id, academic_year, name)
);

CREATE TABLE IF NOT EXISTS settings (
    area_id text NOT NULL,
    setting_id text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    urn text,
    lead_name text NOT NULL,
    enrolled_on date NOT NULL,
    expected_per_term integer,
    briefed_on date,
    PRIMARY KEY (area_id, setting_id)
);

CREATE TABLE IF NOT EXISTS programme_activity (
    area_id text NOT NULL,
    activity_id text NOT NULL,
    kind text NOT NULL,
    held_on date NOT NULL,
    title text NOT NULL,
    attendees integer,
    PRIMARY KEY (area_id, activity_id)
);

-- The school term a date counts in: the area's recorded term that began last
-- on or before it (holidays count with the term before them), else the
-- calendar term: autumn September-December, spring January-April, summer
-- May-August, labelled by academic year such as "2025/26 autumn".
CREATE OR REPLACE FUNCTION term_of(area text, day date) RETURNS text AS $fn$
    SELECT COALESCE(
        (SELECT t.academic_year || ' ' || t.name FROM terms t
         WHERE t.area_id = area AND t.starts_on <= day
           AND day <= t.ends_on + 75
         ORDER BY t.starts_on DESC LIMIT 1),
        (SELECT y || '/' || lpad(((y + 1) % 100)::text, 2, '0') || ' ' ||
            CASE WHEN m >= 9 THEN 'autumn' WHEN m <= 4 THEN 'spring'
                 ELSE 'summer' END
         FROM (SELECT extract(month FROM day)::int AS m,
               (extract(year FROM day)::int
                - CASE WHEN extract(month FROM day) >= 9 THEN 0 ELSE 1 END) AS y) d))
$fn$ LANGUAGE sql STABLE;
"""

READ_MODEL_TABLES = (
    "caseload",
    "stage_times",
    "breaches",
    "areas",
    "response_targets",
    "terms",
    "settings",
    "programme_activity",
)
"""Every table built from the events; the audit trail is not one of them."""


async def create_read_models(pool: asyncpg.Pool) -> None:
    """Create the audit trail and every read model; one process at a time."""
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock(7301)")
        try:
            await ensure_audit_trail(connection)  # its owner is not the service
            upgrading = await _lacks_stage_terms(connection)
            await connection.execute(READ_MODELS)
            if upgrading:
                await connection.execute(
                    "UPDATE stage_times SET term = term_of(area_id, ended_on)"
                )
        finally:
            await connection.execute("SELECT pg_advisory_unlock(7301)")


async def _lacks_stage_terms(connection: Connection) -> bool:
    """Whether ``stage_times`` exists from before it stored each row's term."""
    exists: bool = await connection.fetchval(
        """SELECT to_regclass('stage_times') IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'stage_times'
              AND column_name = 'term')"""
    )
    return exists
