-- Sign in with Plex: sessions, sign-ins waiting for a username, the audit log, the access state
-- of connections, source health and job leases. Keep in step with migrations/sqlite/0002_login.sql.

ALTER TABLE user_source_connection ADD COLUMN relationship TEXT NOT NULL DEFAULT '{}';
ALTER TABLE user_source_connection ADD COLUMN access_checked BIGINT;
ALTER TABLE user_source_connection ADD COLUMN access_revoked BIGINT;

CREATE TABLE user_session (
    key_hash TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    source_uuid TEXT REFERENCES plex_source (uuid) ON DELETE SET NULL,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    client_ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX user_session_user ON user_session (user_id);
CREATE INDEX user_session_expires ON user_session (expires);

CREATE TABLE pending_login (
    key_hash TEXT PRIMARY KEY,
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    expires BIGINT NOT NULL
);

CREATE TABLE event (
    uuid TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    app TEXT NOT NULL,
    user_pk BIGINT,
    username TEXT NOT NULL DEFAULT '',
    user_json TEXT NOT NULL DEFAULT '{}',
    context TEXT NOT NULL DEFAULT '{}',
    context_model_pk TEXT,
    client_ip TEXT,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX event_created ON event (created);
CREATE INDEX event_action_created ON event (action, created);
CREATE INDEX event_username ON event (username);

CREATE TABLE source_state (
    source_uuid TEXT PRIMARY KEY REFERENCES plex_source (uuid) ON DELETE CASCADE,
    token_state TEXT NOT NULL DEFAULT 'unknown',
    token_checked BIGINT,
    sweep_finished BIGINT,
    sweep_summary TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE job_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires BIGINT NOT NULL
);
