-- Issue 23 (the scale run). The admin page of live sessions lists them most recently seen first
-- (`ORDER BY last_seen DESC, uuid`, then a page): without an index in that order every live
-- session was read and sorted for each page (20,000 sessions: 16 ms a page on SQLite, 25 pages a
-- second under load); with it the page is read in order and stops after its rows. Keep in step
-- with the other engine's 0014_scale.sql.

CREATE INDEX user_session_last_seen ON user_session (last_seen DESC, uuid);
