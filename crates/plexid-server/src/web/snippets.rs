//! The reverse-proxy configuration plexid gives for a forward-auth application (on its admin
//! page, in docs/apps.md, and in the test that runs them against real nginx and Caddy), so the
//! three cannot drift apart.
//!
//! They follow authentik's documented snippets with two changes that decide who gets in:
//! - nginx sends the application's **own, fixed** address in `X-Original-URL`, never one built
//!   from the request's `Host` header: when the application's server block is also nginx's
//!   default server, a request naming another application's host must still be checked as this
//!   one;
//! - Caddy and Traefik are not told to trust `X-Forwarded-*` headers that arrive from the
//!   client (authentik's Caddy snippet trusts private ranges, so anyone on the LAN could name
//!   another application's host).
//!
//! Every identity header is set by the proxy from plexid's answer, so a client cannot send its
//! own `X-authentik-username` through to the application.

use plexid_core::apps::{url_host, Provider};
use plexid_core::modes::ProxyMode;

/// The identity headers plexid answers with (authentik's, then plexid's Plex ones).
pub const IDENTITY_HEADERS: &[&str] = &[
    "X-authentik-username",
    "X-authentik-groups",
    "X-authentik-email",
    "X-authentik-name",
    "X-authentik-uid",
    "X-plexid-plex-id",
    "X-plexid-plex-relationship",
];

/// What a snippet is written for.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// plexid's address as the proxy reaches it (`http://127.0.0.1:9000`).
    pub plexid: &'a str,
    /// The application's address (`https://tautulli.example.com`), or, for a domain-wide
    /// provider, one application's address under its cookie domain.
    pub app_url: &'a str,
    /// Where the proxy sends the application's own requests.
    pub upstream: &'a str,
}

impl<'a> Target<'a> {
    /// The snippet target of a provider: its external host, or for a domain-wide provider an
    /// example host under its cookie domain (each application's server block names its own).
    pub fn of(provider: &'a Provider, plexid: &'a str, example_app: &'a str) -> Target<'a> {
        let s = &provider.settings;
        let app_url = if s.mode == ProxyMode::ForwardDomain { example_app } else { s.external_host.as_str() };
        Target {
            plexid: plexid.trim_end_matches('/'),
            app_url: app_url.trim_end_matches('/'),
            upstream: "your-app:8080",
        }
    }

    fn server_name(&self) -> String {
        url_host(self.app_url).map(|h| h.split(':').next().unwrap_or_default().to_owned()).unwrap_or_default()
    }

    fn is_https(&self) -> bool {
        self.app_url.starts_with("https://")
    }

    /// The port the application's address names (`http://app.localhost:8081`), if any.
    fn port(&self) -> Option<u16> {
        url::Url::parse(self.app_url).ok()?.port()
    }
}

/// nginx `lower_snake` variable name of a header (`$upstream_http_x_authentik_username`).
fn nginx_var(header: &str) -> String {
    header.to_ascii_lowercase().replace('-', "_")
}

/// An nginx server block protecting the application with `auth_request`.
pub fn nginx(t: &Target<'_>) -> String {
    // The port the application's address names, else the scheme's.
    let listen = match (t.is_https(), t.port()) {
        (true, port) => format!("listen {} ssl;\n    # ssl_certificate …; ssl_certificate_key …;", port.unwrap_or(443)),
        (false, port) => format!("listen {};", port.unwrap_or(80)),
    };
    let mut identity = String::new();
    for header in IDENTITY_HEADERS {
        let var = nginx_var(header);
        identity.push_str(&format!(
            "        auth_request_set ${var} $upstream_http_{var};\n        proxy_set_header {header} ${var};\n"
        ));
    }
    format!(
        "server {{\n    {listen}\n    server_name {server_name};\n    proxy_buffers 8 16k;\n    proxy_buffer_size 32k;\n\n\
         \x20   location / {{\n        proxy_pass http://{upstream};\n\
         \x20       auth_request /outpost.goauthentik.io/auth/nginx;\n        error_page 401 = @goauthentik_proxy_signin;\n\
         \x20       auth_request_set $auth_cookie $upstream_http_set_cookie;\n        add_header Set-Cookie $auth_cookie;\n\
         {identity}    }}\n\n\
         \x20   location /outpost.goauthentik.io {{\n        proxy_pass {plexid}/outpost.goauthentik.io;\n\
         \x20       proxy_set_header Host $host;\n\
         \x20       # This application's own address, written out: never built from the request's Host.\n\
         \x20       proxy_set_header X-Original-URL {app_url}$request_uri;\n\
         \x20       add_header Set-Cookie $auth_cookie;\n        auth_request_set $auth_cookie $upstream_http_set_cookie;\n\
         \x20       proxy_pass_request_body off;\n        proxy_set_header Content-Length \"\";\n    }}\n\n\
         \x20   location @goauthentik_proxy_signin {{\n        internal;\n        add_header Set-Cookie $auth_cookie;\n\
         \x20       return 302 /outpost.goauthentik.io/start?rd=$request_uri;\n    }}\n}}\n",
        server_name = t.server_name(),
        upstream = t.upstream,
        plexid = t.plexid,
        app_url = t.app_url,
    )
}

/// A Caddy site protecting the application with `forward_auth`.
pub fn caddy(t: &Target<'_>) -> String {
    let plexid = t.plexid.trim_start_matches("http://");
    let site = if t.is_https() { t.server_name() } else { t.app_url.to_owned() };
    format!(
        "{site} {{\n    route {{\n        reverse_proxy /outpost.goauthentik.io/* {plexid}\n\
         \x20       forward_auth {plexid} {{\n            uri /outpost.goauthentik.io/auth/caddy\n\
         \x20           copy_headers {headers}\n        }}\n        reverse_proxy {upstream}\n    }}\n}}\n",
        headers = IDENTITY_HEADERS.join(" "),
        upstream = t.upstream,
    )
}

/// Traefik's dynamic configuration: the middleware, the application's router and the router
/// that sends the sign-in round trip (`/outpost.goauthentik.io/`) to plexid.
pub fn traefik(t: &Target<'_>) -> String {
    let name = t.server_name().split('.').next().unwrap_or("app").to_owned();
    let headers: String = IDENTITY_HEADERS.iter().map(|h| format!("          - {h}\n")).collect();
    format!(
        "http:\n  middlewares:\n    plexid:\n      forwardAuth:\n        address: {plexid}/outpost.goauthentik.io/auth/traefik\n\
         \x20       trustForwardHeader: false   # the address comes from Traefik, never from the client\n\
         \x20       authResponseHeaders:\n{headers}\
         \x20 routers:\n    {name}:\n      rule: Host(`{host}`)\n      middlewares: [plexid]\n      service: {name}\n\
         \x20   {name}-outpost:\n      rule: Host(`{host}`) && PathPrefix(`/outpost.goauthentik.io/`)\n      priority: 15\n\
         \x20     service: plexid\n  services:\n    {name}:\n      loadBalancer:\n        servers: [{{url: \"http://{upstream}\"}}]\n\
         \x20   plexid:\n      loadBalancer:\n        servers: [{{url: \"{plexid}\"}}]\n",
        plexid = t.plexid,
        host = t.server_name(),
        upstream = t.upstream,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target<'static> {
        Target { plexid: "http://127.0.0.1:9000", app_url: "https://tautulli.example.com", upstream: "tautulli:8181" }
    }

    #[test]
    fn nginx_fixes_the_applications_address_and_forwards_every_identity_header() {
        let text = nginx(&target());
        assert!(text.contains("proxy_set_header X-Original-URL https://tautulli.example.com$request_uri;"), "{text}");
        assert!(!text.contains("$http_host"), "the address must not come from the request: {text}");
        assert!(text.contains("server_name tautulli.example.com;"));
        for header in IDENTITY_HEADERS {
            assert!(text.contains(&format!("proxy_set_header {header} $")), "{header}");
        }
    }

    #[test]
    fn nginx_listens_on_the_port_the_address_names() {
        let t = |app_url| Target { plexid: "http://127.0.0.1:9000", app_url, upstream: "app:80" };
        assert!(nginx(&t("http://app.localhost:8081")).contains("    listen 8081;\n"));
        assert!(nginx(&t("http://app.localhost")).contains("    listen 80;\n"));
        assert!(nginx(&t("https://app.example.com:8443")).contains("    listen 8443 ssl;\n"));
    }

    #[test]
    fn caddy_and_traefik_do_not_trust_client_forwarded_headers() {
        let caddy = caddy(&target());
        assert!(!caddy.contains("trusted_proxies"), "{caddy}");
        assert!(caddy.starts_with("tautulli.example.com {"));
        let traefik = traefik(&target());
        assert!(traefik.contains("trustForwardHeader: false"));
        assert!(traefik.contains("PathPrefix(`/outpost.goauthentik.io/`)"), "{traefik}");
        for header in IDENTITY_HEADERS {
            assert!(caddy.contains(header) && traefik.contains(header), "{header}");
        }
    }
}

#[cfg(test)]
mod docs {
    use super::*;

    /// docs/apps.md shows exactly what plexid generates (for its Tautulli example).
    #[test]
    fn the_documented_snippets_are_the_generated_ones() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/apps.md")).unwrap();
        let target = Target {
            plexid: "http://127.0.0.1:9000",
            app_url: "https://tautulli.example.com",
            upstream: "tautulli:8181",
        };
        let missing: Vec<String> =
            [("nginx", nginx(&target)), ("caddy", caddy(&target)), ("traefik", traefik(&target))]
                .into_iter()
                .filter(|(_, text)| !docs.contains(text))
                .map(|(name, text)| format!("----- {name}\n{text}"))
                .collect();
        assert!(missing.is_empty(), "docs/apps.md lacks the generated snippets:\n{}", missing.join("\n"));
    }
}
