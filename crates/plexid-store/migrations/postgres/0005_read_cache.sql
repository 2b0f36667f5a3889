-- Anything changed: every instance drops its cached reads (plexid_store::changes listens on this
-- channel too; PostgreSQL folds the notifications of one transaction into one, delivered at
-- commit). Store::migrate attaches this function to every table, including tables added by later
-- migrations, as the trigger plexid_data_changed.
CREATE FUNCTION plexid_notify_data() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('plexid_data', '');
    RETURN NULL;
END;
$$;
