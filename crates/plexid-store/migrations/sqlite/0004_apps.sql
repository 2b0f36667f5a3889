-- Applications and their providers (OpenID Connect, forward-auth), OAuth2 codes and tokens, the
-- keys ID tokens are signed with, and forward-auth sessions. Keep in step with
-- migrations/postgres/0004_apps.sql.

CREATE TABLE provider (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    authentication_flow TEXT REFERENCES flow (uuid) ON DELETE SET NULL,
    authorization_flow TEXT NOT NULL REFERENCES flow (uuid) ON DELETE CASCADE,
    client_id TEXT NOT NULL CONSTRAINT provider_client_id_key UNIQUE,
    client_secret_hash TEXT NOT NULL DEFAULT '',
    client_secret_hint TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX provider_kind_id ON provider (kind, id);

CREATE TABLE application (
    uuid TEXT PRIMARY KEY,
    slug TEXT NOT NULL CONSTRAINT application_slug_key UNIQUE,
    name TEXT NOT NULL,
    provider_id BIGINT CONSTRAINT application_provider_key UNIQUE REFERENCES provider (id) ON DELETE SET NULL,
    open_in_new_tab BOOLEAN NOT NULL DEFAULT FALSE,
    meta_launch_url TEXT NOT NULL DEFAULT '',
    meta_description TEXT NOT NULL DEFAULT '',
    meta_publisher TEXT NOT NULL DEFAULT '',
    policy_engine_mode TEXT NOT NULL DEFAULT 'any',
    group_name TEXT NOT NULL DEFAULT '',
    access TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE oauth_code (
    code_hash TEXT PRIMARY KEY,
    provider_id BIGINT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    nonce TEXT,
    code_challenge TEXT,
    auth_time BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX oauth_code_expires ON oauth_code (expires);

CREATE TABLE oauth_token (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    provider_id BIGINT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    auth_time BIGINT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX oauth_token_code ON oauth_token (code_hash);
CREATE INDEX oauth_token_user ON oauth_token (user_id, provider_id);
CREATE INDEX oauth_token_expires ON oauth_token (expires);

CREATE TABLE signing_key (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created BIGINT NOT NULL,
    retired BIGINT
);

CREATE TABLE proxy_session (
    key_hash TEXT PRIMARY KEY,
    provider_id BIGINT NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX proxy_session_user ON proxy_session (user_id);
CREATE INDEX proxy_session_expires ON proxy_session (expires);
