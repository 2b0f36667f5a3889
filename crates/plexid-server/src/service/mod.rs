//! The operations of plexid, shared by every front end: the `/api/v3` API today, and the login
//! pages, background jobs and OIDC provider next. Typed commands in, domain records out, one
//! error type; each operation checks the caller's permissions itself (so no front end can forget
//! one) and runs in one transaction, in which the reads that decide its writes happen too.

use std::collections::HashSet;

use plexid_core::login::DenyReason;
use plexid_core::{FieldErrors, Permission, UserId};
use plexid_store::{Constraint, StoreError};

pub mod applications;
pub mod audit;
pub mod auth_cache;
pub mod connections;
pub mod events;
pub mod flows;
pub mod forward_auth;
pub mod groups;
pub mod keys;
pub mod limits;
pub mod login;
pub mod mappings;
pub mod oidc;
pub mod permissions;
pub mod plex_facts;
pub mod providers;
pub mod sessions;
pub mod sources;
pub mod tokens;
pub mod users;

pub use crate::state::AppState;

/// django-filter's message for a filter value that names nothing.
pub const UNKNOWN_CHOICE: &str = "Select a valid choice. That choice is not one of the available choices.";

/// An authenticated user and their global permissions.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: UserId,
    pub username: String,
    pub is_superuser: bool,
    pub permissions: HashSet<Permission>,
}

impl Principal {
    /// The principal of an active user: a superuser holds every permission, anyone else the
    /// permissions granted to them and their groups.
    pub async fn load<A: plexid_store::Access>(
        conn: &mut plexid_store::Conn<'_, A>,
        user: UserId,
        username: String,
        is_superuser: bool,
    ) -> ServiceResult<Principal> {
        let permissions = if is_superuser {
            Default::default()
        } else {
            conn.user_permissions(user).await?.iter().filter_map(|name| Permission::parse(name)).collect()
        };
        Ok(Principal { user, username, is_superuser, permissions })
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.is_superuser || self.permissions.contains(&permission)
    }
}

/// Where a request came from, for sessions, rate limits and the audit log.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

/// Who asks for an operation.
#[derive(Clone, Debug)]
pub enum Actor {
    Anonymous,
    User(Principal),
    /// plexid itself (start-up, the command line, background jobs): may do everything.
    System,
}

impl Actor {
    /// The authenticated user (D7: everything but the login needs authentication).
    pub fn principal(&self) -> ServiceResult<&Principal> {
        match self {
            Actor::User(principal) => Ok(principal),
            Actor::Anonymous => Err(ServiceError::NotAuthenticated),
            Actor::System => Err(ServiceError::Internal("the system actor has no user".into())),
        }
    }

    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Actor::Anonymous)
    }

    pub fn is_superuser(&self) -> bool {
        match self {
            Actor::User(principal) => principal.is_superuser,
            Actor::System => true,
            Actor::Anonymous => false,
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Actor::User(principal) => principal.has(permission),
            Actor::System => true,
            Actor::Anonymous => false,
        }
    }

    /// Fails with "not authenticated" or "forbidden" unless the actor holds `permission`.
    pub fn require(&self, permission: Permission) -> ServiceResult<()> {
        match self {
            Actor::Anonymous => Err(ServiceError::NotAuthenticated),
            _ if self.can(permission) => Ok(()),
            _ => Err(ServiceError::Forbidden),
        }
    }

    /// Fails unless the actor is authenticated.
    pub fn require_authenticated(&self) -> ServiceResult<()> {
        if self.is_authenticated() {
            Ok(())
        } else {
            Err(ServiceError::NotAuthenticated)
        }
    }

    /// Is this the given user?
    pub fn is_user(&self, user: UserId) -> bool {
        matches!(self, Actor::User(p) if p.user == user)
    }
}

/// What an operation can fail with. Front ends turn it into their own shape (the API into
/// authentik's error bodies).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("permission denied")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// The command is not acceptable; nothing was written.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// A sign-in was refused (nothing was written but its audit event).
    #[error("sign-in refused: {}", .reason.code())]
    Denied { reason: DenyReason, message: String },
    /// plex.tv failed or could not be reached (D9).
    #[error("plex.tv is unavailable")]
    PlexUnavailable,
    /// plex.tv asked plexid to slow down (D9); seconds until it may ask again, if plex.tv said.
    #[error("plex.tv is rate limiting plexid")]
    PlexRateLimited { retry_after: Option<u64> },
    /// Too many sign-in attempts (D17); seconds until the next is accepted.
    #[error("too many sign-in attempts")]
    RateLimited { retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<FieldErrors> for ServiceError {
    fn from(errors: FieldErrors) -> Self {
        ServiceError::Invalid(errors)
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unique(constraint) => {
                let (field, message) = conflict(constraint);
                ServiceError::Invalid(FieldErrors::single(field, message))
            }
            StoreError::ForeignKey => {
                ServiceError::Invalid(FieldErrors::single("non_field_errors", "A referenced object does not exist."))
            }
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// A unique-constraint violation as the field error authentik (or plexid, where authentik has
/// none) reports.
pub fn conflict(constraint: Constraint) -> (&'static str, &'static str) {
    match constraint {
        Constraint::SourceSlug => ("slug", "source with this slug already exists."),
        Constraint::SourceManaged => ("managed", "source with this managed already exists."),
        Constraint::FlowSlug => ("slug", "flow with this slug already exists."),
        Constraint::MappingName => ("name", "Property Mapping with this name already exists."),
        Constraint::MappingManaged => ("managed", "Property Mapping with this managed already exists."),
        Constraint::Username => ("username", "A user with that username already exists."),
        Constraint::UserUuid => ("uuid", "user with this uuid already exists."),
        Constraint::GroupNameParent => ("non_field_errors", "The fields name, parent must make a unique set."),
        Constraint::UserConnectionUserSource => ("non_field_errors", "The fields user, source must make a unique set."),
        Constraint::UserConnectionSourceIdentifier => {
            ("identifier", "This Plex account is already linked to another user of this source.")
        }
        Constraint::GroupConnectionGroupSource => {
            ("non_field_errors", "The fields group, source must make a unique set.")
        }
        Constraint::GroupConnectionSourceIdentifier => {
            ("identifier", "This identifier is already linked to another group of this source.")
        }
        Constraint::TokenIdentifier => ("identifier", "Token with this identifier already exists."),
        Constraint::TokenUuid => ("non_field_errors", "Token with this uuid already exists."),
        Constraint::TokenKeyHash => ("key", "Token with this key already exists."),
        Constraint::TokenManaged => ("managed", "Token with this managed already exists."),
        Constraint::ApplicationSlug => ("slug", "Application with this slug already exists."),
        Constraint::ApplicationProvider => ("provider", "Application with this provider already exists."),
        Constraint::ProviderClientId => ("client_id", "OAuth2/OpenID Provider with this Client ID already exists."),
        Constraint::ProviderName => ("name", "provider with this name already exists."),
    }
}

/// Fails with the collected errors, in declaration order, if there are any.
pub(crate) fn check(mut errors: FieldErrors, order: &[&str]) -> ServiceResult<()> {
    errors.sort_by(order);
    errors.into_result().map_err(ServiceError::Invalid)
}

/// Records `does_not_exist` for the first of `wanted` not in `existing`, unless `field` already
/// has an error.
pub(crate) fn missing_reference<T: PartialEq + std::fmt::Display>(
    errors: &mut FieldErrors,
    field: &str,
    wanted: &[T],
    existing: &[T],
) {
    if let Some(missing) = wanted.iter().find(|id| !existing.contains(id)) {
        if !errors.has(field) {
            errors.add(field, plexid_core::errors::does_not_exist(missing));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexid_core::permission::{Action, Model};

    #[test]
    fn actors_and_permissions() {
        let view = Permission::new(Action::View, Model::PlexSource);
        let user = Actor::User(Principal {
            user: UserId(2),
            username: "u".into(),
            is_superuser: false,
            permissions: [view].into_iter().collect(),
        });
        assert!(user.require(view).is_ok());
        assert!(matches!(user.require(Permission::new(Action::Add, Model::PlexSource)), Err(ServiceError::Forbidden)));
        assert!(matches!(Actor::Anonymous.require(view), Err(ServiceError::NotAuthenticated)));
        assert!(Actor::System.can(view) && Actor::System.is_superuser());
        assert!(user.is_user(UserId(2)) && !user.is_user(UserId(3)));
    }

    #[test]
    fn every_constraint_has_a_field_error() {
        for constraint in Constraint::ALL {
            let (field, message) = conflict(*constraint);
            assert!(!field.is_empty() && message.ends_with('.'), "{constraint:?}");
        }
    }
}
