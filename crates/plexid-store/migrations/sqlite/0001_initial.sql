-- plexid initial schema (SQLite). Keep in step with migrations/postgres/0001_initial.sql:
-- only the id columns differ.
CREATE TABLE setting (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE app_user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL CONSTRAINT app_user_username_key UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    path TEXT NOT NULL DEFAULT 'users',
    attributes TEXT NOT NULL DEFAULT '{}',
    last_login BIGINT,
    date_joined BIGINT NOT NULL,
    user_type TEXT NOT NULL DEFAULT 'internal'
);

CREATE TABLE app_group (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    parent TEXT REFERENCES app_group (uuid) ON DELETE SET NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    CONSTRAINT app_group_name_parent_key UNIQUE (name, parent)
);

CREATE TABLE group_member (
    group_uuid TEXT NOT NULL REFERENCES app_group (uuid) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    PRIMARY KEY (group_uuid, user_id)
);
CREATE INDEX group_member_user ON group_member (user_id);

CREATE TABLE user_permission (
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (user_id, permission)
);

CREATE TABLE group_permission (
    group_uuid TEXT NOT NULL REFERENCES app_group (uuid) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (group_uuid, permission)
);

CREATE TABLE api_token (
    identifier TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    key_encrypted TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    intent TEXT NOT NULL DEFAULT 'api',
    description TEXT NOT NULL DEFAULT '',
    expiring BOOLEAN NOT NULL DEFAULT TRUE,
    expires BIGINT,
    managed TEXT UNIQUE
);
CREATE INDEX api_token_user ON api_token (user_id);

CREATE TABLE flow (
    uuid TEXT PRIMARY KEY,
    slug TEXT NOT NULL CONSTRAINT flow_slug_key UNIQUE,
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    designation TEXT NOT NULL,
    authentication TEXT NOT NULL DEFAULT 'none',
    policy_engine_mode TEXT NOT NULL DEFAULT 'any',
    compatibility_mode BOOLEAN NOT NULL DEFAULT FALSE,
    layout TEXT NOT NULL DEFAULT 'stacked',
    denied_action TEXT NOT NULL DEFAULT 'message_continue'
);

CREATE TABLE property_mapping (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT property_mapping_name_key UNIQUE,
    expression TEXT NOT NULL,
    managed TEXT CONSTRAINT property_mapping_managed_key UNIQUE
);

CREATE TABLE plex_source (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL CONSTRAINT plex_source_slug_key UNIQUE,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    authentication_flow TEXT REFERENCES flow (uuid) ON DELETE SET NULL,
    enrollment_flow TEXT REFERENCES flow (uuid) ON DELETE SET NULL,
    policy_engine_mode TEXT NOT NULL,
    user_matching_mode TEXT NOT NULL,
    group_matching_mode TEXT NOT NULL,
    managed TEXT UNIQUE,
    user_path_template TEXT NOT NULL,
    icon TEXT,
    client_id TEXT NOT NULL,
    allowed_servers TEXT NOT NULL DEFAULT '[]',
    allow_friends BOOLEAN NOT NULL DEFAULT TRUE,
    plex_token TEXT NOT NULL
);
CREATE INDEX plex_source_name ON plex_source (name);

CREATE TABLE source_property_mapping (
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    mapping_uuid TEXT NOT NULL REFERENCES property_mapping (uuid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (source_uuid, kind, mapping_uuid)
);
CREATE INDEX source_property_mapping_mapping ON source_property_mapping (mapping_uuid);

CREATE TABLE user_source_connection (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    plex_token TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    CONSTRAINT user_source_connection_user_source_key UNIQUE (user_id, source_uuid),
    CONSTRAINT user_source_connection_source_identifier_key UNIQUE (source_uuid, identifier)
);
CREATE INDEX user_source_connection_user ON user_source_connection (user_id);

CREATE TABLE group_source_connection (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_uuid TEXT NOT NULL REFERENCES app_group (uuid) ON DELETE CASCADE,
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    CONSTRAINT group_source_connection_group_source_key UNIQUE (group_uuid, source_uuid),
    CONSTRAINT group_source_connection_source_identifier_key UNIQUE (source_uuid, identifier)
);
CREATE INDEX group_source_connection_group ON group_source_connection (group_uuid);
