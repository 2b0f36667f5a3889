-- Jobs (issue 19): a lease is short and renewed while its job runs; when the job is due next is
-- kept apart from it. Keep in step with the other engine's 0009_reliability.sql.
ALTER TABLE job_lease ADD COLUMN next_run BIGINT NOT NULL DEFAULT 0;

-- Which updates tell every instance to drop what it cached about who may do what. These triggers
-- used to list the columns that matter, and missed some (a user's attributes, which give the
-- UPN-mode `x-authentik-uid`). Now any change notifies except to the columns listed here, which
-- no cache reads and which sign-ins and sweeps write all the time: a column added later notifies
-- until someone decides otherwise.
DROP TRIGGER app_user_auth ON app_user;
DROP TRIGGER app_user_identity ON app_user;
CREATE TRIGGER app_user_auth AFTER DELETE ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER app_user_changed AFTER UPDATE ON app_user FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_login') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login'))
    EXECUTE FUNCTION plexid_notify_auth();

DROP TRIGGER app_group_auth ON app_group;
DROP TRIGGER app_group_identity ON app_group;
CREATE TRIGGER app_group_auth AFTER UPDATE OR DELETE ON app_group
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();

DROP TRIGGER user_source_connection_auth ON user_source_connection;
CREATE TRIGGER user_source_connection_auth AFTER INSERT OR DELETE ON user_source_connection
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER user_source_connection_changed AFTER UPDATE ON user_source_connection FOR EACH ROW
    WHEN ((to_jsonb(OLD) - ARRAY['plex_token', 'last_updated', 'access_checked'])
          IS DISTINCT FROM (to_jsonb(NEW) - ARRAY['plex_token', 'last_updated', 'access_checked']))
    EXECUTE FUNCTION plexid_notify_auth();

-- A notification names the schema it comes from, so instances on other schemas of the same
-- database (notifications are per database) ignore it instead of dropping their caches.
CREATE OR REPLACE FUNCTION plexid_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('plexid_auth', current_schema());
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION plexid_notify_data() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('plexid_data', current_schema());
    RETURN NULL;
END;
$$;
