-- How many user and group connections each source has, kept by triggers in the transaction that
-- changes them, so a page of a source's connections needs no count of every matching row (which
-- grows with the table). Keep in step with the other engine's 0006_connection_counts.sql.
CREATE TABLE source_connection_count (
    source_uuid TEXT NOT NULL REFERENCES plex_source (uuid) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    n BIGINT NOT NULL,
    CONSTRAINT source_connection_count_pkey PRIMARY KEY (source_uuid, kind)
);
INSERT INTO source_connection_count (source_uuid, kind, n)
    SELECT source_uuid, 'user', COUNT(*) FROM user_source_connection GROUP BY source_uuid
    UNION ALL
    SELECT source_uuid, 'group', COUNT(*) FROM group_source_connection GROUP BY source_uuid;

-- TG_ARGV[0]: the kind counted ('user' or 'group').
CREATE FUNCTION plexid_count_connections() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO source_connection_count (source_uuid, kind, n) VALUES (NEW.source_uuid, TG_ARGV[0], 1)
            ON CONFLICT (source_uuid, kind) DO UPDATE SET n = source_connection_count.n + 1;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE source_connection_count SET n = n - 1 WHERE source_uuid = OLD.source_uuid AND kind = TG_ARGV[0];
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER user_source_connection_count AFTER INSERT OR DELETE OR UPDATE OF source_uuid
    ON user_source_connection FOR EACH ROW EXECUTE FUNCTION plexid_count_connections('user');
CREATE TRIGGER group_source_connection_count AFTER INSERT OR DELETE OR UPDATE OF source_uuid
    ON group_source_connection FOR EACH ROW EXECUTE FUNCTION plexid_count_connections('group');
