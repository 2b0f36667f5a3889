//! HTTP plumbing the front ends share (who the client is, cookies) and the two front ends for
//! other applications: the OpenID Connect provider ([`oidc`]) and forward-auth ([`outpost`]).

pub mod client;
pub mod cookies;
pub mod metrics;
pub mod oidc;
pub mod outpost;
pub mod snippets;

use axum::http::header::HOST;
use axum::http::HeaderMap;

use crate::config::Settings;

/// plexid's own address as browsers and clients reach it: `PLEXID_PUBLIC_URL`, else
/// `http://` and the request's `Host` (good enough on one machine; set the public URL in
/// production, and always for forward-auth, whose requests arrive with the application's host).
pub fn base_url(settings: &Settings, headers: &HeaderMap) -> String {
    if let Some(url) = &settings.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("localhost");
    format!("http://{host}")
}
