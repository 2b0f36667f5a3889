//! Slow and idle clients are cut off, and connections over the cap are refused cleanly.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp};

async fn app_with(header_timeout_ms: u64, max_connections: usize) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.header_timeout = plexid_server::config::Period(jiff::SignedDuration::from_millis(header_timeout_ms as i64));
        s.max_connections = max_connections;
    })
    .await
}

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; what it sent, or `None` if it kept it open
/// past `wait`.
pub async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), wait: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + wait;
    loop {
        let mut buffer = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_cut_off() {
    let app = app_with(500, 4096).await;
    let mut streams = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(address(&app)).await.unwrap();
        stream.write_all(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        streams.push(stream);
    }
    let started = Instant::now();
    for stream in &mut streams {
        assert!(closed_within(stream, Duration::from_secs(5)).await.is_some(), "a slow client was kept");
    }
    assert!(started.elapsed() < Duration::from_secs(3), "closed after the header timeout: {:?}", started.elapsed());
    // The server still answers.
    assert_eq!(reqwest::get(format!("{}/-/health/live/", app.base)).await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let app = app_with(500, 4096).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream.write_all(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await.is_some(), "the idle connection was kept");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_cleanly() {
    let app = app_with(5_000, 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(address(&app)).await.unwrap();
        stream.write_all(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = TcpStream::connect(address(&app)).await.unwrap();
    extra.write_all(b"GET /-/health/live/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = closed_within(&mut extra, Duration::from_secs(3)).await.expect("refused and closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 1"), "{answer}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reqwest::get(format!("{}/-/health/live/", app.base)).await.unwrap().status(), 200, "room again");
}
