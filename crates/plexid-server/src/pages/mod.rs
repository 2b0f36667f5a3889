//! plexid's own HTML pages (the login, account and admin pages come here), with their own error
//! rendering: a browser gets a readable page, an API client authentik's JSON.

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::api::error::ApiError;
use crate::state::AppState;

/// The page routes (none yet besides the error pages).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// An error shown as a page.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · plexid</title></head>\
             <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem\">\
             <h1>{title}</h1><p>{message}</p><p><a href=\"/\">plexid</a></p></body></html>\n",
            title = escape(self.title),
            message = escape(&self.message),
        );
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
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
        PageError { status: StatusCode::NOT_FOUND, title: "Not found", message: "There is no page here.".into() }
            .into_response()
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
