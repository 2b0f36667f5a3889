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

/// A NUL character (which PostgreSQL refuses in text) anywhere in the URL is a client's mistake,
/// answered before any handler runs and the same on both engines: in a query parameter, that
/// parameter's field error; in the path, "not found". (Bodies are checked by their readers.)
async fn refuse_nul(request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let uri = request.uri();
    if let Some(query) = uri.query().filter(|q| q.to_ascii_lowercase().contains("%00")) {
        let field = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map(|(k, _)| if k.contains('\0') { "non_field_errors".to_owned() } else { k.into_owned() });
        if let Some(field) = field {
            return api::error::ApiError::field(&field, api::drf::body::NUL).into_response();
        }
    }
    if uri.path().to_ascii_lowercase().contains("%00") {
        return api::error::ApiError::NotFound.into_response();
    }
    next.run(request).await
}

/// Headers every answer carries: `nosniff`, no framing (the pages' CSP also says
/// `frame-ancestors 'none'`), and `Cache-Control: no-store` on anything answered to a request
/// that carried credentials (a session cookie or an `Authorization` header) unless the handler
/// chose caching itself, so no shared or browser cache keeps a signed-in page or API answer.
async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::header::{
        HeaderValue, AUTHORIZATION, CACHE_CONTROL, COOKIE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let credentials = request.headers().contains_key(AUTHORIZATION)
        || request
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.contains(crate::web::cookies::SESSION) || c.contains("authentik_proxy_"));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    if credentials && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Names the request (method, path, query, user agent, client address, an id) in the audit
/// events of the changes it makes (`service::audit`); reads change nothing, so they skip this.
async fn audit_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    use axum::http::Method;
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let args = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| {
            let secret = ["token", "secret", "key", "password"].iter().any(|s| k.to_ascii_lowercase().contains(s));
            let value = if secret { crate::service::audit::CLEANSED.to_owned() } else { v.into_owned() };
            (k.into_owned(), serde_json::Value::String(value))
        })
        .collect();
    let info = crate::service::audit::RequestInfo {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        args,
        user_agent: parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(512)
            .collect(),
        client_ip: web::client::client_ip(
            &parts,
            state.settings.trust_proxy_headers,
            state.settings.trusted_proxy_hops,
        ),
        request_id: uuid::Uuid::new_v4().simple().to_string(),
    };
    crate::service::audit::with_request(info, next.run(Request::from_parts(parts, body))).await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v3", api::routes())
        .route("/-/health/live/", get(live))
        .route("/-/health/ready/", get(ready))
        .merge(pages::routes())
        .merge(web::oidc::routes())
        .merge(web::outpost::routes())
        .merge(web::metrics::routes())
        .fallback(pages::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(api::http::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.settings.body_timeout.std(), crate::serve::body_deadline))
        .layer(middleware::from_fn_with_state(state.clone(), pages::admin::error_layout))
        .layer(middleware::from_fn_with_state(state.clone(), audit_request))
        .layer(middleware::from_fn(refuse_nul))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), web::metrics::count_requests))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}
