-- Jobs (issue 19): a lease is short and renewed while its job runs; when the job is due next is
-- kept apart from it. Keep in step with the other engine's 0009_reliability.sql (PostgreSQL also
-- changes which updates notify other instances' caches).
ALTER TABLE job_lease ADD COLUMN next_run BIGINT NOT NULL DEFAULT 0;
