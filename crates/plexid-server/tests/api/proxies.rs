//! Forward-auth behind real reverse proxies, signed in through `fake-plex` in headless Chromium:
//! Debian's nginx with authentik's documented `auth_request` snippet, and Debian's Caddy with
//! its `forward_auth` snippet, each in front of a small upstream that echoes the identity
//! headers it receives. Chromium resolves every `*.localhost` name to 127.0.0.1, so the
//! applications and plexid get host names of their own on one machine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::browser::{approve_in_plex_window, text_of, wait_for_url, Driver, WAIT};
use crate::helpers::{Backend, TestApp};

/// Waits until the element `css` reads `expected` (the page may still be navigating).
async fn wait_for_text(browser: &fantoccini::Client, css: &str, expected: &str) {
    let started = Instant::now();
    loop {
        let found = browser.find(fantoccini::Locator::Css(css)).await;
        let text = match found {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text == expected {
            return;
        }
        assert!(started.elapsed() < WAIT, "{css} reads {text:?}, waiting for {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process (nginx or Caddy), stopped when dropped.
struct Proxy {
    child: Child,
    _dir: PathBuf,
}

impl Proxy {
    #[allow(clippy::disallowed_methods)] // waits for another process to listen, not for time to pass
    fn start(program: &str, args: &[&str], dir: PathBuf, port: u16, env: &[(&str, &Path)]) -> Proxy {
        assert!(Path::new(program).exists(), "{program} is missing (scripts/test installs nginx and caddy)");
        let mut command = Command::new(program);
        command.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "{program} did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy { child, _dir: dir }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plexid-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// nginx: plexid at `id.localhost`, the application at `app.localhost` protected with authentik's
/// documented snippet (only the outpost's address changed), and the echoing upstream.
fn nginx(port: u16, upstream: u16, plexid: &str) -> Proxy {
    let dir = temp_dir("nginx");
    let d = dir.display();
    let config = format!(
        r#"
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    server {{
        listen 127.0.0.1:{upstream};
        location / {{
            default_type text/html;
            return 200 "<h1 id=upstream>user=$http_x_authentik_username groups=$http_x_authentik_groups plex=$http_x_plexid_plex_relationship</h1>";
        }}
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name id.localhost;
        location / {{
            proxy_pass {plexid};
            proxy_set_header Host $http_host;
        }}
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name app.localhost;
        proxy_buffers 8 16k;
        proxy_buffer_size 32k;

        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            auth_request /outpost.goauthentik.io/auth/nginx;
            error_page 401 = @goauthentik_proxy_signin;
            auth_request_set $auth_cookie $upstream_http_set_cookie;
            add_header Set-Cookie $auth_cookie;
            auth_request_set $authentik_username $upstream_http_x_authentik_username;
            auth_request_set $authentik_groups $upstream_http_x_authentik_groups;
            auth_request_set $plexid_relationship $upstream_http_x_plexid_plex_relationship;
            proxy_set_header X-authentik-username $authentik_username;
            proxy_set_header X-authentik-groups $authentik_groups;
            proxy_set_header X-plexid-plex-relationship $plexid_relationship;
        }}

        location /outpost.goauthentik.io {{
            proxy_pass {plexid}/outpost.goauthentik.io;
            proxy_set_header Host $host;
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            add_header Set-Cookie $auth_cookie;
            auth_request_set $auth_cookie $upstream_http_set_cookie;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}

        location @goauthentik_proxy_signin {{
            internal;
            add_header Set-Cookie $auth_cookie;
            return 302 /outpost.goauthentik.io/start?rd=$request_uri;
        }}
    }}
}}
"#
    );
    let file = dir.join("nginx.conf");
    std::fs::write(&file, config).unwrap();
    let prefix = dir.display().to_string();
    let conf = file.display().to_string();
    Proxy::start("/usr/sbin/nginx", &["-p", &prefix, "-c", &conf], dir, port, &[])
}

/// Caddy with authentik's documented `forward_auth` snippet in front of a `respond` upstream.
fn caddy(port: u16, plexid_address: &str) -> Proxy {
    let dir = temp_dir("caddy");
    let config = format!(
        r#"{{
    admin off
    auto_https off
}}
http://shop.localhost:{port} {{
    route {{
        reverse_proxy /outpost.goauthentik.io/* {plexid_address}
        forward_auth {plexid_address} {{
            uri /outpost.goauthentik.io/auth/caddy
            copy_headers X-Authentik-Username X-Authentik-Groups X-Plexid-Plex-Relationship
            trusted_proxies private_ranges
        }}
        header Content-Type text/html
        respond "<h1 id=upstream>user={{http.request.header.X-Authentik-Username}} plex={{http.request.header.X-Plexid-Plex-Relationship}}</h1>"
    }}
}}
"#
    );
    let file = dir.join("Caddyfile");
    std::fs::write(&file, config).unwrap();
    let conf = file.display().to_string();
    let env = [("HOME", dir.as_path()), ("XDG_DATA_HOME", dir.as_path()), ("XDG_CONFIG_HOME", dir.as_path())];
    Proxy::start("/usr/bin/caddy", &["run", "--config", &conf, "--adapter", "caddyfile"], dir.clone(), port, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_and_caddy_in_front_of_an_app() {
    let (nginx_port, upstream_port, caddy_port) = (free_port(), free_port(), free_port());
    let public_url = format!("http://id.localhost:{nginx_port}");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.public_url = Some(public_url.clone())).await;
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.forward_auth_app(
        "app",
        json!({"external_host": format!("http://app.localhost:{nginx_port}")}),
        json!(["server_member"]),
    )
    .await;
    app.forward_auth_app(
        "shop",
        json!({"external_host": format!("http://shop.localhost:{caddy_port}")}),
        json!(["friend"]),
    )
    .await;
    let plexid_address = app.base.trim_start_matches("http://").to_owned();
    let _nginx = nginx(nginx_port, upstream_port, &app.base);
    let _caddy = caddy(caddy_port, &plexid_address);
    let driver = Driver::start();

    // nginx: the application sends the browser through plexid's login and back.
    let browser = driver.browser().await;
    let private = format!("http://app.localhost:{nginx_port}/private?x=1");
    browser.goto(&private).await.unwrap();
    browser.wait().at_most(WAIT).for_element(fantoccini::Locator::Id("plex-plex")).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert!(url.as_str().starts_with(&format!("{public_url}/if/flow/default-source-authentication/")), "{url}");
    approve_in_plex_window(&browser, "plex", "member").await;
    wait_for_url(&browser, "/private?x=1").await;
    let text = text_of(&browser, "#upstream").await;
    assert!(text.starts_with("user=member") && text.ends_with("plex=server_member"), "{text}");
    // The friend is signed in to plexid too, but the application admits server members only.
    let friend = driver.browser().await;
    friend.goto(&private).await.unwrap();
    approve_in_plex_window(&friend, "plex", "friend").await;
    wait_for_text(&friend, "h1", "Access denied").await;

    // Caddy: the friend (already signed in to plexid) passes straight through the round trip.
    friend.goto(&format!("http://shop.localhost:{caddy_port}/")).await.unwrap();
    wait_for_text(&friend, "#upstream", "user=friend plex=friend").await;
    // The member may not use the shop.
    browser.goto(&format!("http://shop.localhost:{caddy_port}/")).await.unwrap();
    wait_for_text(&browser, "h1", "Access denied").await;
    browser.close().await.unwrap();
    friend.close().await.unwrap();
}
