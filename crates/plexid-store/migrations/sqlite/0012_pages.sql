-- Issue 20. The names of the Plex servers an administrator picked for a source's
-- allowed_servers (plex.tv's names, as the source form listed them), so pages show names where
-- client identifiers were; and the sources whose Plex owner becomes an administrator at their
-- first sign-in through them (offered when the first source is created). Keep in step with the
-- other engine's 0012_pages.sql.
CREATE TABLE plex_server_name (
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    name TEXT NOT NULL,
    CONSTRAINT plex_server_name_pkey PRIMARY KEY (source_uuid, identifier)
);

CREATE TABLE owner_admin_grant (
    source_uuid TEXT PRIMARY KEY REFERENCES plex_source (uuid) ON DELETE CASCADE
);
