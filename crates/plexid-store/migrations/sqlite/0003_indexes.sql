-- Pages of connections filtered by source, in id order, read straight from an index. Keep in
-- step with the other engine's 0003_indexes.sql (PostgreSQL also gets the change feed below).
CREATE INDEX user_source_connection_source_id ON user_source_connection (source_uuid, id);
CREATE INDEX group_source_connection_source_id ON group_source_connection (source_uuid, id);
