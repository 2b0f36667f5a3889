//! `/api/v3/sources/plex/redeem_token/` and `redeem_token_authenticated/`: the browser hands
//! plexid the Plex token of a PIN the person approved. Thin: read the body, call
//! [`crate::service::login`], answer authentik's `RedirectChallenge` and set the cookies.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::drf::Text;
use super::error::ApiResult;
use super::http::{no_content, ok, JsonBody, QueryParams};
use super::{read_body, GenericError, ValidationError};
use crate::service::login::{self, Redeem, Redeemed};
use crate::service::{Actor, Client};
use crate::state::AppState;
use crate::web::cookies;

/// authentik's `PlexTokenRedeemRequest`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlexTokenRedeemRequest {
    #[schema(min_length = 1)]
    pub plex_token: String,
}

/// authentik's `ContextualFlowInfo` (part of the challenge schema; plexid leaves it out).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ContextualFlowInfo {
    pub title: Option<String>,
    pub background: Option<String>,
    pub cancel_url: String,
    pub layout: ContextualFlowInfoLayoutEnum,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ContextualFlowInfoLayoutEnum {
    Stacked,
    ContentLeft,
    ContentRight,
    SidebarLeft,
    SidebarRight,
}

/// authentik's `ErrorDetail`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    pub string: String,
    pub code: String,
}

/// authentik's `RedirectChallenge`: where the browser goes next.
#[derive(Serialize, ToSchema)]
pub struct RedirectChallenge {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_info: Option<ContextualFlowInfo>,
    pub to: String,
    #[schema(default = "xak-flow-redirect")]
    pub component: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_errors: Option<std::collections::HashMap<String, Vec<ErrorDetail>>>,
}

/// A denial: `{"detail": reason, "code": reason code}`.
#[derive(Serialize, ToSchema)]
pub struct Refusal {
    pub detail: String,
    pub code: String,
}

fn read_request(
    state: &AppState,
    query: &QueryParams,
    body: &serde_json::Value,
    client: Client,
    headers: &HeaderMap,
) -> Redeem {
    let (plex_token, body_errors) = read_body(body, false, |b| b.text("plex_token", Text::REQUIRED));
    Redeem {
        slug: query.get("slug").unwrap_or_default().to_owned(),
        plex_token,
        body_errors,
        next: query.get("next").map(str::to_owned),
        client,
        device: cookies::read_own(headers, &state.settings, cookies::DEVICE),
    }
}

/// Redeem a Plex token: check its access to the source, then sign in (or enrol) the person it
/// belongs to; a signed-in caller connects the Plex account instead.
#[utoipa::path(post, path = "/sources/plex/redeem_token/", tag = "sources",
    params(("slug" = Option<String>, Query), ("next" = Option<String>, Query, description = "a path on this site to go to afterwards")),
    request_body = PlexTokenRedeemRequest,
    security(("authentik" = []), ()),
    responses((status = 200, body = RedirectChallenge), (status = 400, body = ValidationError, description = "Token not found"),
        (status = 403, body = Refusal, description = "Access denied"), (status = 404, body = GenericError),
        (status = 429, body = Refusal, description = "Too many attempts"), (status = 502, body = Refusal, description = "plex.tv failed"),
        (status = 503, body = Refusal, description = "plex.tv is rate limiting")))]
pub async fn redeem_token(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    query: QueryParams,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let request = read_request(&state, &query, &body, client, &headers);
    let challenge =
        |to: String| RedirectChallenge { flow_info: None, to, component: "xak-flow-redirect", response_errors: None };
    let response = match login::redeem(&state, &actor, request).await? {
        Redeemed::SignedIn { started, to } => {
            let mut response = ok(&challenge(to));
            cookies::set_session(&mut response, &state.settings, &started);
            response
        }
        Redeemed::NeedsUsername { pending_key, to } => {
            let mut response = ok(&challenge(to));
            cookies::set_pending(&mut response, &state.settings, &pending_key);
            response
        }
        Redeemed::Linked { to } => ok(&challenge(to)),
    };
    Ok(response)
}

/// Connect the signed-in user's Plex account to the source.
#[utoipa::path(post, path = "/sources/plex/redeem_token_authenticated/", tag = "sources",
    params(("slug" = Option<String>, Query)), request_body = PlexTokenRedeemRequest,
    responses((status = 204, description = "Connected"), (status = 400, body = ValidationError, description = "Token not found"),
        (status = 403, body = Refusal, description = "Access denied"), (status = 404, body = GenericError),
        (status = 429, body = Refusal), (status = 502, body = Refusal), (status = 503, body = Refusal)))]
pub async fn redeem_token_authenticated(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    query: QueryParams,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    actor.principal()?;
    let request = read_request(&state, &query, &body, client, &headers);
    login::connect(&state, &actor, request).await?;
    Ok(no_content())
}
