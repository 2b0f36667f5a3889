//! Forward-auth behind real reverse proxies, signed in through `fake-plex` in headless Chromium:
//! Debian's nginx with authentik's documented `auth_request` snippet, and Debian's Caddy with
//! its `forward_auth` snippet, each in front of a small upstream that echoes the identity
//! headers it receives. Chromium resolves every `*.localhost` name to 127.0.0.1, so the
//! applications and plexid get host names of their own on one machine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::browser::{approve_in_plex_window, text_of, wait_for_url, Driver, WAIT};
use crate::helpers::{Backend, TestApp};
use crate::process::Group;
use plexid_server::web::snippets::{self, Target};

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process (nginx, Caddy, Apache) with its workers, stopped when dropped.
pub struct Proxy {
    _group: Group,
    _dir: PathBuf,
}

impl Proxy {
    #[allow(clippy::disallowed_methods)] // waits for another process to listen, not for time to pass
    pub fn start(program: &str, args: &[&str], dir: PathBuf, port: u16, env: &[(&str, &Path)]) -> Proxy {
        assert!(Path::new(program).exists(), "{program} is missing (scripts/test installs nginx and caddy)");
        let mut command = Command::new(program);
        command.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let group = Group::spawn(&mut command).unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "{program} did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy { _group: group, _dir: dir }
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plexid-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The echoing upstream: what the application behind the proxy receives.
const ECHO: &str = r#"<h1 id=upstream>host=$http_host user=$http_x_authentik_username groups=$http_x_authentik_groups plex=$http_x_plexid_plex_relationship</h1>"#;

/// A snippet plexid gives (`web::snippets`), listening where the test's proxy does.
fn snippet_target<'a>(plexid: &'a str, app_url: &'a str, upstream: &'a str) -> Target<'a> {
    Target { plexid, app_url, upstream }
}

/// nginx: plexid at `id.localhost`, the application at `app.localhost` protected with the
/// server block plexid's admin page gives (only `listen` adapted to the test's port), as nginx's
/// **default server** (the case where a request naming another host still reaches it), and the
/// echoing upstream.
fn nginx(port: u16, upstream: u16, plexid: &str) -> Proxy {
    let dir = temp_dir("nginx");
    let d = dir.display();
    let app_url = format!("http://app.localhost:{port}");
    let upstream_address = format!("127.0.0.1:{upstream}");
    let app_block = snippets::nginx(&snippet_target(plexid, &app_url, &upstream_address))
        .replace(&format!("listen {port};"), &format!("listen 127.0.0.1:{port} default_server;"));
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
            return 200 "{ECHO}";
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

{app_block}
}}
"#
    );
    let file = dir.join("nginx.conf");
    std::fs::write(&file, config).unwrap();
    let prefix = dir.display().to_string();
    let conf = file.display().to_string();
    Proxy::start("/usr/sbin/nginx", &["-p", &prefix, "-c", &conf], dir, port, &[])
}

/// Caddy with the sites plexid's admin page gives for `shop.localhost` and `vault.localhost`,
/// both in front of the echoing upstream.
fn caddy(port: u16, plexid: &str, upstream: u16) -> Proxy {
    let dir = temp_dir("caddy");
    let upstream_address = format!("127.0.0.1:{upstream}");
    let sites: String = ["shop", "vault"]
        .iter()
        .map(|name| {
            let app_url = format!("http://{name}.localhost:{port}");
            snippets::caddy(&snippet_target(plexid, &app_url, &upstream_address))
        })
        .collect();
    let config = format!("{{\n    admin off\n    auto_https off\n}}\n{sites}");
    let file = dir.join("Caddyfile");
    std::fs::write(&file, config).unwrap();
    let conf = file.display().to_string();
    let env = [("HOME", dir.as_path()), ("XDG_DATA_HOME", dir.as_path()), ("XDG_CONFIG_HOME", dir.as_path())];
    Proxy::start("/usr/bin/caddy", &["run", "--config", &conf, "--adapter", "caddyfile"], dir.clone(), port, &env)
}

/// A request straight to a proxy, with the headers an attacker chooses.
async fn attack(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.get(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The browser, back on the nginx application's host (to read its cookies there).
async fn browser_on_app(browser: &fantoccini::Client, port: u16) -> fantoccini::Client {
    browser.goto(&format!("http://app.localhost:{port}/private?x=1")).await.unwrap();
    wait_for_url(browser, "/private?x=1").await;
    browser.clone()
}

/// The value of the cookie `name` in the browser (on its current page's host).
async fn cookie(browser: &fantoccini::Client, name: &str) -> String {
    let all = browser.get_all_cookies().await.unwrap();
    all.iter().find(|c| c.name() == name).map(|c| c.value().to_owned()).unwrap_or_else(|| panic!("no cookie {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_and_caddy_in_front_of_an_app() {
    let (nginx_port, upstream_port, caddy_port) = (free_port(), free_port(), free_port());
    let public_url = format!("http://id.localhost:{nginx_port}");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.public_url = Some(public_url.clone())).await;
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let member_app = app
        .forward_auth_app(
            "app",
            json!({"external_host": format!("http://app.localhost:{nginx_port}")}),
            json!(["server_member"]),
        )
        .await;
    let shop = app
        .forward_auth_app(
            "shop",
            json!({"external_host": format!("http://shop.localhost:{caddy_port}")}),
            json!(["friend"]),
        )
        .await;
    app.forward_auth_app(
        "vault",
        json!({"external_host": format!("http://vault.localhost:{caddy_port}")}),
        json!(["owner"]),
    )
    .await;
    let _nginx = nginx(nginx_port, upstream_port, &app.base);
    let _caddy = caddy(caddy_port, &app.base, upstream_port);
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
    assert!(text.contains("user=member") && text.ends_with("plex=server_member"), "{text}");
    // The friend is signed in to plexid too, but the application admits server members only.
    let friend = driver.browser().await;
    friend.goto(&private).await.unwrap();
    approve_in_plex_window(&friend, "plex", "friend").await;
    wait_for_text(&friend, "h1", "Access denied").await;

    // Caddy: the friend (already signed in to plexid) passes straight through the round trip.
    friend.goto(&format!("http://shop.localhost:{caddy_port}/")).await.unwrap();
    wait_for_text(&friend, "#upstream", &format!("host=shop.localhost:{caddy_port} user=friend groups= plex=friend"))
        .await;
    // The member may not use the shop.
    browser.goto(&format!("http://shop.localhost:{caddy_port}/")).await.unwrap();
    wait_for_text(&browser, "h1", "Access denied").await;

    // F1: the friend's cookie for the shop, sent to other applications through the real proxies
    // with every header a client can add, never opens them.
    let shop_cookie = format!("authentik_proxy_{}", shop["pk"]);
    let cookie_header = format!("{shop_cookie}={}", cookie(&friend, &shop_cookie).await);
    let shop_host = format!("shop.localhost:{caddy_port}");
    let shop_url = format!("http://{shop_host}/");
    let vault_host = format!("vault.localhost:{caddy_port}");
    for headers in [
        vec![("X-Original-URL", shop_url.as_str())],
        vec![("X-Forwarded-Host", shop_host.as_str())],
        vec![("X-Original-URL", shop_url.as_str()), ("X-Forwarded-Host", shop_host.as_str()), ("X-Forwarded-Uri", "/")],
    ] {
        let mut all = vec![("Host", vault_host.as_str()), ("Cookie", cookie_header.as_str())];
        all.extend(headers.iter().copied());
        let (status, body) = attack(caddy_port, "/secret", &all).await;
        assert!(!body.contains("user=friend"), "Caddy let the friend into the vault with {headers:?}: {status} {body}");
        assert!(status == 302 || status == 303, "{headers:?}: {status} {body}");
    }
    // Through Caddy, the friend's own identity headers are replaced by plexid's answer.
    let (status, body) = attack(
        caddy_port,
        "/",
        &[
            ("Host", shop_host.as_str()),
            ("Cookie", cookie_header.as_str()),
            ("X-authentik-username", "akadmin"),
            ("X-authentik-groups", "authentik Admins"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("user=friend groups= "), "{body}");
    // nginx's default server is the member-only application: a request naming the shop's host
    // (served elsewhere) with the shop's cookie reaches it, and is refused there.
    for host in [shop_host.as_str(), "shop.localhost"] {
        let all = [("Host", host), ("Cookie", cookie_header.as_str()), ("X-Original-URL", shop_url.as_str())];
        let (status, body) = attack(nginx_port, "/private", &all).await;
        assert!(!body.contains("user=friend"), "nginx let the friend in as {host}: {status} {body}");
        assert!(status == 403 || status == 302, "{host}: {status} {body}");
    }
    // A client's own identity headers never reach the application: the proxy sets them from
    // plexid's answer.
    let app_cookie = format!("authentik_proxy_{}", member_app["pk"]);
    let member_cookie =
        format!("{app_cookie}={}", cookie(&browser_on_app(&browser, nginx_port).await, &app_cookie).await);
    let (status, body) = attack(
        nginx_port,
        "/",
        &[
            ("Host", "app.localhost"),
            ("Cookie", member_cookie.as_str()),
            ("X-authentik-username", "akadmin"),
            ("X-authentik-groups", "authentik Admins"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("user=member groups= "), "{body}");
    browser.close().await.unwrap();
    friend.close().await.unwrap();
}
