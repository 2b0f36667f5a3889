//! Forward-auth, as authentik's proxy outpost does it: a reverse proxy asks plexid about each
//! request; plexid answers from a per-application session cookie, re-checking the
//! application's access rule every time. Signing in goes through the OpenID Connect
//! authorization step with the forward-auth provider as the client, so one rule and one audit
//! trail serve both.

use plexid_core::apps::{forward_auth_callback, host_in_domain, url_host, Provider};
use plexid_core::modes::ProxyMode;
use plexid_core::UserId;
use plexid_store::oauth::ProxySession;

use super::oidc::{self, Client, Identity, OAuthError};
use super::{AppState, ServiceResult};
use crate::crypto::{generate_key, hash_token};

/// Why forward-auth is refused without `PLEXID_PUBLIC_URL`: its requests arrive with the
/// application's `Host` (nginx's snippet even drops the port), so plexid cannot tell its own
/// address from them and would send browsers where nothing listens.
pub const NEEDS_PUBLIC_URL: &str = "Forward-auth needs plexid's public address: set PLEXID_PUBLIC_URL \
     (e.g. https://id.example.com) and restart plexid.";

/// The auth generation (see `Store::auth_generation`) one forward-auth request reads its caches
/// under, taken once when the request begins: one look at whether anything changed (on SQLite a
/// `PRAGMA data_version`, which takes a file lock), however many caches the request reads.
#[derive(Clone, Copy, Debug)]
pub struct Seen(Option<u64>);

impl Seen {
    pub fn now(app: &AppState) -> Seen {
        Seen(app.store.auth_generation())
    }
}

/// The forward-auth application serving `host`: a provider whose external host is `host` (or,
/// when the proxy dropped the port, has its name), else a domain-wide provider whose cookie
/// domain covers it.
pub async fn client_for_host(app: &AppState, seen: Seen, host: &str) -> ServiceResult<Option<Client>> {
    let host = host.to_ascii_lowercase();
    let Seen(generation) = seen;
    if let Some(found) = app.auth_cache.hosts.get(&host, generation) {
        return Ok(found);
    }
    let found = find_client(app, &host).await?;
    app.auth_cache.hosts.put(&host, generation, found.clone());
    Ok(found)
}

async fn find_client(app: &AppState, host: &str) -> ServiceResult<Option<Client>> {
    let name = |h: &str| h.split(':').next().unwrap_or("").to_owned();
    let rows = app.store.read().proxy_providers().await?;
    let (mut same_name, mut domain_match) = (None, None);
    for row in rows {
        let s = &row.provider.settings;
        let external = url_host(&s.external_host).unwrap_or_default();
        if external == *host {
            return with_application(app, row.provider).await;
        }
        if same_name.is_none() && name(&external) == name(host) {
            same_name = Some(row.provider);
        } else if domain_match.is_none() && s.mode == ProxyMode::ForwardDomain && host_in_domain(host, &s.cookie_domain)
        {
            domain_match = Some(row.provider);
        }
    }
    match same_name.or(domain_match) {
        Some(provider) => with_application(app, provider).await,
        None => Ok(None),
    }
}

async fn with_application(app: &AppState, provider: Provider) -> ServiceResult<Option<Client>> {
    let application = app.store.read().application_of_provider(provider.id).await?;
    Ok(application.map(|application| Client { provider, application }))
}

/// The name of a provider's session cookie.
pub fn cookie_name(provider: &Provider) -> String {
    format!("authentik_proxy_{}", provider.id.0)
}

/// Is `rd` a place this provider may send a browser back to? Relative paths are (they stay on
/// the application's host); absolute URLs only to the provider's own host, or, in domain mode,
/// a host under its cookie domain. Anything else would be an open redirect.
/// Control characters are refused outright (they cannot be sent back in a `Location` header).
pub fn allowed_return(provider: &Provider, request_host: &str, rd: &str) -> Option<String> {
    if rd.chars().any(char::is_control) {
        return None;
    }
    if rd.starts_with('/') && !rd.starts_with("//") && !rd.starts_with("/\\") {
        let s = &provider.settings;
        return Some(match s.mode {
            // Relative to the application's own address (the proxy may have dropped the port).
            ProxyMode::ForwardSingle | ProxyMode::Proxy => format!("{}{rd}", s.external_host.trim_end_matches('/')),
            ProxyMode::ForwardDomain => {
                let scheme = if s.external_host.starts_with("https://") { "https" } else { "http" };
                let host = plexid_core::apps::host_name(request_host)?;
                if !host_in_domain(&host, &s.cookie_domain) {
                    return None;
                }
                let port = request_host
                    .rsplit_once(':')
                    .map(|(_, p)| format!(":{p}"))
                    .filter(|p| p[1..].bytes().all(|b| b.is_ascii_digit()))
                    .unwrap_or_default();
                format!("{scheme}://{host}{port}{rd}")
            }
        });
    }
    let host = url_host(rd)?;
    let s = &provider.settings;
    let own = url_host(&s.external_host).is_some_and(|h| h == host);
    let in_domain = s.mode == ProxyMode::ForwardDomain && host_in_domain(&host, &s.cookie_domain);
    (own || in_domain).then(|| rd.to_owned())
}

/// Where `start` sends the browser: plexid's authorization step for this provider.
pub fn authorize_url(base: &str, provider: &Provider, state: &str) -> String {
    let mut url = match url::Url::parse(&format!("{}/application/o/authorize/", base.trim_end_matches('/'))) {
        Ok(url) => url,
        Err(_) => return "/".into(),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", &forward_auth_callback(&provider.settings.external_host))
        .append_pair("scope", "openid profile email")
        .append_pair("state", state);
    url.to_string()
}

/// A new session after the sign-in round trip: exchanges the code (once, for this provider).
/// Returns the cookie value.
pub async fn finish(app: &AppState, client: &Client, code: &str) -> Result<(String, UserId), OAuthError> {
    let redirect = forward_auth_callback(&client.provider.settings.external_host);
    let record = oidc::consume_code(app, client, code, Some(&redirect), None).await?;
    let now = app.clock.now();
    let life = plexid_core::apps::parse_validity(&client.provider.settings.access_token_validity)
        .unwrap_or(jiff::SignedDuration::from_hours(24));
    let key = generate_key();
    let session = ProxySession {
        key_hash: hash_token(&key),
        provider: client.provider.id,
        user: record.user,
        created: now,
        expires: plexid_core::time::later(now, life),
        session: record.session,
    };
    let mut tx = app.store.begin().await?;
    tx.conn().insert_proxy_session(&session).await?;
    tx.commit().await?;
    Ok((key, record.user))
}

/// The identity behind a session cookie, if the session is live and the user may still use
/// the application.
/// On a warm instance a passing check is answered from memory until anything that could change
/// it (sessions, connections, memberships, applications) changes anywhere (on SQLite: until
/// anything is committed to the file).
pub async fn check(app: &AppState, seen: Seen, client: &Client, key: &str) -> ServiceResult<Option<Identity>> {
    let key_hash = hash_token(key);
    let now = app.clock.now();
    let Seen(generation) = seen;
    if let Some((provider, expires, who)) = app.auth_cache.proxy_sessions.get(&key_hash, generation) {
        return Ok((provider == client.provider.id && expires > now).then_some(who));
    }
    let Some(session) = app.store.read().proxy_session(&key_hash).await? else { return Ok(None) };
    if session.provider != client.provider.id || session.expires <= now {
        return Ok(None);
    }
    let who = oidc::identity_if_admitted(app, session.user, &client.application).await?;
    if let Some(who) = &who {
        app.auth_cache.proxy_sessions.put(&key_hash, generation, (session.provider, session.expires, who.clone()));
    }
    Ok(who)
}

/// Ends a forward-auth session (sign out).
pub async fn end(app: &AppState, key: &str) -> ServiceResult<()> {
    let mut tx = app.store.begin().await?;
    tx.conn().delete_proxy_session(&hash_token(key)).await?;
    Ok(tx.commit().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexid_core::apps::ProviderSettings;
    use plexid_core::modes::ProviderKind;
    use plexid_core::FlowId;

    fn provider(mode: ProxyMode, external: &str, domain: &str) -> Provider {
        let mut p = Provider::new(ProviderKind::Proxy, "p", FlowId::random());
        p.client_id = "cid".into();
        p.settings = ProviderSettings {
            external_host: external.into(),
            mode,
            cookie_domain: domain.into(),
            ..Default::default()
        };
        p
    }

    #[test]
    fn return_urls_stay_on_configured_hosts() {
        let single = provider(ProxyMode::ForwardSingle, "https://app.example.com", "");
        assert_eq!(
            allowed_return(&single, "app.example.com", "/x?y=1").as_deref(),
            Some("https://app.example.com/x?y=1")
        );
        assert!(allowed_return(&single, "app.example.com", "https://app.example.com/x").is_some());
        for evil in [
            "https://evil.example.net/",
            "//evil.example.net/x",
            "/\\evil.example.net",
            "javascript:alert(1)",
            "https://app.example.com.evil.net/",
            "/x\r\nSet-Cookie: a=b",
            "/x\ty",
        ] {
            assert_eq!(allowed_return(&single, "app.example.com", evil), None, "{evil}");
        }
        let domain = provider(ProxyMode::ForwardDomain, "https://auth.example.com", "example.com");
        assert!(allowed_return(&domain, "auth.example.com", "https://wiki.example.com/page").is_some());
        assert_eq!(allowed_return(&domain, "auth.example.com", "https://example.net/"), None);
        assert_eq!(allowed_return(&domain, "evil.net/.example.com", "/x"), None, "a host smuggling a path");
        assert_eq!(allowed_return(&domain, "evil.net", "/x"), None, "a host outside the domain");
        assert_eq!(
            allowed_return(&domain, "wiki.example.com:8443", "/x").as_deref(),
            Some("https://wiki.example.com:8443/x")
        );
    }

    #[test]
    fn the_authorize_url_names_the_providers_callback() {
        let p = provider(ProxyMode::ForwardSingle, "https://app.example.com", "");
        let url = authorize_url("https://id.example.com/", &p, "st");
        assert!(
            url.starts_with("https://id.example.com/application/o/authorize/?response_type=code&client_id=cid"),
            "{url}"
        );
        assert!(url.contains("redirect_uri=https%3A%2F%2Fapp.example.com%2Foutpost.goauthentik.io%2Fcallback%3FX-authentik-auth-callback%3Dtrue"));
        assert!(url.ends_with("&state=st"));
    }
}
