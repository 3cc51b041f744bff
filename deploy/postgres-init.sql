-- Run once by the postgres image, on the first start with an empty data
-- volume. Each service owns one database and reaches no other; the service
-- creates its own tables on start-up.
--
-- NOTE: four of the five share the role from POSTGRES_USER, so their
-- separation is by convention only. A role per database, each the owner of
-- its own, would enforce it. The projections service already runs as a role
-- of its own (below), because of the audit trail.
CREATE DATABASE prre_referral;
CREATE DATABASE prre_triage;
CREATE DATABASE prre_assessment;
CREATE DATABASE prre_review_scheduler;
CREATE DATABASE prre_projections;

-- The projections service's role may read the audit trail and append to it,
-- nothing more: the table and its triggers belong to POSTGRES_USER, so the
-- service cannot rewrite history (docs/governance.md). The password comes
-- from the container's environment (PRRE_PROJECTIONS_DB_PASSWORD).
\getenv projections_password PRRE_PROJECTIONS_DB_PASSWORD
CREATE ROLE prre_projections_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
    PASSWORD :'projections_password';
\connect prre_projections
-- The same file prre_projections.audit runs for the embedded stack.
\i /docker-entrypoint-initdb.d/prre/audit_trail.sql
