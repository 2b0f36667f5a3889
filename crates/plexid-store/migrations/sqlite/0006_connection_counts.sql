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

CREATE TRIGGER user_source_connection_count_insert AFTER INSERT ON user_source_connection BEGIN
    INSERT INTO source_connection_count (source_uuid, kind, n) VALUES (NEW.source_uuid, 'user', 1)
        ON CONFLICT (source_uuid, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER user_source_connection_count_delete AFTER DELETE ON user_source_connection BEGIN
    UPDATE source_connection_count SET n = n - 1 WHERE source_uuid = OLD.source_uuid AND kind = 'user';
END;
CREATE TRIGGER user_source_connection_count_update AFTER UPDATE OF source_uuid ON user_source_connection BEGIN
    UPDATE source_connection_count SET n = n - 1 WHERE source_uuid = OLD.source_uuid AND kind = 'user';
    INSERT INTO source_connection_count (source_uuid, kind, n) VALUES (NEW.source_uuid, 'user', 1)
        ON CONFLICT (source_uuid, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER group_source_connection_count_insert AFTER INSERT ON group_source_connection BEGIN
    INSERT INTO source_connection_count (source_uuid, kind, n) VALUES (NEW.source_uuid, 'group', 1)
        ON CONFLICT (source_uuid, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER group_source_connection_count_delete AFTER DELETE ON group_source_connection BEGIN
    UPDATE source_connection_count SET n = n - 1 WHERE source_uuid = OLD.source_uuid AND kind = 'group';
END;
CREATE TRIGGER group_source_connection_count_update AFTER UPDATE OF source_uuid ON group_source_connection BEGIN
    UPDATE source_connection_count SET n = n - 1 WHERE source_uuid = OLD.source_uuid AND kind = 'group';
    INSERT INTO source_connection_count (source_uuid, kind, n) VALUES (NEW.source_uuid, 'group', 1)
        ON CONFLICT (source_uuid, kind) DO UPDATE SET n = n + 1;
END;
