//! plexid's storage: one interface ([`Conn`] methods) over SQLite and PostgreSQL. The SQL is
//! written once; the engines differ only in [`engine`], [`sqlite`] and their migration files.
//! Every module reads and writes one concern and returns the domain records of `plexid-core`.

pub mod apps;
pub mod backup;
pub mod changes;
pub mod connections;
pub mod constraint;
pub mod engine;
pub mod error;
pub mod events;
pub mod flows;
pub mod groups;
pub mod jobs;
pub mod listing;
pub mod mappings;
mod migrate;
pub mod oauth;
pub mod permissions;
mod read_cache;
pub mod row;
pub mod sessions;
pub mod settings;
pub mod sources;
mod sqlite;
pub mod tokens;
pub mod users;

pub use constraint::Constraint;
pub use engine::{redact_url, Access, Conn, Dialect, ReadOnly, ReadWrite, Store, Tx};
pub use error::{StoreError, StoreResult};
pub use listing::{Listed, OrderTerm, Window};
pub use migrate::MIGRATION_COUNT;
pub use row::{Param, Row};
pub use sqlite::sqlite_path;
