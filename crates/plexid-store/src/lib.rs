//! plexid's storage: one interface ([`Conn`] methods) over SQLite and PostgreSQL. The SQL is
//! written once; the engines differ only in [`db`] and in their migration files.

pub mod accounts;
pub mod connections;
pub mod db;
pub mod error;
pub mod flows;
pub mod listing;
pub mod mappings;
pub mod sources;

pub use db::{Conn, Dialect, Param, Row, Store, Tx};
pub use error::{StoreError, StoreResult};
pub use listing::{Listed, Window};
