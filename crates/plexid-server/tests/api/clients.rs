//! Three more real clients, driving plexid as their users would: authentik's TypeScript API
//! client (`@goauthentik/api` 2024.6, on Node), openid-client (the strict, certified relying
//! party library for Node), and Apache httpd with `mod_auth_openidc` protecting a location.
//! The JavaScript clients are pinned in `compat/node/package-lock.json`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::compat::run;
use crate::helpers::TestApp;
use crate::login::{Cookies, FRIEND, MEMBER, OWNER, SERVER_ID};
use crate::oidc::CALLBACK;
use crate::proxies::{free_port, temp_dir, Proxy};

/// `compat/node` with its packages installed (once; both backends' tests may ask at once:
/// flock serialises them).
fn node_clients() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat/node");
    let lock = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compat-node.lock");
    run(Command::new("flock").arg(&lock).arg("bash").arg(dir.join("setup.sh")));
    dir
}

/// Runs `script` of `compat/node` with `args` off the runtime's threads; its output.
async fn node(script: &'static str, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let dir = node_clients();
        run(Command::new("node").arg(dir.join(script)).args(args))
    })
    .await
    .unwrap()
}

async fn typescript_client(app: &TestApp) {
    app.plex_accounts();
    let plex_tokens = [OWNER, MEMBER].map(|id| app.plex.token_of(id).unwrap()).join(",");
    let args = ["--url", &app.base, "--token", &app.token, "--plex-tokens", &plex_tokens, "--plex-server", SERVER_ID];
    let output = node("authentik_client.mjs", args.map(str::to_owned).to_vec()).await;
    assert!(output.contains(" passed, 0 failed"), "{output}");
}
both!(typescript_client, typescript_client);

/// openid-client: discovery, the code flow with PKCE, the ID token validated (signature
/// included), userinfo, refresh; then, once the access sweep has revoked the friend, refused.
async fn openid_client(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("node", json!({})).await;
    let common = ["--url", &app.base, "--slug", &rp.slug, "--client-id", &rp.client_id, "--client-secret", &rp.secret]
        .map(str::to_owned)
        .to_vec();
    let friend = app.plex.token_of(FRIEND).unwrap();
    let first =
        [&common[..], &["--redirect-uri", CALLBACK, "--source", "plex", "--plex-token", &friend].map(str::to_owned)]
            .concat();
    let output = node("openid_rp.mjs", first).await;
    assert!(output.contains("ID token valid") && output.contains(r#"plex_relationship=["friend"]"#), "{output}");
    let refresh = output.lines().find_map(|l| l.strip_prefix("refresh_token=")).expect("a refresh token").to_owned();

    app.plex.remove_friend(OWNER, FRIEND);
    app.plex.remove_friend(FRIEND, OWNER);
    plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    let second = [&common[..], &["--refresh".to_owned(), refresh, "--expect-refused".to_owned()]].concat();
    let output = node("openid_rp.mjs", second).await;
    assert!(output.contains("refresh refused: invalid_grant"), "{output}");
}
both!(openid_client, openid_client);

/// An upstream that answers every request with the request's head (its headers) as the body.
fn echo_upstream() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                head.len()
            );
            let _ = stream.write_all(answer.as_bytes()).and_then(|()| stream.write_all(&head));
        }
    });
    port
}

/// Apache httpd (prefork) with mod_auth_openidc protecting `/protected`, proxied to `upstream`.
fn apache(port: u16, upstream: u16, discovery: &str, client_id: &str, secret: &str) -> Proxy {
    const MODULES: &str = "/usr/lib/apache2/modules";
    let dir = temp_dir("apache");
    let d = dir.display();
    let modules = ["mpm_prefork", "authn_core", "authz_core", "authz_user", "proxy", "proxy_http", "auth_openidc"]
        .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so"))
        .join("\n");
    let config = format!(
        r#"ServerRoot {d}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel warn
{modules}
StartServers 1
MinSpareServers 1
MaxSpareServers 2
OIDCProviderMetadataURL {discovery}
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase plexid-test-passphrase
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCPassClaimsAs headers
<Location /protected>
    AuthType openid-connect
    Require valid-user
    ProxyPass http://127.0.0.1:{upstream}/
</Location>
"#
    );
    let file = dir.join("httpd.conf");
    std::fs::write(&file, config).unwrap();
    let conf = file.display().to_string();
    assert!(Path::new(&format!("{MODULES}/mod_auth_openidc.so")).exists(), "libapache2-mod-auth-openidc is missing");
    Proxy::start("/usr/sbin/apache2", &["-f", &conf, "-DFOREGROUND"], dir, port, &[])
}

/// A GET as a browser with `cookies` (sent, and updated from the answer), redirects not
/// followed: the status, the `Location` and the body.
async fn get(url: &str, cookies: &mut Cookies) -> (StatusCode, String, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client.get(url).header("Cookie", cookies.header()).send().await.unwrap();
    cookies.absorb(&response);
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (response.status(), location, response.text().await.unwrap())
}

/// `who`, signed in to plexid, opens Apache's protected page: Apache sends them to plexid's
/// authorization endpoint, plexid back to Apache with a code (or refuses them: its status),
/// Apache exchanges it and shows the page. The last answer.
async fn through_apache(app: &TestApp, apache: &str, who: u64) -> (StatusCode, String) {
    let mut plexid = app.sign_in("plex", who).await;
    let mut jar = Cookies::default();
    let page = format!("{apache}/protected/hello");
    let (status, to_plexid, _) = get(&page, &mut jar).await;
    assert_eq!(status, StatusCode::FOUND, "Apache sends the browser to plexid");
    let path = to_plexid.strip_prefix(&app.base).unwrap_or_else(|| panic!("to plexid: {to_plexid}"));
    assert!(path.starts_with("/application/o/authorize/?") && path.contains("code_challenge_method=S256"), "{path}");
    let answer = app.browser(&mut plexid, Method::GET, path, None, false).await;
    if !answer.status.is_redirection() {
        return (answer.status, answer.body.to_string());
    }
    let back = answer.headers["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{apache}/protected/redirect_uri?")), "{back}");
    let (status, again, _) = get(&back, &mut jar).await;
    assert_eq!((status, again.as_str()), (StatusCode::FOUND, page.as_str()), "Apache took the code");
    let (status, _, body) = get(&page, &mut jar).await;
    (status, body)
}

/// Apache's mod_auth_openidc signs a server member in through plexid and passes their claims
/// upstream as `OIDC_CLAIM_*` headers; a friend, whom the application does not admit, never
/// gets past plexid.
async fn apache_mod_auth_openidc(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let (port, upstream) = (free_port(), echo_upstream());
    let apache_url = format!("http://127.0.0.1:{port}");
    let redirect = format!("{apache_url}/protected/redirect_uri");
    let provider = app.oauth2_provider("OIDC apache", json!({"redirect_uris": redirect})).await;
    app.application("apache", &provider["pk"], json!({"access_relationships": ["server_member"]})).await;
    let discovery = format!("{}/application/o/apache/.well-known/openid-configuration", app.base);
    let (client_id, secret) = (provider["client_id"].as_str().unwrap(), provider["client_secret"].as_str().unwrap());
    let _apache = apache(port, upstream, &discovery, client_id, secret);

    let (status, headers) = through_apache(app, &apache_url, MEMBER).await;
    assert_eq!(status, StatusCode::OK, "{headers}");
    let headers = headers.to_ascii_lowercase();
    for expected in
        ["oidc_claim_preferred_username: member", "oidc_claim_plex_relationship: server_member", "oidc_claim_sub: "]
    {
        assert!(headers.contains(expected), "{expected} missing upstream:\n{headers}");
    }

    let (status, body) = through_apache(app, &apache_url, FRIEND).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Access denied"), "{body}");
}
both!(apache_mod_auth_openidc, apache_mod_auth_openidc);
