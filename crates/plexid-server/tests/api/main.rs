//! One integration-test binary: every test starts a real server (see `helpers`) and talks HTTP
//! to it, once on SQLite and once on PostgreSQL.

mod helpers;

mod auth;
mod flows;
mod mappings;
mod protocol;
mod sources;
