//! One integration-test binary: every test starts a real server (see `helpers`) and talks HTTP
//! to it, once on SQLite and once on PostgreSQL.

mod helpers;
mod import;

mod accounts;
mod admin;
mod apps;
mod audit;
mod auth;
mod binary;
mod browser;
mod clients;
mod compat;
mod conformance;
mod connections;
mod deploy;
mod flows;
mod forward_auth;
mod fuzz;
mod limits;
mod login;
mod mappings;
mod metrics;
mod oidc;
mod plex_tv;
mod process;
mod protocol;
mod proxies;
mod rbac;
mod reliability;
mod security;
mod shape;
mod sources;
mod standin;
