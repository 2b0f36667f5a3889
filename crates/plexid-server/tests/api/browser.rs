//! The login page in a real browser (headless Chromium through ChromeDriver) against
//! `fake-plex` (its app page on another origin than its API, as app.plex.tv): the Plex window
//! opened by the click, the full-page fallback when popups are blocked (D20), a refusal shown on
//! the page, passing errors while polling the PIN, a Plex window closed without approving (and
//! the one-click retry), the account page, and nothing loaded from outside plexid and the Plex
//! stand-in.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::login::{FRIEND, MEMBER, STRANGER};
use crate::process::Group;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
pub const WAIT: Duration = Duration::from_secs(20);

/// A ChromeDriver process, stopped with the browsers it started when dropped.
pub struct Driver {
    _group: Group,
    port: u16,
}

impl Driver {
    pub fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser tests need Debian's chromium and chromium-driver (scripts/test installs them)"
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let group = Group::spawn(
            Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()),
        )
        .expect("chromedriver starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not start listening");
            std::thread::yield_now();
        }
        Driver { _group: group, port }
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
    let popup = wait_for_other_window(browser, &main).await;
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
    wait_for_status(&browser, "does not have access").await;
    assert!(browser.find(Locator::Id("plex-retry")).await.unwrap().is_displayed().await.unwrap());
    browser.close().await.unwrap();

    // 4. plex.tv fails while the page polls the PIN: the page keeps polling and signs in.
    app.plex.fault_times("/api/v2/pins/", fake_plex::Fault::Status(503), 2);
    app.plex.fault_times("/api/v2/pins/", fake_plex::Fault::RateLimited { retry_after_secs: None }, 1);
    let browser = driver.browser().await;
    browser.goto(&login).await.unwrap();
    approve_in_plex_window(&browser, "plex", "member").await;
    wait_for_url(&browser, "/if/user/").await;
    assert_eq!(text_of(&browser, "h1").await, "member");
    browser.close().await.unwrap();

    // 5. The Plex window closed without approving: the page says so and offers a retry, which
    //    opens Plex again in one click.
    let browser = driver.browser().await;
    browser.goto(&login).await.unwrap();
    let main = browser.window().await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("plex-plex")).await.unwrap().click().await.unwrap();
    let popup = wait_for_other_window(&browser, &main).await;
    browser.switch_to_window(popup).await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("approve-member")).await.unwrap();
    browser.close_window().await.unwrap();
    browser.switch_to_window(main.clone()).await.unwrap();
    wait_for_status(&browser, "The Plex window was closed").await;
    let retry = browser.find(Locator::Id("plex-retry")).await.unwrap();
    assert!(retry.is_displayed().await.unwrap());
    retry.click().await.unwrap();
    let popup = wait_for_other_window(&browser, &main).await;
    browser.switch_to_window(popup).await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("approve-member")).await.unwrap().click().await.unwrap();
    browser.switch_to_window(main).await.unwrap();
    wait_for_url(&browser, "/if/user/").await;
    browser.close().await.unwrap();

    let users = app.count("/api/v3/sources/user_connections/plex/").await;
    assert_eq!(users, 2, "member and friend; nothing for the stranger");
    let _ = (MEMBER, FRIEND, STRANGER);
}

/// Waits until the login page's status says `needle`.
async fn wait_for_status(browser: &Client, needle: &str) {
    let started = Instant::now();
    loop {
        let status = text_of(browser, "#plex-status").await;
        if status.contains(needle) {
            return;
        }
        assert!(started.elapsed() < WAIT, "the page never said {needle:?}: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for a window other than `main` (the Plex window) to open.
async fn wait_for_other_window(browser: &Client, main: &fantoccini::wd::WindowHandle) -> fantoccini::wd::WindowHandle {
    let started = Instant::now();
    loop {
        if let Some(w) = browser.windows().await.unwrap().into_iter().find(|w| w != main) {
            return w;
        }
        assert!(started.elapsed() < WAIT, "no Plex window opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The basics of an accessible page, checked in the browser: one `h1`, every visible form
/// control labelled, no positive `tabindex`, every button named, a skip link first in the
/// keyboard order, and Tab moving focus to it.
pub async fn accessibility_basics(browser: &Client) {
    let problems = browser
        .execute(
            r#"var problems = [];
            if (document.querySelectorAll("h1").length !== 1) problems.push("h1 count " + document.querySelectorAll("h1").length);
            document.querySelectorAll("input, select, textarea").forEach(function (e) {
              if (e.type === "hidden") return;
              if (!(e.labels && e.labels.length) && !e.getAttribute("aria-label")) problems.push("unlabelled " + (e.id || e.name));
            });
            document.querySelectorAll("[tabindex]").forEach(function (e) { if (e.tabIndex > 0) problems.push("tabindex " + e.outerHTML.slice(0, 60)); });
            document.querySelectorAll("button, a").forEach(function (e) {
              if (!e.hidden && !e.textContent.trim() && !e.getAttribute("aria-label")) problems.push("unnamed " + e.outerHTML.slice(0, 60));
            });
            return problems;"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(problems, json!([]), "accessibility basics");
    browser.execute("document.activeElement && document.activeElement.blur();", vec![]).await.unwrap();
    let body = browser.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&fantoccini::key::Key::Tab.to_string()).await.unwrap();
    let focused = browser.execute("return document.activeElement.textContent;", vec![]).await.unwrap();
    assert_eq!(focused, json!("Skip to content"), "Tab reaches the skip link first");
    browser.execute("document.activeElement.blur();", vec![]).await.unwrap();
}

/// The page fits a phone's width (390 CSS pixels): nothing makes the whole page scroll
/// sideways (wide tables scroll inside their own box). The window is restored afterwards.
pub async fn fits_a_phone(browser: &Client) {
    browser.set_window_size(390, 844).await.unwrap();
    let overflow = browser
        .execute(
            r#"var w = document.documentElement.clientWidth, wide = [];
            document.querySelectorAll("body *").forEach(function (e) {
              if (e.getBoundingClientRect().right > w + 1 && !e.closest(".table")) wide.push(e.tagName + "." + e.className);
            });
            return [document.documentElement.scrollWidth - w, wide.slice(0, 5)];"#,
            vec![],
        )
        .await
        .unwrap();
    browser.set_window_size(1000, 800).await.unwrap();
    assert_eq!(overflow[0], json!(0), "the page scrolls sideways on a phone: {overflow}");
}

/// Saves a screenshot of the page as `docs/screenshots/NAME.png` when `PLEXID_SCREENSHOTS` names
/// the directory (how the README's pictures are made); otherwise does nothing.
pub async fn screenshot(browser: &Client, name: &str) {
    if let Ok(dir) = std::env::var("PLEXID_SCREENSHOTS") {
        let png = browser.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// An administrator creates a source in the admin pages: signs in with Plex in the form, picks
/// the server plexid lists, saves, sees the source; the pages pass the accessibility basics,
/// load nothing from elsewhere, and never contain the admin's Plex token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_creates_a_source_in_the_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.plex_accounts();
    app.plex.share_server("srv-other", crate::login::OWNER);
    app.plex_source("plex", json!({})).await;
    let driver = Driver::start();
    let plex = app.plex.url();
    let owner_token = app.plex.token_of(crate::login::OWNER).unwrap();

    // The Plex owner signs in, and is made an administrator.
    let browser = driver.browser().await;
    browser.goto(&format!("{}/if/admin/", app.base)).await.unwrap();
    wait_for_url(&browser, "/if/admin/sign-in?next=%2Fif%2Fadmin%2F").await;
    browser.find(Locator::LinkText("Sign in with Plex")).await.unwrap().click().await.unwrap();
    approve_in_plex_window(&browser, "plex", "owner").await;
    wait_for_url(&browser, "/if/admin/").await;
    assert!(browser.source().await.unwrap().contains("No administration rights"));
    let (_, supers) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    let (_, users) = app.get("/api/v3/core/users/?username=owner").await;
    let group = supers["results"][0]["pk"].as_str().unwrap().to_owned();
    let added =
        app.post(&format!("/api/v3/core/groups/{group}/add_user/"), json!({"pk": users["results"][0]["pk"]})).await;
    assert_eq!(added.0, 204);
    browser.goto(&format!("{}/if/admin/", app.base)).await.unwrap();
    assert_eq!(text_of(&browser, "h1").await, "Overview");
    screenshot(&browser, "admin-overview").await;
    accessibility_basics(&browser).await;

    // The form: Sign in with Plex lists the servers; the owned one is ticked and saved.
    browser.goto(&format!("{}/if/admin/sources/new", app.base)).await.unwrap();
    accessibility_basics(&browser).await;
    browser.find(Locator::Id("name")).await.unwrap().send_keys("Browser source").await.unwrap();
    browser.find(Locator::Id("slug")).await.unwrap().send_keys("browser").await.unwrap();
    approve_in_plex_window(&browser, "signin", "owner").await;
    let started = Instant::now();
    loop {
        let status = text_of(&browser, "#server-status").await;
        if status == "2 server(s) listed by Plex." {
            break;
        }
        assert!(started.elapsed() < WAIT, "no servers listed: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let labels = browser.execute("return Array.from(document.querySelectorAll('#allowed_servers-group label')).map(function (l) { return l.textContent; });", vec![]).await.unwrap();
    assert_eq!(labels, json!(["Allowed (owned)", "Other (shared with you)"]));
    browser.find(Locator::Css("input[name=allowed_servers][value=srv-allowed]")).await.unwrap().click().await.unwrap();
    screenshot(&browser, "admin-source-form").await;
    loaded_only_from(&browser, &[&app.base, &plex]).await;
    browser.find(Locator::Css("#source-form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_url(&browser, "/if/admin/sources/browser/").await;
    assert_eq!(text_of(&browser, "h1").await, "Browser source");
    screenshot(&browser, "admin-source").await;
    accessibility_basics(&browser).await;
    assert!(!browser.source().await.unwrap().contains(&owner_token), "the stored token is never shown");
    let (_, source) = app.get("/api/v3/sources/plex/browser/").await;
    assert_eq!(source["allowed_servers"], json!(["srv-allowed"]));
    let stored = app.store.read().source_by_slug("browser").await.unwrap().unwrap();
    assert_eq!(
        app.secrets.decrypt(&stored.plex_token).unwrap(),
        owner_token,
        "the token from the Plex sign-in was stored"
    );

    // The list, and the delete confirmation.
    browser.goto(&format!("{}/if/admin/sources/", app.base)).await.unwrap();
    screenshot(&browser, "admin-sources").await;
    accessibility_basics(&browser).await;
    browser.goto(&format!("{}/if/admin/sources/browser/delete", app.base)).await.unwrap();
    accessibility_basics(&browser).await;
    browser.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_url(&browser, "/if/admin/sources/").await;
    assert_eq!(app.get("/api/v3/sources/plex/browser/").await.0, 404);

    // A property mapping, tested against the sample Plex user.
    browser.goto(&format!("{}/if/admin/mappings/new", app.base)).await.unwrap();
    accessibility_basics(&browser).await;
    browser.find(Locator::Id("name")).await.unwrap().send_keys("Shout").await.unwrap();
    let expression = browser.find(Locator::Id("expression")).await.unwrap();
    expression.clear().await.unwrap();
    expression.send_keys("return {\"name\": info[\"username\"].upper()}").await.unwrap();
    browser.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("test")).await.unwrap();
    browser.find(Locator::Css("section[aria-labelledby=test] button")).await.unwrap().click().await.unwrap();
    assert!(text_of(&browser, "#test-result pre").await.contains("\"MEMBER\""));
    // An unsaved edit in the editor is what Run tests.
    let expression = browser.find(Locator::Id("expression")).await.unwrap();
    expression.clear().await.unwrap();
    expression.send_keys("return {\"name\": info[\"username\"].upper() + \"!\"}").await.unwrap();
    browser.find(Locator::Css("section[aria-labelledby=test] button")).await.unwrap().click().await.unwrap();
    let started = Instant::now();
    // The old result stays until the answer replaces the page: read it without insisting.
    loop {
        let result = match browser.find(Locator::Css("#test-result pre")).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if result.contains("\"MEMBER!\"") {
            break;
        }
        assert!(started.elapsed() < WAIT, "the unsaved expression was tested");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.execute("document.getElementById('test').scrollIntoView();", vec![]).await.unwrap();
    screenshot(&browser, "admin-mapping").await;
    accessibility_basics(&browser).await;

    // A member's session, ended from their page.
    let mut member = app.sign_in("plex", crate::login::MEMBER).await;
    let (_, users) = app.get("/api/v3/core/users/?username=member").await;
    browser.goto(&format!("{}/if/admin/users/{}/", app.base, users["results"][0]["pk"])).await.unwrap();
    assert!(text_of(&browser, "section[aria-labelledby=plex] tbody").await.contains("member of srv-allowed"));
    screenshot(&browser, "admin-user").await;
    accessibility_basics(&browser).await;
    browser.find(Locator::Css("section[aria-labelledby=sessions] tbody button")).await.unwrap().click().await.unwrap();
    // The page stays the same, so wait for the form's answer: the session ends.
    let started = Instant::now();
    while app.me(&mut member).await.is_some() {
        assert!(started.elapsed() < WAIT, "the member's session was ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.wait().at_most(WAIT).for_element(Locator::Id("sessions")).await.unwrap();

    // The audit log and the API tokens.
    browser.goto(&format!("{}/if/admin/events/?action=login", app.base)).await.unwrap();
    accessibility_basics(&browser).await;
    browser.goto(&format!("{}/if/admin/tokens/new", app.base)).await.unwrap();
    accessibility_basics(&browser).await;

    // An application behind forward-auth, with the snippets to copy.
    browser.goto(&format!("{}/if/admin/applications/new", app.base)).await.unwrap();
    accessibility_basics(&browser).await;
    browser.find(Locator::Id("name")).await.unwrap().send_keys("Tautulli").await.unwrap();
    browser.find(Locator::Id("slug")).await.unwrap().send_keys("tautulli").await.unwrap();
    browser.find(Locator::Id("external_host")).await.unwrap().send_keys("https://tautulli.example.com").await.unwrap();
    browser.find(Locator::Css("input[name=access_relationships][value=friend]")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Css("#app-form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_url(&browser, "/if/admin/applications/tautulli/").await;
    screenshot(&browser, "admin-application").await;
    accessibility_basics(&browser).await;
    assert!(text_of(&browser, "main pre code").await.contains("server_name tautulli.example.com;"));
    loaded_only_from(&browser, &[&app.base, &plex]).await;

    // The application edited: the form comes filled in; the change is saved.
    browser.goto(&format!("{}/if/admin/applications/tautulli/edit", app.base)).await.unwrap();
    accessibility_basics(&browser).await;
    let host = browser.find(Locator::Id("external_host")).await.unwrap();
    assert_eq!(host.prop("value").await.unwrap().as_deref(), Some("https://tautulli.example.com"));
    host.clear().await.unwrap();
    host.send_keys("https://stats.example.com").await.unwrap();
    browser.find(Locator::Css("#app-form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_url(&browser, "/if/admin/applications/tautulli/").await;
    assert!(text_of(&browser, "main pre code").await.contains("server_name stats.example.com;"));

    // The other sections pass the same checks.
    for path in ["groups/", "groups/new", "sessions/", "connections/user/", "connections/group/", "flows/"] {
        browser.goto(&format!("{}/if/admin/{path}", app.base)).await.unwrap();
        accessibility_basics(&browser).await;
    }
    // Usable on a phone: no page scrolls sideways.
    for path in ["", "sources/", "sources/new", "applications/tautulli/", "users/", "sessions/", "events/", "tokens/"] {
        browser.goto(&format!("{}/if/admin/{path}", app.base)).await.unwrap();
        fits_a_phone(&browser).await;
    }
    // A group made in the form, and the owner added to it by name from the keyboard.
    browser.goto(&format!("{}/if/admin/groups/new", app.base)).await.unwrap();
    browser.find(Locator::Id("name")).await.unwrap().send_keys("Family").await.unwrap();
    browser.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(&format!("owner{}", fantoccini::key::Key::Enter))
        .await
        .unwrap();
    browser.wait().at_most(WAIT).for_element(Locator::Id("members")).await.unwrap();
    screenshot(&browser, "admin-group").await;
    accessibility_basics(&browser).await;
    assert!(text_of(&browser, "#members").await.contains("owner"));
    loaded_only_from(&browser, &[&app.base, &plex]).await;
    browser.close().await.unwrap();
}
