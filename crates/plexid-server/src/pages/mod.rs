//! plexid's own HTML pages: the login page and the enrollment step ([`login`]), the account
//! page ([`account`]), their static files ([`assets`]), and the error pages (a browser gets a
//! readable page, an API client authentik's JSON). Server-rendered, usable without a mouse and
//! on a phone; every asset is served by plexid, and the Content-Security-Policy says so.

pub mod account;
pub mod admin;
pub mod assets;
pub mod denied;
pub mod flash;
pub mod login;
pub mod text;

use axum::http::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::error::ApiError;
use crate::service::{sessions, Principal};
use crate::state::AppState;
use crate::web::cookies;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/if/flow/{slug}/", get(login::show).post(login::submit))
        .route("/if/user/", get(account::show))
        .route("/if/logout/", post(account::logout))
        .route("/if/user/sessions/{id}/end", post(account::end_session))
        .route("/if/user/connections/{id}/disconnect", post(account::disconnect))
        .route("/static/plexid/{file}", get(assets::file))
        // Anyone may post these forms: small bodies only.
        .layer(axum::extract::DefaultBodyLimit::max(crate::api::http::ANONYMOUS_MAX_BODY_BYTES))
        .merge(admin::routes())
}

/// The login page of the default authentication flow.
pub const LOGIN_PATH: &str = "/if/flow/default-source-authentication/";

/// `/`: the account page when signed in, else the login page.
async fn home(user: Option<SignedIn>) -> Redirect {
    match user {
        Some(_) => Redirect::to(crate::service::login::DEFAULT_NEXT),
        None => Redirect::to(LOGIN_PATH),
    }
}

/// The signed-in user of a page request (pages use the session cookie only).
pub struct SignedIn {
    pub principal: Principal,
    pub key: String,
    /// The session's id (what grants signed in from it remember).
    pub session: uuid::Uuid,
}

impl axum::extract::OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        let Some(key) = cookies::read_own(&parts.headers, &state.settings, cookies::SESSION) else { return Ok(None) };
        match sessions::authenticate(state, &key).await {
            Ok(found) => Ok(found.map(|(principal, session)| SignedIn { principal, key, session: session.id })),
            Err(error) => Err(PageError::internal(&error)),
        }
    }
}

/// A complete page: `title`, the `body` HTML (already escaped) and the scripts it loads, under
/// the site's bar. The Content-Security-Policy allows plexid's own files and, for the Plex PIN,
/// the plex.tv API.
pub fn page(state: &AppState, title: &str, body: &str, scripts: &[&str]) -> Response {
    document(state, title, &site_header(&[]), body, scripts, "")
}

/// The bar of plexid's own pages (not the admin pages): the name, linking home, and `links`
/// (label, path), the first marked as the current page when it is `current`.
pub fn site_header(links: &[(&str, &str)]) -> String {
    let links: String = links.iter().map(|(label, path)| format!("<li><a href=\"{path}\">{label}</a></li>")).collect();
    format!(
        "<a class=\"skip\" href=\"#content\">Skip to content</a><header class=\"site-bar\"><a class=\"brand\" href=\"/\">plexid</a>\
         <nav aria-label=\"Site\"><ul>{links}</ul></nav></header>"
    )
}

/// The HTML document: `header` before the `<main>` (id `content`, with `class`), plexid's
/// stylesheet and common script (`plexid.js`: local times, Copy buttons, slugs, the menu), and
/// `scripts`.
fn html_document(title: &str, header: &str, body: &str, scripts: &[&str], class: &str) -> String {
    let scripts: String = std::iter::once("plexid.js")
        .chain(scripts.iter().copied())
        .map(|s| format!("<script src=\"/static/plexid/{s}\" defer></script>"))
        .collect();
    let class = if class.is_empty() { String::new() } else { format!(" class=\"{class}\"") };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · plexid</title><link rel=\"stylesheet\" href=\"/static/plexid/plexid.css\">{scripts}</head>\
         <body>{header}<main id=\"content\"{class}>{body}</main></body></html>\n",
        title = escape(title),
    )
}

/// An HTML response with plexid's security headers; `plex_api` (plex.tv's API) may be fetched
/// by its scripts.
fn html_response(html: String, plex_api: Option<&str>) -> Response {
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let policy = format!(
        "default-src 'self'; connect-src 'self' {}; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        plex_api.unwrap_or_default()
    );
    if let Ok(value) = HeaderValue::from_str(policy.trim_end()) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// [`page`] with its own `header` before the `<main>` (id `content`) and a class on `<main>`.
pub fn document(state: &AppState, title: &str, header: &str, body: &str, scripts: &[&str], class: &str) -> Response {
    let html = html_document(title, header, body, scripts, class);
    html_response(html, Some(state.settings.plex_api_url.trim_end_matches('/')))
}

/// An error shown as a page.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

/// What an error page said, kept on its response so the admin pages' layer can show it again
/// inside their layout (with the navigation).
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    pub fn not_found() -> Self {
        PageError {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            message: "There is no page at this address. It may have been deleted or renamed.".into(),
        }
    }

    /// A form that did not carry this session's CSRF token.
    pub fn not_our_form() -> Self {
        PageError {
            status: StatusCode::FORBIDDEN,
            title: "Request refused",
            message: "This form did not come from plexid's page. Please open the page again and resend it.".into(),
        }
    }

    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "page failed");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: "plexid could not show this page. Please try again.".into(),
        }
    }
}

/// The body of an error page: what happened and the ways on.
pub fn error_body(title: &str, message: &str, ways_on: &str) -> String {
    format!(
        "<div class=\"card\"><h1>{title}</h1><p>{message}</p>{ways_on}</div>",
        title = escape(title),
        message = escape(message),
    )
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ways_on = "<p class=\"actions\"><a class=\"button secondary\" href=\"/\">Go to the start page</a> \
                       <a class=\"button secondary\" href=\"/if/user/\">My account</a></p>";
        let html = html_document(
            self.title,
            &site_header(&[("My account", "/if/user/")]),
            &error_body(self.title, &self.message, ways_on),
            &[],
            "",
        );
        let mut response = html_response(html, None);
        *response.status_mut() = self.status;
        response.extensions_mut().insert(ErrorPage { title: self.title, message: self.message });
        response
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Does the client want a page (a browser) rather than JSON?
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

/// An unknown path outside the API: a page for browsers, authentik's JSON for API clients.
pub async fn not_found(headers: HeaderMap) -> Response {
    if wants_html(&headers) {
        PageError::not_found().into_response()
    } else {
        ApiError::NotFound.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;");
    }
}
