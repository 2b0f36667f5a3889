//! The `plexid` binary as a user runs it: serve (and stop on SIGTERM), migrate, create-token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{fresh_database, Backend};

const PLEXID: &str = env!("CARGO_BIN_EXE_plexid");

async fn serve_and_stop(backend: Backend) {
    let (database, file) = fresh_database(backend).await;
    let migrated = Command::new(PLEXID).args(["migrate", "--database", &database]).output().unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    assert_eq!(String::from_utf8_lossy(&migrated.stdout).trim(), "applied 2 migration(s)");
    let created = Command::new(PLEXID)
        .args(["create-token", "--database", &database])
        .env("PLEXID_SECRET_KEY", "k")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 64);

    let mut child = Command::new(PLEXID)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PLEXID_DATABASE", &database)
        .env("PLEXID_SECRET_KEY", "k")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("plexid listening on ").unwrap().split(' ').next().unwrap().to_owned();
    assert!(lines.next().unwrap().unwrap().contains("create-token"), "says how to get a token");
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{url}/-/health/ready/")).send().await.unwrap().status(), 200);
    let listed = client.get(format!("{url}/api/v3/sources/plex/")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(listed.status(), 200, "the token from create-token works");

    // A token created by another process while the server runs works at once (the server's
    // read cache notices commits from other processes).
    let fresh = Command::new(PLEXID)
        .args(["create-token", "--database", &database])
        .env("PLEXID_SECRET_KEY", "k")
        .output()
        .unwrap();
    assert!(fresh.status.success(), "{fresh:?}");
    let fresh = String::from_utf8(fresh.stdout).unwrap().trim().to_owned();
    let listed = client.get(format!("{url}/api/v3/sources/plex/")).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(listed.status(), 200);

    let started = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "plexid did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(path) = file {
        let _ = std::fs::remove_file(path);
    }
}

#[tokio::test]
async fn serve_and_stop_sqlite() {
    serve_and_stop(Backend::Sqlite).await;
}

#[tokio::test]
async fn serve_and_stop_postgres() {
    serve_and_stop(Backend::Postgres).await;
}

#[test]
fn bad_database_urls_are_refused_clearly() {
    let output = Command::new(PLEXID).args(["migrate", "--database", "mysql://u:secret@h/db"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(!stderr.contains("secret"), "passwords are not printed: {stderr}");
}

/// `plexid demo` as the README says, with the most verbose logs: the demo accounts sign in or
/// are refused, and no Plex token appears in anything it prints.
#[tokio::test]
async fn the_demo_signs_people_in_and_logs_no_token() {
    let (database, file) = fresh_database(Backend::Sqlite).await;
    let mut child = Command::new(PLEXID)
        .args(["demo", "--listen", "127.0.0.1:0", "--plex-listen", "127.0.0.1:0", "--database", &database])
        .env("PLEXID_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split("open ").nth(1).unwrap().split('/').take(3).collect::<Vec<_>>().join("/");
    let rest: Vec<String> = lines.by_ref().take(7).map(Result::unwrap).collect();
    assert!(rest.iter().any(|l| l.contains("demo-stranger")), "{rest:?}");
    let client = reqwest::Client::new();
    let redeem = |token: &'static str| {
        client
            .post(format!("{url}/api/v3/sources/plex/redeem_token/?slug=plex"))
            .header("Content-Type", "application/json")
            .body(format!("{{\"plex_token\": \"{token}\"}}"))
            .send()
    };
    for (token, status) in [
        ("demo-owner-token", 200),
        ("demo-friend-token", 200),
        ("demo-member-token", 200),
        ("demo-stranger-token", 403),
        ("not-a-token", 403),
    ] {
        let answer = redeem(token).await.unwrap();
        assert_eq!(answer.status(), status, "{token}");
        let body = answer.text().await.unwrap();
        assert!(!body.contains("-token"), "{body}");
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    let logs = logs.join().unwrap();
    assert!(logs.contains("plex.tv") || logs.contains("redeem_token") || logs.len() > 1000, "trace logs were written");
    for token in ["demo-owner-token", "demo-friend-token", "demo-member-token", "demo-stranger-token"] {
        assert!(!logs.contains(token), "{token} in the logs");
    }
    if let Some(path) = file {
        let _ = std::fs::remove_file(path);
    }
}
