//! plexid's domain: the values an API request may carry, the rules they must satisfy (with
//! authentik 2024.6's exact error messages), pagination arithmetic and permission names.
//! Nothing here does I/O, so every rule is a plain function that unit tests can call.

pub mod listing;
pub mod pagination;
pub mod permission;
pub mod pyjson;
pub mod source;
pub mod validate;

pub use permission::Permission;
pub use validate::{Body, FieldErrors};
