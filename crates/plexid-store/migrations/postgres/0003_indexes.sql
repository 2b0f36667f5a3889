-- Pages of connections filtered by source, in id order, read straight from an index. Keep in
-- step with the other engine's 0003_indexes.sql (PostgreSQL also gets the change feed below).
CREATE INDEX user_source_connection_source_id ON user_source_connection (source_uuid, id);
CREATE INDEX group_source_connection_source_id ON group_source_connection (source_uuid, id);

-- Who may do what changed: every instance drops the API tokens and sessions it has cached
-- (plexid_store::changes listens on this channel; a notification is delivered at commit).
CREATE FUNCTION plexid_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('plexid_auth', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER api_token_auth AFTER INSERT OR UPDATE OR DELETE ON api_token
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER app_user_auth AFTER DELETE OR UPDATE OF is_active, username ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER app_group_auth AFTER DELETE OR UPDATE OF is_superuser ON app_group
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER group_member_auth AFTER INSERT OR UPDATE OR DELETE ON group_member
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER user_permission_auth AFTER INSERT OR UPDATE OR DELETE ON user_permission
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER group_permission_auth AFTER INSERT OR UPDATE OR DELETE ON group_permission
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
CREATE TRIGGER user_session_auth AFTER DELETE ON user_session
    FOR EACH STATEMENT EXECUTE FUNCTION plexid_notify_auth();
