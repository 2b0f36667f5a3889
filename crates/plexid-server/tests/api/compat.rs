//! authentik's own generated Python client (`authentik-client` 2024.6.3) drives every operation
//! against plexid and parses every response with its models (`compat/`).

use std::path::Path;
use std::process::Command;

use crate::both;
use crate::helpers::TestApp;
use crate::login::{FRIEND, MEMBER, OWNER, SERVER_ID, STRANGER};
use crate::oidc::CALLBACK;

pub fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// The compatibility virtualenv (set up once; both backends' tests may ask at once: flock
/// serialises them) and the `compat/` directory.
pub fn venv() -> (std::path::PathBuf, std::path::PathBuf) {
    venv_of("compat-venv", None)
}

/// The virtualenv `name` holding `compat/<requirements>` (default `compat/requirements.txt`),
/// set up once; and the `compat/` directory and the venv's `bin/`.
pub fn venv_of(name: &str, requirements: Option<&str>) -> (std::path::PathBuf, std::path::PathBuf) {
    let compat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let lock = venv.with_extension("lock");
    let mut setup = Command::new("flock");
    setup.arg(&lock).arg("bash").arg(compat.join("setup_venv.sh")).arg(&venv);
    if let Some(requirements) = requirements {
        setup.arg(compat.join(requirements));
    }
    run(&mut setup);
    (compat, venv.join("bin/python"))
}

async fn authentik_client(app: &TestApp) {
    app.plex_accounts();
    let (base, token) = (app.base.clone(), app.token.clone());
    let plex_tokens = [OWNER, MEMBER, STRANGER].map(|id| app.plex.token_of(id).unwrap()).join(",");
    let output = tokio::task::spawn_blocking(move || {
        let (compat, python) = venv();
        run(Command::new(python)
            .arg(compat.join("authentik_client_compat.py"))
            .args(["--url", &base, "--token", &token, "--suite", "all"])
            .args(["--plex-tokens", &plex_tokens, "--plex-server", SERVER_ID]))
    })
    .await
    .unwrap();
    assert!(output.contains(" passed, 0 failed"), "{output}");
}
both!(authentik_client, authentik_client);

/// A relying party built with Authlib: code flow with PKCE, the ID token validated against the
/// JWKS, userinfo, refresh; then, once the access sweep has revoked the user, refused.
async fn authlib_relying_party(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", serde_json::json!({})).await;
    let rp = app.relying_party("authlib", serde_json::json!({})).await;
    let common = vec![
        "--url".to_owned(),
        app.base.clone(),
        "--slug".into(),
        rp.slug.clone(),
        "--client-id".into(),
        rp.client_id.clone(),
        "--client-secret".into(),
        rp.secret.clone(),
    ];
    let mut first = common.clone();
    first.extend(["--redirect-uri".into(), CALLBACK.into(), "--source".into(), "plex".into()]);
    first.extend(["--plex-token".into(), app.plex.token_of(FRIEND).unwrap()]);
    let rp_run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let (compat, python) = venv();
            run(Command::new(python).arg(compat.join("oidc_rp.py")).args(args).env("AUTHLIB_INSECURE_TRANSPORT", "1"))
        })
    };
    let output = rp_run(first).await.unwrap();
    assert!(output.contains("ID token valid") && output.contains("plex_relationship=['friend']"), "{output}");
    let refresh = output.lines().find_map(|l| l.strip_prefix("refresh_token=")).expect("a refresh token").to_owned();

    app.plex.remove_friend(OWNER, FRIEND);
    app.plex.remove_friend(FRIEND, OWNER);
    plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    let mut second = common;
    second.extend(["--refresh".into(), refresh, "--expect-refused".into()]);
    let output = rp_run(second).await.unwrap();
    assert!(output.contains("refresh refused: invalid_grant"), "{output}");
}
both!(authlib_relying_party, authlib_relying_party);
