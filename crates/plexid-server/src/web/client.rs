//! The [`Client`] of a request: its address (the socket's peer, or, when
//! `PLEXID_TRUST_PROXY_HEADERS` says a proxy sets it, the `X-Forwarded-For` entry
//! `PLEXID_TRUSTED_PROXY_HOPS` places from the right: entries further left are whatever the
//! client sent, so they never count) and user agent.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::service::Client;
use crate::state::AppState;

/// The client address `X-Forwarded-For` names after `hops` trusted proxies: the entry `hops`
/// places from the right of all the headers' entries together (or the leftmost, when fewer
/// proxies than that appended one). `None` when there is none or it is not an address.
pub fn forwarded_client(headers: &axum::http::HeaderMap, hops: u8) -> Option<std::net::IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = entries.len().saturating_sub(usize::from(hops.max(1)));
    entries.get(index)?.parse().ok()
}

/// The client address of a request.
pub fn client_ip(parts: &Parts, trust_proxy_headers: bool, hops: u8) -> String {
    if trust_proxy_headers {
        if let Some(ip) = forwarded_client(&parts.headers, hops) {
            return ip.to_string();
        }
    }
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string()).unwrap_or_default()
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Client {
            ip: client_ip(parts, state.settings.trust_proxy_headers, state.settings.trusted_proxy_hops),
            user_agent: parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_client_is_counted_from_the_right() {
        // The client claims 1.1.1.1; the one proxy appends the address it saw.
        let h = headers(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(forwarded_client(&h, 1), Some("203.0.113.7".parse().unwrap()));
        // Two proxies (a CDN, then nginx): the second from the right.
        let h = headers(&["1.1.1.1", "203.0.113.7, 10.0.0.2"]);
        assert_eq!(forwarded_client(&h, 2), Some("203.0.113.7".parse().unwrap()));
        // Fewer entries than hops: the leftmost the proxies wrote.
        assert_eq!(forwarded_client(&headers(&["203.0.113.7"]), 2), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(forwarded_client(&headers(&["not-an-ip"]), 1), None);
        assert_eq!(forwarded_client(&HeaderMap::new(), 1), None);
    }
}
