-- Issue 23: no table notifies for the read cache any more. PostgreSQL serialises the commits of
-- all notifying transactions of a cluster behind one lock held through the WAL flush, and the
-- statement trigger plexid_data_changed on every table made every write notify: sign-ins,
-- events and session touches on every instance committed one at a time. The read cache now
-- follows the database's snapshot, polled by each instance (plexid_store::changes). Only the
-- tables that the auth caches read still notify (plexid_auth), and only when something those
-- caches read changes. Keep in step with the other engine's 0013_change_feed.sql.
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
             WHERE c.relnamespace = current_schema()::regnamespace AND g.tgname = 'plexid_data_changed'
    LOOP
        EXECUTE format('DROP TRIGGER plexid_data_changed ON %I', t.relname);
    END LOOP;
END
$$;
DROP FUNCTION plexid_notify_data();

-- A sign-in re-syncs the member's groups (INSERT … ON CONFLICT DO NOTHING, DELETE of what
-- mappings no longer name): a statement trigger notified for each such statement even when it
-- changed no row, and a notifying transaction commits under that cluster-wide lock. A row
-- trigger notifies only for a membership added or removed.
DROP TRIGGER group_member_auth ON group_member;
CREATE TRIGGER group_member_auth AFTER INSERT OR UPDATE OR DELETE ON group_member
    FOR EACH ROW EXECUTE FUNCTION plexid_notify_auth();
