//! Background jobs live here: the source-token check and the access sweep of the login issue.
//! Each job is a plain async function over [`crate::service`] and the application state's
//! [`crate::clock::Clock`] (so tests run it at a chosen time instead of waiting), started by
//! `Server::run` on its schedule; with several instances on one PostgreSQL database, a job takes
//! a PostgreSQL advisory lock so only one instance runs it at a time.
