//! Who is calling, and what they may do. `Authorization: Bearer <key>` is looked up by the
//! key's hash; failures are 403 with authentik's bodies (authentik never answers 401).

use std::collections::HashSet;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use plexid_core::permission::{Action, Model};
use plexid_core::Permission;

use crate::clock::now_micros;
use crate::crypto::hash_token;
use crate::error::{ApiError, ApiResult, NOT_AUTHENTICATED, NO_PERMISSION, TOKEN_INVALID, UNSUPPORTED_AUTH};
use crate::state::AppState;

/// An authenticated user and their global permissions.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub is_superuser: bool,
    permissions: HashSet<String>,
}

impl Principal {
    pub fn has(&self, permission: Permission) -> bool {
        self.is_superuser || self.permissions.contains(&permission.to_string())
    }
}

/// The caller of a request.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    User(Principal),
}

impl Caller {
    /// Any authenticated user (D7: everything but the login endpoints needs authentication).
    pub fn user(&self) -> ApiResult<&Principal> {
        match self {
            Caller::Anonymous => Err(ApiError::Forbidden(NOT_AUTHENTICATED)),
            Caller::User(principal) => Ok(principal),
        }
    }

    /// An authenticated user holding `action` on `model` (globally, or as a superuser).
    pub fn require(&self, action: Action, model: Model) -> ApiResult<&Principal> {
        let principal = self.user()?;
        if principal.has(Permission::new(action, model)) {
            Ok(principal)
        } else {
            Err(ApiError::Forbidden(NO_PERMISSION))
        }
    }

    pub fn can(&self, action: Action, model: Model) -> bool {
        matches!(self, Caller::User(p) if p.has(Permission::new(action, model)))
    }
}

/// What the `Authorization` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum Credentials<'a> {
    None,
    Bearer(&'a str),
    Unsupported,
}

/// authentik's header parsing: empty or a single word is no credentials; a scheme other than
/// bearer (any case) is unsupported.
fn parse_authorization(header: Option<&str>) -> Credentials<'_> {
    let Some(value) = header.map(str::trim).filter(|v| !v.is_empty()) else {
        return Credentials::None;
    };
    match value.split_once(' ') {
        None => Credentials::None,
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => Credentials::Bearer(key.trim()),
        Some(_) => Credentials::Unsupported,
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| ApiError::Forbidden(TOKEN_INVALID))?),
        };
        let key = match parse_authorization(header) {
            Credentials::None => return Ok(Caller::Anonymous),
            Credentials::Unsupported => return Err(ApiError::Forbidden(UNSUPPORTED_AUTH)),
            Credentials::Bearer(key) => key,
        };
        let mut conn = state.store.conn();
        let owner = conn.token_owner(&hash_token(key)).await?.ok_or(ApiError::Forbidden(TOKEN_INVALID))?;
        let expired = owner.expiring && owner.expires.is_some_and(|at| at <= now_micros());
        if expired || !owner.user_active || owner.intent != "api" {
            return Err(ApiError::Forbidden(TOKEN_INVALID));
        }
        let permissions = if owner.is_superuser {
            HashSet::new()
        } else {
            conn.user_permissions(owner.user_id).await?.into_iter().collect()
        };
        Ok(Caller::User(Principal {
            user_id: owner.user_id,
            username: owner.username,
            is_superuser: owner.is_superuser,
            permissions,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_follows_authentik() {
        assert_eq!(parse_authorization(None), Credentials::None);
        assert_eq!(parse_authorization(Some("")), Credentials::None);
        assert_eq!(parse_authorization(Some("Bearer")), Credentials::None);
        assert_eq!(parse_authorization(Some("bearer abc")), Credentials::Bearer("abc"));
        assert_eq!(parse_authorization(Some("Basic abc")), Credentials::Unsupported);
    }
}
