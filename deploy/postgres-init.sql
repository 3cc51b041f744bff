-- Run once by the postgres image, on the first start with an empty data
-- volume. Each service owns one database and reaches no other; the service
-- creates its own tables on start-up.
--
-- NOTE: all five share the role from POSTGRES_USER, so the separation is by
-- convention only. A role per database, each the owner of its own, would
-- enforce it; the passwords would then come from a shell init script.
CREATE DATABASE prre_referral;
CREATE DATABASE prre_triage;
CREATE DATABASE prre_assessment;
CREATE DATABASE prre_review_scheduler;
CREATE DATABASE prre_projections;
