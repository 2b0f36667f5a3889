//! Running plexid the way self-hosters do: settings that cannot be silently wrong (forward-auth
//! refused without `PLEXID_PUBLIC_URL`, `plexid check-config`), backup and restore under write
//! load.

use std::process::Command;

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;
use crate::login::Cookies;

pub const PLEXID: &str = env!("CARGO_BIN_EXE_plexid");

const NEEDS_PUBLIC_URL: &str = "Forward-auth needs plexid's public address: set PLEXID_PUBLIC_URL \
     (e.g. https://id.example.com) and restart plexid.";

/// Without a public URL, a forward-auth provider is refused in authentik's error shape and
/// nothing is written; an existing one refuses to start a sign-in (instead of redirecting to the
/// application's own host), while OpenID Connect providers are still accepted.
async fn forward_auth_needs_a_public_url(app: &TestApp) {
    app.forward_auth_app("wiki", json!({"external_host": "http://app.test"}), json!([])).await;
    let bare = app.second_instance_with(|s| s.public_url = None).await;
    let flow = app.flow_pk("default-provider-authorization-implicit-consent").await;
    let body = json!({"name": "Another", "authorization_flow": flow, "external_host": "http://other.test"});
    let (status, answer) = bare.post("/api/v3/providers/proxy/", body.clone()).await;
    assert_eq!((status.as_u16(), answer), (400, json!({"non_field_errors": [NEEDS_PUBLIC_URL]})));
    assert_eq!(app.count("/api/v3/providers/proxy/").await, 1, "nothing was written");
    let (status, answer) =
        bare.post("/api/v3/providers/oauth2/", json!({"name": "OIDC", "authorization_flow": flow})).await;
    assert_eq!(status, 201, "{answer}");

    let start = "/outpost.goauthentik.io/start?rd=%2Fpage";
    let nobody = Cookies::default();
    let (status, _) = crate::forward_auth::proxied(&bare, "app.test", start, &nobody, &[]).await;
    assert_eq!(status, 503);
    let page = reqwest::Client::new()
        .get(format!("{}{start}", bare.base))
        .header("Host", "app.test")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("PLEXID_PUBLIC_URL"), "{page}");
    let (status, headers) = crate::forward_auth::proxied(app, "app.test", start, &nobody, &[]).await;
    assert_eq!(status, 303, "{headers:?}");
    let location = headers["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{}/application/o/authorize/", app.base)), "{location}");
}
both!(forward_auth_needs_a_public_url, forward_auth_needs_a_public_url);

fn check_config(database: &str, extra_env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let output = Command::new(PLEXID)
        .arg("check-config")
        .args(args)
        .env_clear()
        .env("PLEXID_DATABASE", database)
        .env("PLEXID_BOOTSTRAP_TOKEN", "bootstrap-secret-1234")
        .env("PLEXID_SECRET_KEY", "secret-key-5678")
        .envs(extra_env.iter().copied())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// `check-config` shows each setting with its origin and never a secret, and fails while a
/// forward-auth provider exists without a public URL.
async fn check_config_tells_where_each_setting_came_from(app: &TestApp) {
    app.forward_auth_app("wiki", json!({"external_host": "http://app.test"}), json!([])).await;
    let database = app.state.settings.db.database.clone();
    let (ok, text) =
        check_config(&database, &[("PLEXID_METRICS_TOKEN", "metrics-secret-9")], &["--login-rate-limit", "5"]);
    assert!(!ok, "{text}");
    let line = |variable: &str| text.lines().find(|l| l.trim_start().starts_with(variable)).unwrap_or("").to_owned();
    assert!(
        line("PLEXID_LOGIN_RATE_LIMIT ").contains(" 5 ") && line("PLEXID_LOGIN_RATE_LIMIT ").ends_with("(flag)"),
        "{text}"
    );
    assert!(
        line("PLEXID_LISTEN ").contains("127.0.0.1:9000") && line("PLEXID_LISTEN ").ends_with("(default)"),
        "{text}"
    );
    assert!(
        line("PLEXID_BOOTSTRAP_TOKEN ").contains("(set, not shown)")
            && line("PLEXID_BOOTSTRAP_TOKEN ").ends_with("(environment)"),
        "{text}"
    );
    assert!(line("PLEXID_PUBLIC_URL ").ends_with("(not set)"), "{text}");
    assert!(line("forward-auth ").contains("BROKEN"), "{text}");
    assert!(line("metrics ").contains(" ok "), "{text}");
    for secret in ["bootstrap-secret-1234", "secret-key-5678", "metrics-secret-9"] {
        assert!(!text.contains(secret), "a secret is printed: {text}");
    }
    let (ok, text) = check_config(&database, &[("PLEXID_PUBLIC_URL", "https://id.example.com")], &[]);
    assert!(ok, "{text}");
    assert!(line_of(&text, "forward-auth ").contains(" ok ") && line_of(&text, "metrics ").contains(" off "), "{text}");
}
both!(check_config_tells_where_each_setting_came_from, check_config_tells_where_each_setting_came_from);

fn line_of(text: &str, start: &str) -> String {
    text.lines().find(|l| l.trim_start().starts_with(start)).unwrap_or("").to_owned()
}

fn plexid(args: &[&str]) -> (bool, String) {
    let output = Command::new(PLEXID).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// The group names in the database of `app`, as (writer, sequence) pairs.
async fn written(app: &TestApp) -> std::collections::BTreeSet<(usize, usize)> {
    let rows = app.store.read().fetch_all("SELECT name FROM app_group", vec![]).await.unwrap();
    rows.iter()
        .filter_map(|row| {
            let name = row.text("name").unwrap();
            let (w, n) = name.strip_prefix("load-")?.split_once('-')?;
            Some((w.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

/// `plexid backup` while four writers keep creating groups through the API: the backup holds
/// every group whose creation was acknowledged before the backup started, and each writer's
/// groups form an unbroken run (the copy is one moment, not a mix); `plexid restore` refuses to
/// overwrite a database without `--replace`, and a server on the restored database serves them.
async fn backup_under_write_load(app: &TestApp) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    const WRITERS: usize = 4;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(usize, usize)>::new()));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (stop, acked, base, token) = (stop.clone(), acked.clone(), app.base.clone(), app.token.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 5_000 {
                let response = client
                    .post(format!("{base}/api/v3/core/groups/"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("load-{w}-{n:05}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                acked.lock().unwrap().push((w, n));
                n += 1;
            }
        }));
    }
    while acked.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let dir = std::env::temp_dir().join(format!("plexid-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plexid.backup");
    let database = app.state.settings.db.database.clone();
    let before: Vec<(usize, usize)> = acked.lock().unwrap().clone();
    let (ok, text) = {
        let (database, file) = (database.clone(), file.to_string_lossy().into_owned());
        tokio::task::spawn_blocking(move || plexid(&["backup", "--database", &database, &file])).await.unwrap()
    };
    assert!(ok, "{text}");
    assert!(text.starts_with("backed up ") && !dir.join("plexid.backup.partial").exists(), "{text}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let after = acked.lock().unwrap().len();
    assert!(after > before.len(), "writes went on during the backup");

    // Restoring onto a live database needs --replace (and changes nothing without it).
    let (ok, text) = plexid(&["restore", "--database", &database, &file.to_string_lossy()]);
    assert!(!ok, "{text}");
    assert_eq!(written(app).await.len(), after, "a refused restore changed nothing");

    let restored_url = match app.state.settings.db.database.starts_with("sqlite:") {
        true => format!("sqlite://{}", dir.join("restored.db").display()),
        false => {
            // The original is lost: its schema is dropped, then the backup brings it back.
            let schema = plexid_store::backup::pg_target(&database).unwrap().schema.unwrap();
            app.sql(&format!("DROP SCHEMA {schema} CASCADE")).await;
            database.clone()
        }
    };
    let (ok, text) = plexid(&["restore", "--database", &restored_url, &file.to_string_lossy()]);
    assert!(ok, "{text}");
    let restored = app.second_instance_with(|s| s.db.database = restored_url.clone()).await;
    let found = written(&restored).await;
    for pair in &before {
        assert!(found.contains(pair), "acknowledged before the backup but missing: {pair:?}");
    }
    for w in 0..WRITERS {
        let mine: Vec<usize> = found.iter().filter(|(x, _)| *x == w).map(|(_, n)| *n).collect();
        assert_eq!(mine, (0..mine.len()).collect::<Vec<_>>(), "writer {w}'s groups have a gap");
    }
    let (status, groups) = restored.get("/api/v3/core/groups/?search=load-0-00000").await;
    assert_eq!((status.as_u16(), groups["pagination"]["count"].as_u64()), (200, Some(1)), "{groups}");
    std::fs::remove_dir_all(&dir).ok();
}
both!(backup_under_write_load, backup_under_write_load);

/// The container image, built from this plexid binary on `scratch` with podman (no registry):
/// it answers its health checks (podman runs the image's HEALTHCHECK), serves the login page and
/// the API, runs as uid 65532, and keeps its SQLite file in the /data volume
/// (`scripts/container-check`; docs/deploy.md says what this machine needs for podman).
#[test]
fn the_container_image_serves() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/container-check");
    let output = Command::new(script).arg(PLEXID).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("container-check: passed"), "{text}");
    for checked in
        ["live and ready answer 200", "login page: served", "HEALTHCHECK: healthy", "(not root)", "plexid.db"]
    {
        assert!(text.contains(checked), "{checked}: {text}");
    }
}
