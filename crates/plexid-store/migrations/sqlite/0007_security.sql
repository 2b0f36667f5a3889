-- Issue 17 (security). Keep in step with migrations/postgres/0007_security.sql.

-- An application's relationship rules name the source whose relationships count (D26). A
-- database with one source keeps working: its applications name that source. With several,
-- the rules admit nobody until an administrator picks one.
ALTER TABLE application ADD COLUMN access_source_uuid TEXT REFERENCES plex_source (uuid) ON DELETE SET NULL;
UPDATE application SET access_source_uuid = (SELECT uuid FROM plex_source)
    WHERE (SELECT count(*) FROM plex_source) = 1;

-- OpenID Connect grants and forward-auth sessions remember the plexid session (browser) they
-- were born in, so signing out ends them; a refresh token is kept (spent) after its one use, so
-- a second use is recognised and revokes its whole family.
ALTER TABLE oauth_code ADD COLUMN session_uuid TEXT;
ALTER TABLE oauth_token ADD COLUMN session_uuid TEXT;
ALTER TABLE oauth_token ADD COLUMN spent BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE proxy_session ADD COLUMN session_uuid TEXT;
CREATE INDEX oauth_token_session ON oauth_token (session_uuid);
CREATE INDEX oauth_code_session ON oauth_code (session_uuid);
CREATE INDEX proxy_session_session ON proxy_session (session_uuid);

-- The email address plex.tv said was confirmed for this Plex account at its last sign-in (empty:
-- none), so OpenID Connect's email_verified is true only for an address plex.tv confirmed.
ALTER TABLE user_source_connection ADD COLUMN verified_email TEXT NOT NULL DEFAULT '';
