//! The [`Client`] of a request: its address (the socket's peer, or the first `X-Forwarded-For`
//! hop when `PLEXID_TRUST_PROXY_HEADERS` says a proxy sets it) and user agent.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::service::Client;
use crate::state::AppState;

/// The client address of a request.
pub fn client_ip(parts: &Parts, trust_proxy_headers: bool) -> String {
    if trust_proxy_headers {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        if let Some(ip) = forwarded {
            return ip.to_owned();
        }
    }
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string()).unwrap_or_default()
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Client {
            ip: client_ip(parts, state.settings.trust_proxy_headers),
            user_agent: parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        })
    }
}
