-- Nothing to do on SQLite: its read cache is checked against PRAGMA data_version. The
-- PostgreSQL migration of the same number adds the change feed its read cache needs.
SELECT 1;
