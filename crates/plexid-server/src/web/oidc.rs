//! The OpenID Connect provider's endpoints, at authentik's paths under `/application/o/`.
//! Thin: read the request, call [`crate::service::oidc`], answer in OAuth2's shapes (RFC 6749
//! errors `{"error", "error_description"}` with `Cache-Control: no-store`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use super::base_url;
use crate::api::http::QueryParams;
use crate::pages::{PageError, SignedIn};
use crate::service::oidc::{self, AuthorizeRequest, Authorized, ClientAuth, OAuthError, TokenRequest};
use crate::service::{keys, Client};
use crate::state::AppState;
use crate::web::cookies;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/application/o/authorize/", get(authorize).post(authorize))
        .route("/application/o/token/", post(token))
        .route("/application/o/userinfo/", get(userinfo).post(userinfo))
        .route("/application/o/introspect/", post(introspect))
        .route("/application/o/revoke/", post(revoke))
        .route("/application/o/{slug}/.well-known/openid-configuration", get(discovery))
        .route("/application/o/{slug}/jwks/", get(jwks))
        .route("/application/o/{slug}/end-session/", get(end_session).post(end_session_confirmed))
        .route("/if/session-end/{slug}/", get(session_end))
        // Clients and browsers post small forms here, mostly unauthenticated.
        .layer(axum::extract::DefaultBodyLimit::max(crate::api::http::ANONYMOUS_MAX_BODY_BYTES))
}

fn json_answer<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let mut response = (status, serde_json::to_string(body).unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("pragma", HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        json_answer(status, &json!({"error": self.error, "error_description": self.description}))
    }
}

fn page_error(status: StatusCode, title: &'static str, message: impl Into<String>) -> Response {
    PageError { status, title, message: message.into() }.into_response()
}

/// The request's parameters: the query, or for a POST the form body.
fn params(method: &Method, uri_query: Option<&str>, body: &Bytes) -> QueryParams {
    if method == Method::POST {
        QueryParams::parse(&String::from_utf8_lossy(body))
    } else {
        QueryParams::parse(uri_query.unwrap_or(""))
    }
}

fn owned(q: &QueryParams, name: &str) -> Option<String> {
    q.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// `GET|POST /application/o/authorize/`.
async fn authorize(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    client: Client,
    user: Option<SignedIn>,
    body: Bytes,
) -> Response {
    let q = params(&method, uri.query(), &body);
    let req = AuthorizeRequest {
        response_type: q.get("response_type").unwrap_or_default().to_owned(),
        client_id: q.get("client_id").unwrap_or_default().to_owned(),
        redirect_uri: q.get("redirect_uri").unwrap_or_default().to_owned(),
        scope: q.get("scope").unwrap_or_default().to_owned(),
        state: owned(&q, "state"),
        nonce: owned(&q, "nonce"),
        code_challenge: owned(&q, "code_challenge"),
        code_challenge_method: owned(&q, "code_challenge_method"),
    };
    let signed_in = user.as_ref().map(|u| (&u.principal, u.session));
    // 302 Found, as authentik and RFC 6749's examples answer a GET; a POST's answer is 303 See
    // Other, so the browser does not send the form again (RFC 9700 §4.12).
    let status = if method == Method::POST { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    let redirect = |to: &str| (status, [(LOCATION, to.to_owned())]).into_response();
    match oidc::authorize(&state, signed_in, &req, &client.ip).await {
        Ok(Authorized::Redirect(to)) => redirect(&to),
        Ok(Authorized::SignIn { flow_slug }) => {
            let back = format!("/application/o/authorize/?{}", encode_params(&q));
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair("next", &back);
            redirect(&format!("/if/flow/{flow_slug}/?{}", login.finish()))
        }
        Ok(Authorized::Invalid(message)) => {
            page_error(StatusCode::BAD_REQUEST, "This sign-in link is not valid", message)
        }
        Ok(Authorized::Denied { application, reason }) => match &user {
            // What the application admits, and "use another Plex account" back to this request.
            Some(user) => {
                let back = format!("/application/o/authorize/?{}", encode_params(&q));
                crate::pages::denied::show(&state, &req.client_id, reason, user, &back).await
            }
            None => page_error(
                StatusCode::FORBIDDEN,
                "Access denied",
                format!("You may not use {application}. {}", reason.message()),
            ),
        },
        Err(error) => PageError::internal(&error).into_response(),
    }
}

fn encode_params(q: &QueryParams) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for name in [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ] {
        if let Some(value) = q.get(name) {
            out.append_pair(name, value);
        }
    }
    out.finish()
}

/// Client credentials from HTTP basic auth (`client_secret_basic`) or the form
/// (`client_secret_post`).
fn client_auth(headers: &HeaderMap, form: &QueryParams) -> ClientAuth {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| B64.decode(b.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Some((decode(id)?, decode(secret)?))
        });
    match basic {
        Some((id, secret)) => ClientAuth { client_id: Some(id), client_secret: Some(secret) },
        None => ClientAuth { client_id: owned(form, "client_id"), client_secret: owned(form, "client_secret") },
    }
}

/// Did the client authenticate with HTTP basic auth (`client_secret_basic`)?
fn basic_auth_used(headers: &HeaderMap) -> bool {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Basic "))
}

/// An error of an endpoint clients authenticate to. A failed client authentication is 401 with
/// `WWW-Authenticate` when the client used the Authorization header (RFC 6749 §5.2), and on
/// the revocation and introspection endpoints always (authentik's revocation endpoint answers
/// 401; RFC 7662 §2.3 says so for introspection); otherwise 400, as authentik's token endpoint.
fn client_error(error: OAuthError, headers: &HeaderMap, always_401: bool) -> Response {
    let basic = basic_auth_used(headers);
    if error.error != "invalid_client" || !(basic || always_401) {
        return error.into_response();
    }
    let mut response = OAuthError { status: 401, ..error }.into_response();
    if basic {
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"plexid\""));
    }
    response
}

/// `POST /application/o/token/`.
async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let req = TokenRequest {
        grant_type: form.get("grant_type").unwrap_or_default().to_owned(),
        code: owned(&form, "code"),
        redirect_uri: owned(&form, "redirect_uri"),
        code_verifier: owned(&form, "code_verifier"),
        refresh_token: owned(&form, "refresh_token"),
    };
    let base = base_url(&state.settings, &headers);
    let result = oidc::token(&state, &base, &client_auth(&headers, &form), &req).await;
    state.metrics.token_request(&req.grant_type, result.as_ref().err().map(|e| e.error));
    match result {
        Ok(answer) => json_answer(StatusCode::OK, &answer),
        Err(error) => client_error(error, &headers, false),
    }
}

fn bearer(headers: &HeaderMap, form: &QueryParams) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .or_else(|| owned(form, "access_token"))
}

/// `GET|POST /application/o/userinfo/`.
async fn userinfo(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let form = params(&method, None, &body);
    let answer = match bearer(&headers, &form) {
        Some(token) => oidc::userinfo(&state, &token).await,
        None => Ok(None),
    };
    match answer {
        Ok(Some(claims)) => json_answer(StatusCode::OK, &Value::Object(claims)),
        Ok(None) => {
            let mut response = json_answer(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_token", "error_description": "The access token is invalid, expired or revoked."}),
            );
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /application/o/introspect/`.
async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let token = form.get("token").unwrap_or_default().to_owned();
    match oidc::introspect(&state, &client_auth(&headers, &form), &token).await {
        Ok(answer) => json_answer(StatusCode::OK, &answer),
        Err(error) => client_error(error, &headers, true),
    }
}

/// `POST /application/o/revoke/`.
async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let token = form.get("token").unwrap_or_default().to_owned();
    match oidc::revoke(&state, &client_auth(&headers, &form), &token).await {
        Ok(()) => json_answer(StatusCode::OK, &json!({})),
        Err(error) => client_error(error, &headers, true),
    }
}

fn not_found() -> Response {
    json_answer(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}))
}

/// The discovery document (OpenID Connect Discovery 1.0 §3), its keys in authentik's order.
#[derive(serde::Serialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    end_session_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    response_types_supported: &'static [&'static str],
    response_modes_supported: &'static [&'static str],
    jwks_uri: String,
    grant_types_supported: &'static [&'static str],
    id_token_signing_alg_values_supported: [&'static str; 1],
    subject_types_supported: &'static [&'static str],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    acr_values_supported: [&'static str; 1],
    scopes_supported: &'static [&'static str],
    request_parameter_supported: bool,
    /// authentik's claims (`amr` advertised as authentik does, though neither puts it in a
    /// Plex sign-in's ID token), then plexid's scope claims.
    claims_supported: &'static [&'static str],
    claims_parameter_supported: bool,
    code_challenge_methods_supported: &'static [&'static str],
}

/// `GET /application/o/{slug}/.well-known/openid-configuration`.
async fn discovery(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let client = match oidc::client_by_slug(&state, &slug).await {
        Ok(Some(client)) => client,
        Ok(None) => return not_found(),
        Err(error) => return OAuthError::from(error).into_response(),
    };
    let base = base_url(&state.settings, &headers);
    let document = Discovery {
        issuer: oidc::issuer(&base, &client.provider, &client.application),
        authorization_endpoint: format!("{base}/application/o/authorize/"),
        token_endpoint: format!("{base}/application/o/token/"),
        userinfo_endpoint: format!("{base}/application/o/userinfo/"),
        end_session_endpoint: format!("{base}/application/o/{slug}/end-session/"),
        introspection_endpoint: format!("{base}/application/o/introspect/"),
        revocation_endpoint: format!("{base}/application/o/revoke/"),
        response_types_supported: &["code"],
        response_modes_supported: &["query"],
        jwks_uri: format!("{base}/application/o/{slug}/jwks/"),
        grant_types_supported: &["authorization_code", "refresh_token"],
        id_token_signing_alg_values_supported: [client.provider.settings.signing_alg.as_str()],
        subject_types_supported: &["public"],
        token_endpoint_auth_methods_supported: &["client_secret_post", "client_secret_basic"],
        acr_values_supported: [oidc::ACR],
        scopes_supported: &["openid", "email", "profile"],
        request_parameter_supported: false,
        claims_supported: &[
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "at_hash",
            "email",
            "email_verified",
            "name",
            "given_name",
            "preferred_username",
            "nickname",
            "groups",
            "plex_id",
            "plex_relationship",
        ],
        claims_parameter_supported: false,
        code_challenge_methods_supported: &["S256"],
    };
    let mut response = json_answer(StatusCode::OK, &document);
    response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response.headers_mut().remove(CACHE_CONTROL);
    response
}

/// `GET /application/o/{slug}/jwks/`: every key a valid ID token may be signed with.
async fn jwks(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let answer = async {
        let Some(client) = oidc::client_by_slug(&state, &slug).await? else { return Ok(None) };
        keys::jwks(&state, client.provider.settings.signing_alg).await.map(Some)
    };
    match answer.await {
        Ok(Some(set)) => {
            let mut response = json_answer(StatusCode::OK, &set);
            response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
            response.headers_mut().remove(CACHE_CONTROL);
            response
        }
        Ok(None) => not_found(),
        Err(error) => OAuthError::from(error).into_response(),
    }
}

/// Where end-session sends the browser afterwards: `post_logout_redirect_uri` when it is one of
/// the provider's registered redirect URIs (with `state`), else the application's "signed out"
/// page (authentik's `/if/session-end/<slug>/`, also when there was no session to end), and for
/// an unknown application plexid's sign-in page.
fn after_sign_out(client: Option<&oidc::Client>, query: &QueryParams) -> String {
    match (client, query.get("post_logout_redirect_uri")) {
        (Some(client), Some(uri)) if client.provider.redirect_uris().iter().any(|r| r == uri) => {
            let mut url = uri.to_owned();
            if let Some(st) = query.get("state") {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("state", st);
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&q.finish());
            }
            url
        }
        (Some(client), _) => format!("/if/session-end/{}/", client.application.slug),
        _ => crate::pages::LOGIN_PATH.to_owned(),
    }
}

/// Ends the browser's plexid session (and the grants born in it) and sends it on.
async fn sign_out_to(state: &AppState, key: &str, to: &str) -> Response {
    if let Err(error) = crate::service::sessions::end(state, key).await {
        return PageError::internal(&error).into_response();
    }
    let mut response = Redirect::to(to).into_response();
    cookies::clear(&mut response, &state.settings, cookies::SESSION);
    cookies::clear(&mut response, &state.settings, cookies::CSRF);
    response
}

/// `GET /application/o/{slug}/end-session/`: RP-initiated logout. With an `id_token_hint` that
/// plexid signed for this application and the signed-in user, the browser is signed out at
/// once; otherwise (a link from anywhere could sign people out) plexid asks first, and only the
/// confirmation's POST, carrying the session's CSRF token, signs out.
async fn end_session(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    user: Option<SignedIn>,
) -> Response {
    let client = match oidc::client_by_slug(&state, &slug).await {
        Ok(client) => client,
        Err(error) => return PageError::internal(&error).into_response(),
    };
    let back = after_sign_out(client.as_ref(), &query);
    let Some(user) = user else { return Redirect::to(&back).into_response() };
    let base = base_url(&state.settings, &headers);
    let hinted = match (&client, query.get("id_token_hint")) {
        (Some(client), Some(hint)) => oidc::hint_names(&state, &base, client, hint, user.principal.user).await,
        _ => Ok(false),
    };
    match hinted {
        Ok(true) => sign_out_to(&state, &user.key, &back).await,
        Ok(false) => confirm_sign_out(&state, &slug, client.as_ref(), &query, &user),
        Err(error) => PageError::internal(&error).into_response(),
    }
}

/// The question end-session asks when it cannot tell the request came from the application.
fn confirm_sign_out(
    state: &AppState,
    slug: &str,
    client: Option<&oidc::Client>,
    query: &QueryParams,
    user: &SignedIn,
) -> Response {
    use crate::pages::escape;
    let hidden: String = ["post_logout_redirect_uri", "state"]
        .iter()
        .filter_map(|name| query.get(name).map(|v| (name, v)))
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)))
        .collect();
    let asker = client.map_or_else(|| "An application".to_owned(), |c| escape(&c.application.name));
    let body = format!(
        "<div class=\"card\"><h1>Sign out?</h1><p>{asker} asks to sign you out of plexid, {username}. \
         Signing out also ends the applications you opened from this browser.</p>\
         <form method=\"post\" action=\"/application/o/{slug}/end-session/\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{hidden}\
         <button type=\"submit\">Sign out</button> <a href=\"/if/user/\">Stay signed in</a></form></div>",
        username = escape(&user.principal.username),
        slug = escape(slug),
        csrf = escape(&crate::service::sessions::csrf_token(&user.key)),
    );
    crate::pages::page(state, "Sign out?", &body, &[])
}

/// `POST /application/o/{slug}/end-session/`: the confirmation (or a relying party's form POST,
/// which carries no CSRF token and is asked again).
async fn end_session_confirmed(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    user: Option<SignedIn>,
    body: Bytes,
) -> Response {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let client = match oidc::client_by_slug(&state, &slug).await {
        Ok(client) => client,
        Err(error) => return PageError::internal(&error).into_response(),
    };
    let back = after_sign_out(client.as_ref(), &form);
    let Some(user) = user else { return Redirect::to(&back).into_response() };
    let confirmed = form.get("csrf").is_some_and(|t| t == crate::service::sessions::csrf_token(&user.key));
    let base = base_url(&state.settings, &headers);
    let hinted = match (&client, form.get("id_token_hint")) {
        (Some(client), Some(hint)) => oidc::hint_names(&state, &base, client, hint, user.principal.user).await,
        _ => Ok(false),
    };
    match hinted {
        Ok(hinted) if confirmed || hinted => sign_out_to(&state, &user.key, &back).await,
        Ok(_) => confirm_sign_out(&state, &slug, client.as_ref(), &form, &user),
        Err(error) => PageError::internal(&error).into_response(),
    }
}

/// `GET /if/session-end/{slug}/`: the page an application's end-session leads to, saying the
/// browser is signed out (authentik's session-end page).
async fn session_end(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match state.store.read().application_by_slug(&slug).await {
        Ok(Some(application)) => PageError {
            status: StatusCode::OK,
            title: "Signed out",
            message: format!("You have signed out of {} and of plexid.", application.name),
        }
        .into_response(),
        Ok(None) => PageError::not_found().into_response(),
        Err(error) => PageError::internal(&error).into_response(),
    }
}
