//! The login page in a real browser (headless Chromium through ChromeDriver) against
//! `fake-plex`: the Plex window opened by the click, the full-page fallback when popups are
//! blocked (D20), a refusal shown on the page, the account page, and nothing loaded from outside
//! plexid and the Plex stand-in.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::login::{FRIEND, MEMBER, STRANGER};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
pub const WAIT: Duration = Duration::from_secs(20);

/// A ChromeDriver process, stopped when dropped.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser tests need Debian's chromium and chromium-driver (scripts/test installs them)"
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not start listening");
            std::thread::yield_now();
        }
        Driver { child, port }
    }

    pub async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,800", "--disable-dev-shm-usage"]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn wait_for_url(browser: &Client, ending: &str) {
    let started = Instant::now();
    loop {
        let url = browser.current_url().await.unwrap();
        if url.as_str().ends_with(ending) {
            return;
        }
        assert!(started.elapsed() < WAIT, "still at {url}, waiting for …{ending}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On a login page: clicks the source's button and approves `account` in the Plex window that
/// opens, then comes back to the page.
pub async fn approve_in_plex_window(browser: &Client, source: &str, account: &str) {
    let main = browser.window().await.unwrap();
    let button = browser.wait().at_most(WAIT).for_element(Locator::Id(&format!("plex-{source}"))).await.unwrap();
    button.click().await.unwrap();
    let started = Instant::now();
    let popup = loop {
        let windows = browser.windows().await.unwrap();
        if let Some(w) = windows.into_iter().find(|w| *w != main) {
            break w;
        }
        assert!(started.elapsed() < WAIT, "no Plex window opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    browser.switch_to_window(popup).await.unwrap();
    let approve = browser.wait().at_most(WAIT).for_element(Locator::Id(&format!("approve-{account}"))).await.unwrap();
    approve.click().await.unwrap();
    browser.switch_to_window(main).await.unwrap();
}

pub async fn text_of(browser: &Client, css: &str) -> String {
    browser.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Every resource the page loaded came from plexid or the Plex stand-in.
async fn loaded_only_from(browser: &Client, origins: &[&str]) {
    let loaded = browser
        .execute("return performance.getEntriesByType('resource').map(function (e) { return e.name; });", vec![])
        .await
        .unwrap();
    for url in loaded.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(origins.iter().any(|o| url.starts_with(o)), "loaded from outside: {url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_the_login_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let driver = Driver::start();
    let plex = app.plex.url();
    let login = format!("{}/if/flow/default-source-authentication/", app.base);

    // 1. The Plex window opens from the click; the member approves there.
    let browser = driver.browser().await;
    browser.goto(&login).await.unwrap();
    let retry = browser.wait().at_most(WAIT).for_element(Locator::Id("plex-retry")).await.unwrap();
    assert!(!retry.is_displayed().await.unwrap(), "no retry button before anything failed");
    approve_in_plex_window(&browser, "plex", "member").await;
    wait_for_url(&browser, "/if/user/").await;
    assert_eq!(text_of(&browser, "h1").await, "member");
    loaded_only_from(&browser, &[&app.base, &plex]).await;
    browser.close().await.unwrap();

    // 2. Popups blocked: the page goes to Plex and comes back through forwardUrl.
    let browser = driver.browser().await;
    browser.goto(&login).await.unwrap();
    browser.execute("window.open = function () { return null; };", vec![]).await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("plex-plex")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("approve-friend")).await.unwrap().click().await.unwrap();
    wait_for_url(&browser, "/if/user/").await;
    assert_eq!(text_of(&browser, "h1").await, "friend");
    browser.close().await.unwrap();

    // 3. A stranger is told why, with a retry button.
    let browser = driver.browser().await;
    browser.goto(&login).await.unwrap();
    browser.execute("window.open = function () { return null; };", vec![]).await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("plex-plex")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("approve-stranger")).await.unwrap().click().await.unwrap();
    let started = Instant::now();
    loop {
        let status = text_of(&browser, "#plex-status").await;
        if status.contains("does not have access") {
            break;
        }
        assert!(started.elapsed() < WAIT, "no refusal shown: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(browser.find(Locator::Id("plex-retry")).await.unwrap().is_displayed().await.unwrap());
    browser.close().await.unwrap();

    let users = app.count("/api/v3/sources/user_connections/plex/").await;
    assert_eq!(users, 2, "member and friend; nothing for the stranger");
    let _ = (MEMBER, FRIEND, STRANGER);
}
