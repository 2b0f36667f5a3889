//! The page of an application's refusal: who is signed in, why the application refuses them,
//! what it admits (its rule in words), and a way to sign in with another Plex account and come
//! straight back.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plexid_core::apps::AppDenial;

use super::account::account_header;
use super::text::{rule, ServerNames};
use super::{document, escape, PageError, SignedIn};
use crate::service::{applications, oidc, sessions, sources};
use crate::state::AppState;

/// `user` was refused the application of `client_id` for `reason`; `back` is the address that
/// asked (the authorization request), where another account's sign-in returns to.
pub async fn show(state: &AppState, client_id: &str, reason: AppDenial, user: &SignedIn, back: &str) -> Response {
    match page(state, client_id, reason, user, back).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn page(
    state: &AppState,
    client_id: &str,
    reason: AppDenial,
    user: &SignedIn,
    back: &str,
) -> Result<Response, PageError> {
    let client = oidc::client(state, client_id).await.map_err(|e| PageError::internal(&e))?;
    let application = client.map(|c| c.application).ok_or_else(PageError::not_found)?;
    let (groups, source) = applications::rule_names(state, &application).await.map_err(|e| PageError::internal(&e))?;
    let servers = ServerNames(sources::server_names(state).await.map_err(|e| PageError::internal(&e))?);
    let admits = rule(&application.access, application.policy_engine_mode, &groups, source.as_deref(), &servers);
    let body = format!(
        "<div class=\"card\"><h1>Access denied</h1>\
         <p>You are signed in as <strong>{username}</strong>, and {app} does not let this account in. {reason}</p>\
         <p id=\"admits\">{app} admits {admits}.</p>\
         <p>If you have another Plex account that it admits, sign in with that one instead.</p>\
         <form method=\"post\" action=\"/if/logout/\" class=\"actions\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"next\" value=\"{back}\">\
         <button type=\"submit\">Use another Plex account</button> \
         <a class=\"button secondary\" href=\"/if/user/\">My account</a></form></div>",
        username = escape(&user.principal.username),
        app = escape(&application.name),
        reason = escape(reason.message()),
        admits = escape(&admits),
        csrf = escape(&sessions::csrf_token(&user.key)),
        back = escape(back),
    );
    let mut response = document(state, "Access denied", &account_header(&user.principal), &body, &[], "");
    *response.status_mut() = StatusCode::FORBIDDEN;
    Ok(response)
}
