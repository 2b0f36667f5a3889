//! `GET /metrics` (Prometheus text format) and the layer that counts every HTTP request by its
//! route template. `/metrics` is off unless `PLEXID_METRICS_TOKEN` is set, and then answers only
//! requests bearing that token (`Authorization: Bearer …`): its labels name sources and
//! applications, which are nobody else's business.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Does the request bear `expected`? Digests are compared, so the time taken says nothing about
/// how much of the token was right.
fn bears(headers: &HeaderMap, expected: &str) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes()) && !presented.is_empty()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = state.settings.metrics_token.as_deref().filter(|t| !t.is_empty()) else {
        return crate::pages::not_found(headers).await;
    };
    if !bears(&headers, expected) {
        let mut response = (StatusCode::UNAUTHORIZED, "metrics: bearer token required\n").into_response();
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"plexid metrics\""));
        return response;
    }
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    response
}

/// Counts the request under its route template (`/api/v3/sources/plex/{slug}/`, never the raw
/// path) and status; requests no route matched count as `unmatched`.
pub async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.http_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
