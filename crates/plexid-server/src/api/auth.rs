//! Who is calling: `Authorization: Bearer <key>`, else the session cookie, becomes the [`Actor`]
//! every operation takes. A cookie-authenticated write must carry the session's CSRF token in
//! `X-CSRFToken` (a bearer token needs none: browsers never send it on their own). Failures are
//! 403 with authentik's bodies (authentik never answers 401).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::{ApiError, CSRF_INCORRECT, CSRF_MISSING, TOKEN_INVALID, UNSUPPORTED_AUTH};
use crate::service::{sessions, tokens, Actor};
use crate::state::AppState;
use crate::web::cookies;

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

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let actor = identify(parts, state).await?;
        if actor.is_authenticated() {
            parts.extensions.insert(super::http::Authenticated);
        }
        Ok(actor)
    }
}

/// The caller of a request: a bearer token's user, a session's, or nobody.
async fn identify(parts: &Parts, state: &AppState) -> Result<Actor, ApiError> {
    let header = match parts.headers.get(AUTHORIZATION) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| ApiError::Forbidden(TOKEN_INVALID))?),
    };
    match parse_authorization(header) {
        Credentials::None => session_actor(parts, state).await,
        Credentials::Unsupported => Err(ApiError::Forbidden(UNSUPPORTED_AUTH)),
        Credentials::Bearer(key) => {
            let principal = tokens::authenticate(state, key).await?.ok_or(ApiError::Forbidden(TOKEN_INVALID))?;
            Ok(Actor::User(principal))
        }
    }
}

/// The actor of the session cookie (anonymous without a live one), checking CSRF on writes.
async fn session_actor(parts: &Parts, state: &AppState) -> Result<Actor, ApiError> {
    let Some(key) = cookies::read_own(&parts.headers, &state.settings, cookies::SESSION) else {
        return Ok(Actor::Anonymous);
    };
    let Some((principal, _)) = sessions::authenticate(state, &key).await? else {
        return Ok(Actor::Anonymous);
    };
    if !parts.method.is_safe() {
        let sent = parts.headers.get(cookies::CSRF_HEADER).and_then(|v| v.to_str().ok());
        match sent {
            None => return Err(ApiError::Forbidden(CSRF_MISSING)),
            Some(token) if token != sessions::csrf_token(&key) => return Err(ApiError::Forbidden(CSRF_INCORRECT)),
            Some(_) => {}
        }
    }
    Ok(Actor::User(principal))
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
