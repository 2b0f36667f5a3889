//! plexid's domain: typed ids, the enums of its models, the records every front end works
//! with, and the rules they obey (with authentik 2024.6's messages). Nothing here does I/O, so
//! every rule is a plain function that unit tests can call. authentik's wire details (DRF body
//! reading, pagination, query parsing) live next to the API that speaks them.

pub mod apps;
pub mod errors;
pub mod flights;
pub mod ids;
pub mod login;
pub mod model;
pub mod modes;
pub mod permission;
pub mod rules;
pub mod source;
pub mod time;

pub use errors::FieldErrors;
pub use ids::{
    ApplicationId, FlowId, GroupConnectionId, GroupId, MappingId, ProviderId, SourceId, TokenId, UserConnectionId,
    UserId,
};
pub use permission::Permission;

/// A point in time (UTC, microsecond precision as stored).
pub type Timestamp = jiff::Timestamp;
