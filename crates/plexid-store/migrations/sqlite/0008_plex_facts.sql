-- The health of each plex.tv call a source depends on (the owner's identity, servers, accepted
-- shares, friends, Plex Home): its state (`ok`, `unavailable`, `rate_limited`, `rejected`,
-- `gone`), since when, and what plex.tv said, so a call that keeps failing is visible and raises
-- one event per change of state. Keep in step with the other engine's 0008_plex_facts.sql.
CREATE TABLE plex_fact_state (
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    fact TEXT NOT NULL,
    state TEXT NOT NULL,
    since BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    CONSTRAINT plex_fact_state_pkey PRIMARY KEY (source_uuid, fact)
);
