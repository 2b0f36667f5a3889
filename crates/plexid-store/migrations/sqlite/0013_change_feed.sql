-- Nothing to do on SQLite: its caches follow PRAGMA data_version. The PostgreSQL migration of
-- the same number drops the notifications every table sent for the read cache.
SELECT 1;
