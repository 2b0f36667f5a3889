//! The whole HTTP application, assembled in one place: the `/api/v3` API, the health endpoints,
//! and the HTML pages (and, later, forward-auth and the OIDC provider) beside them. The layers
//! wrap everything: request logging outermost (so it sees every status), then the body limit.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;
use crate::{api, pages, web};

async fn live() -> StatusCode {
    StatusCode::OK
}

async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.store.ping().await {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Logs every request at debug level and every server error at warn (no headers, no bodies:
/// they may carry tokens).
async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, micros, "request failed");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    response
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v3", api::routes())
        .route("/-/health/live/", get(live))
        .route("/-/health/ready/", get(ready))
        .merge(pages::routes())
        .merge(web::oidc::routes())
        .merge(web::outpost::routes())
        .fallback(pages::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(api::http::MAX_BODY_BYTES))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.settings.body_timeout.std()))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}
