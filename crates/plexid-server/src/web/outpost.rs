//! Forward-auth endpoints at the paths of authentik's proxy outpost, so authentik's documented
//! nginx `auth_request`, Traefik `forwardAuth` and Caddy `forward_auth` snippets work with only
//! the host changed:
//! - `/outpost.goauthentik.io/auth/nginx`: 200 with identity headers, or 401 (nginx then sends
//!   the browser to `start` through its `error_page`);
//! - `/outpost.goauthentik.io/auth/traefik` and `/auth/caddy`: 200, or a redirect to `start`;
//! - `/outpost.goauthentik.io/start?rd=…`: begins the sign-in round trip through plexid;
//! - `/outpost.goauthentik.io/callback`: ends it, sets the application's session cookie;
//! - `/outpost.goauthentik.io/sign_out`: ends the application's session.

use axum::extract::State;
use axum::http::header::{HOST, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use cookie::{Cookie, SameSite};
use plexid_core::modes::ProxyMode;

use super::base_url;
use crate::api::http::QueryParams;
use crate::pages::PageError;
use crate::service::forward_auth::{self, allowed_return, authorize_url, cookie_name, Seen};
use crate::service::oidc::{self, Client};
use crate::state::AppState;
use crate::web::cookies;

const PREFIX: &str = "/outpost.goauthentik.io";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/outpost.goauthentik.io/auth/nginx", get(auth_nginx))
        .route("/outpost.goauthentik.io/auth/traefik", get(auth_redirecting))
        .route("/outpost.goauthentik.io/auth/caddy", get(auth_redirecting))
        .route("/outpost.goauthentik.io/start", get(start))
        .route("/outpost.goauthentik.io/callback", get(callback))
        .route("/outpost.goauthentik.io/sign_out", get(sign_out))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// The URL an nginx `auth_request` is about: `X-Original-URL`, which plexid's snippet sets to
/// the application's own fixed address (and nginx overwrites whatever a client sent).
fn nginx_url(headers: &HeaderMap) -> Option<String> {
    header(headers, "x-original-url").map(str::to_owned)
}

/// The URL a Traefik or Caddy forward-auth request is about: `X-Forwarded-Proto`, `-Host` and
/// `-Uri`, which those proxies set from the request they are handling. `X-Original-URL` is
/// never read here: it is not theirs, so a client could have set it.
fn forwarded_url(headers: &HeaderMap) -> Option<String> {
    let host = header(headers, "x-forwarded-host").or_else(|| header(headers, HOST.as_str()))?;
    let proto = header(headers, "x-forwarded-proto").unwrap_or("http");
    let uri = header(headers, "x-forwarded-uri").unwrap_or("/");
    Some(format!("{proto}://{host}{uri}"))
}

/// The host a request to `start`, `callback` or `sign_out` arrived at (the application's, when
/// the proxy passes `/outpost.goauthentik.io/` through to plexid): Traefik and Caddy pass
/// `X-Forwarded-Host`; plexid's nginx snippet the fixed `X-Original-URL` (its `Host $host` has
/// no port). Whichever wins only picks whose round trip runs: the cookies it sets stay on the
/// host the browser is really on, and the callback checks them there.
fn request_host(headers: &HeaderMap) -> Option<String> {
    if let Some(host) = header(headers, "x-forwarded-host") {
        return Some(host.to_ascii_lowercase());
    }
    if let Some(host) = header(headers, "x-original-url").and_then(plexid_core::apps::url_host) {
        return Some(host);
    }
    header(headers, HOST.as_str()).map(str::to_ascii_lowercase)
}

async fn client_for(state: &AppState, seen: Seen, host: Option<&str>) -> Result<Option<Client>, PageError> {
    let Some(host) = host else { return Ok(None) };
    forward_auth::client_for_host(state, seen, host).await.map_err(|e| PageError::internal(&e))
}

fn no_application() -> Response {
    PageError {
        status: StatusCode::NOT_FOUND,
        title: "No application here",
        message: "plexid protects no application at this address.".into(),
    }
    .into_response()
}

fn add_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
        response.headers_mut().insert(HeaderName::from_static(name), value);
    }
}

/// 200 with the identity headers authentik's outpost sends (and plexid's Plex ones), or `None`
/// when the request has no live session that the application's rule admits. `Err` is the
/// answer when there is nothing to check (no application at this address, a failure).
async fn check(
    state: &AppState,
    seen: Seen,
    client: &Client,
    headers: &HeaderMap,
) -> Result<Option<Response>, Response> {
    let key = cookies::read(headers, &cookie_name(&client.provider));
    let who = match &key {
        Some(key) => {
            forward_auth::check(state, seen, client, key).await.map_err(|e| PageError::internal(&e).into_response())?
        }
        None => None,
    };
    state.metrics.forward_auth_checked(&client.application.slug, key.is_some(), who.is_some());
    let Some(who) = who else { return Ok(None) };
    let mut response = StatusCode::OK.into_response();
    add_header(&mut response, "x-authentik-username", &who.user.username);
    add_header(&mut response, "x-authentik-groups", &who.groups.join("|"));
    add_header(&mut response, "x-authentik-email", &who.user.email);
    add_header(&mut response, "x-authentik-name", &who.user.name);
    add_header(&mut response, "x-authentik-uid", &oidc::subject(state, &client.provider, &who.user));
    add_header(&mut response, "x-authentik-meta-app", &client.application.slug);
    add_header(&mut response, "x-authentik-meta-provider", &client.provider.name);
    add_header(&mut response, "x-authentik-meta-outpost", "plexid");
    add_header(&mut response, "x-plexid-plex-id", who.plex_id.as_deref().unwrap_or(""));
    add_header(&mut response, "x-plexid-plex-relationship", &who.relationships.join(","));
    Ok(Some(response))
}

/// The application a forward-auth request is about, from the URL the proxy named.
async fn application_of(state: &AppState, seen: Seen, url: &str) -> Result<Client, Response> {
    let host = plexid_core::apps::url_host(url);
    match client_for(state, seen, host.as_deref()).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => {
            state.metrics.forward_auth("", "no_application");
            Err(no_application())
        }
        Err(error) => Err(error.into_response()),
    }
}

/// `GET /outpost.goauthentik.io/auth/nginx`: 200 or 401.
///
/// nginx passes the request's `Host` too (`Host $host`). When that names another protected
/// application than `X-Original-URL` does, the request reached this application's server block
/// under another application's name (nginx's default server): refused, whatever the cookies.
async fn auth_nginx(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(url) = nginx_url(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let seen = Seen::now(&state);
    let client = match application_of(&state, seen, &url).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    if let Ok(Some(other)) = client_for(&state, seen, header(&headers, HOST.as_str())).await {
        if other.provider.id != client.provider.id {
            tracing::warn!(app = %client.application.slug, host_app = %other.application.slug,
                "forward-auth request for one application arrived with another application's Host; refused");
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    match check(&state, seen, &client, &headers).await {
        Ok(Some(response)) => response,
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(response) => response,
    }
}

/// `GET /outpost.goauthentik.io/auth/traefik` (and `/auth/caddy`): 200 or a redirect to sign in.
async fn auth_redirecting(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(url) = forwarded_url(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let seen = Seen::now(&state);
    let client = match application_of(&state, seen, &url).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match check(&state, seen, &client, &headers).await {
        Ok(Some(response)) => response,
        Ok(None) => {
            let start_base = if client.provider.settings.mode == ProxyMode::ForwardDomain {
                client.provider.settings.external_host.clone()
            } else {
                url.split('/').take(3).collect::<Vec<_>>().join("/")
            };
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("rd", &url);
            Redirect::to(&format!("{start_base}{PREFIX}/start?{}", q.finish())).into_response()
        }
        Err(response) => response,
    }
}

fn state_cookie_name(client: &Client) -> String {
    format!("{}_state", cookie_name(&client.provider))
}

/// A cookie of this provider: on the application's host, or the whole cookie domain in
/// domain mode; `Secure` when the external host is HTTPS.
fn provider_cookie(client: &Client, name: String, value: String, max_age: i64) -> Cookie<'static> {
    let s = &client.provider.settings;
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(s.external_host.starts_with("https://"))
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    if s.mode == ProxyMode::ForwardDomain && !s.cookie_domain.is_empty() {
        cookie.set_domain(s.cookie_domain.trim_start_matches('.').to_owned());
    }
    cookie
}

fn set_cookie(response: &mut Response, cookie: Cookie<'static>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// `GET /outpost.goauthentik.io/start?rd=…`.
async fn start(State(state): State<AppState>, headers: HeaderMap, query: QueryParams) -> Response {
    if state.settings.public_url.is_none() {
        let message = forward_auth::NEEDS_PUBLIC_URL.into();
        return PageError { status: StatusCode::SERVICE_UNAVAILABLE, title: "plexid is not set up for this", message }
            .into_response();
    }
    let host = request_host(&headers);
    let client = match client_for(&state, Seen::now(&state), host.as_deref()).await {
        Ok(Some(client)) => client,
        Ok(None) => return no_application(),
        Err(error) => return error.into_response(),
    };
    let host = host.unwrap_or_default();
    let rd = query.get("rd").unwrap_or("/");
    let Some(rd) = allowed_return(&client.provider, &host, rd) else {
        return PageError {
            status: StatusCode::BAD_REQUEST,
            title: "Not a protected address",
            message: "The return address is not one of an application plexid protects.".into(),
        }
        .into_response();
    };
    let nonce = crate::crypto::generate_key();
    let mut value = url::form_urlencoded::Serializer::new(String::new());
    value.append_pair("s", &nonce).append_pair("rd", &rd);
    let base = base_url(&state.settings, &headers);
    let mut response = Redirect::to(&authorize_url(&base, &client.provider, &nonce)).into_response();
    set_cookie(&mut response, provider_cookie(&client, state_cookie_name(&client), value.finish(), 15 * 60));
    response
}

/// `GET /outpost.goauthentik.io/callback?code=…&state=…`.
async fn callback(State(state): State<AppState>, headers: HeaderMap, query: QueryParams) -> Response {
    let client = match client_for(&state, Seen::now(&state), request_host(&headers).as_deref()).await {
        Ok(Some(client)) => client,
        Ok(None) => return no_application(),
        Err(error) => return error.into_response(),
    };
    let saved = cookies::read(&headers, &state_cookie_name(&client)).map(|v| QueryParams::parse(&v));
    let expected = saved.as_ref().and_then(|q| q.get("s").map(str::to_owned));
    // The return address was checked at `start`; it is checked again here, since the state
    // cookie could have been planted (from a sibling host, say) rather than set by `start`.
    let host = request_host(&headers).unwrap_or_default();
    let rd = saved
        .as_ref()
        .and_then(|q| q.get("rd"))
        .and_then(|rd| allowed_return(&client.provider, &host, rd))
        .unwrap_or_else(|| allowed_return(&client.provider, &host, "/").unwrap_or_else(|| "/".into()));
    let (Some(code), Some(expected)) = (query.get("code"), expected) else {
        return bad_callback("The sign-in round trip was not started here, or took too long. Please try again.");
    };
    if query.get("state") != Some(expected.as_str()) {
        return bad_callback("The sign-in round trip does not match this browser. Please try again.");
    }
    let key = match forward_auth::finish(&state, &client, code).await {
        Ok((key, _)) => key,
        Err(error) if error.status >= 500 => return PageError::internal(&error.description).into_response(),
        Err(error) => return bad_callback(&error.description),
    };
    let life = plexid_core::apps::parse_validity(&client.provider.settings.access_token_validity)
        .map_or(86_400, |d| d.as_secs());
    let mut response = Redirect::to(&rd).into_response();
    set_cookie(&mut response, provider_cookie(&client, cookie_name(&client.provider), key, life));
    set_cookie(&mut response, provider_cookie(&client, state_cookie_name(&client), String::new(), 0));
    response
}

fn bad_callback(message: &str) -> Response {
    PageError { status: StatusCode::BAD_REQUEST, title: "Sign-in failed", message: message.to_owned() }.into_response()
}

/// `GET /outpost.goauthentik.io/sign_out`: ends the application's session.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let client = match client_for(&state, Seen::now(&state), request_host(&headers).as_deref()).await {
        Ok(Some(client)) => client,
        Ok(None) => return no_application(),
        Err(error) => return error.into_response(),
    };
    if let Some(key) = cookies::read(&headers, &cookie_name(&client.provider)) {
        if let Err(error) = forward_auth::end(&state, &key).await {
            return PageError::internal(&error).into_response();
        }
    }
    let mut response = PageError {
        status: StatusCode::OK,
        title: "Signed out",
        message: format!("You are signed out of {}.", client.application.name),
    }
    .into_response();
    set_cookie(&mut response, provider_cookie(&client, cookie_name(&client.provider), String::new(), 0));
    response
}
