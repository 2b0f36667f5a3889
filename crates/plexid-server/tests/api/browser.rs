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

    // 2b. Back from Plex's page without approving: the page notices (not stuck on "Opening
    // Plex…", nor after a reload), and "Try again" starts again in one click.
    let browser = driver.browser().await;
    browser.goto(&login).await.unwrap();
    browser.execute("window.open = function () { return null; };", vec![]).await.unwrap();
    click(&browser, "#plex-plex").await;
    browser.wait().at_most(WAIT).for_element(Locator::Id("approve-friend")).await.unwrap();
    browser.back().await.unwrap();
    wait_text(&browser, "#plex-status", "was not approved").await;
    assert!(browser.find(Locator::Id("plex-retry")).await.unwrap().is_displayed().await.unwrap());
    browser.refresh().await.unwrap();
    let status = text_of(&browser, "#plex-status").await;
    let enabled = browser.find(Locator::Id("plex-plex")).await.unwrap().is_enabled().await.unwrap();
    assert_eq!((status.as_str(), enabled), ("", true), "a reload starts afresh");
    browser.execute("window.open = function () { return null; };", vec![]).await.unwrap();
    click(&browser, "#plex-plex").await;
    browser.wait().at_most(WAIT).for_element(Locator::Id("approve-friend")).await.unwrap();
    browser.back().await.unwrap();
    wait_text(&browser, "#plex-status", "was not approved").await;
    browser.execute("window.open = function () { return null; };", vec![]).await.unwrap();
    click(&browser, "#plex-retry").await;
    click(&browser, "#approve-friend").await;
    wait_for_url(&browser, "/if/user/").await;
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
    phone_width(browser).await;
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

/// Makes the window a phone's (390 CSS pixels wide) and waits until the page is laid out so.
async fn phone_width(browser: &Client) {
    browser.set_window_size(390, 844).await.unwrap();
    let started = Instant::now();
    loop {
        let width = browser.execute("return document.documentElement.clientWidth;", vec![]).await.unwrap();
        if width.as_u64().is_some_and(|w| w <= 390) {
            break;
        }
        assert!(started.elapsed() < WAIT, "the window did not narrow: {width}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

/// Waits until the text of `css` contains `wanted`; returns it.
pub async fn wait_text(browser: &Client, css: &str, wanted: &str) -> String {
    let started = Instant::now();
    loop {
        let text = match browser.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(wanted) {
            return text;
        }
        assert!(started.elapsed() < WAIT, "{css} says {text:?}, waiting for {wanted:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(browser: &Client, css: &str) {
    let found = browser.wait().at_most(WAIT).for_element(Locator::Css(css)).await;
    let url = browser.current_url().await.unwrap();
    found.unwrap_or_else(|e| panic!("no {css} at {url}: {e}")).click().await.unwrap();
}

async fn fill(browser: &Client, id: &str, text: &str) {
    let found = browser.wait().at_most(WAIT).for_element(Locator::Id(id)).await;
    let url = browser.current_url().await.unwrap();
    let field = found.unwrap_or_else(|e| panic!("no #{id} at {url}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn value_of(browser: &Client, id: &str) -> String {
    browser.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default()
}

/// The page at a phone's width (390 CSS pixels): nothing scrolls the page sideways, every
/// visible button, field and navigation link is at least 44 pixels tall (a finger's tap), and
/// the admin navigation is folded behind its Menu button until that is pressed.
pub async fn works_on_a_phone(browser: &Client) {
    fits_a_phone(browser).await;
    phone_width(browser).await;
    let small = browser
        .execute(
            r#"var small = [];
            document.querySelectorAll("button, a.button, input, select, #admin-nav a, .site-bar a").forEach(function (e) {
              var r = e.getBoundingClientRect(), style = getComputedStyle(e);
              if (e.type === "hidden" || e.type === "checkbox" || r.height === 0 || style.visibility === "hidden") return;
              if (r.height < 43.5) small.push((e.id || e.textContent.trim() || e.name) + ": " + r.height);
            });
            var nav = document.getElementById("admin-nav");
            var folded = nav ? [nav.querySelector("ul").getBoundingClientRect().height === 0,
                                document.getElementById("menu-toggle").getBoundingClientRect().height > 0] : [true, true];
            return [small, folded];"#,
            vec![],
        )
        .await
        .unwrap();
    if browser.find(Locator::Id("menu-toggle")).await.is_ok() {
        click(browser, "#menu-toggle").await;
        let open = browser
            .execute("return document.querySelector('#admin-nav ul').getBoundingClientRect().height > 0;", vec![])
            .await
            .unwrap();
        assert_eq!(open, json!(true), "the Menu button opens the navigation");
        click(browser, "#menu-toggle").await;
    }
    browser.set_window_size(1000, 800).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(small[0], json!([]), "tap targets under 44 px on a phone at {url}");
    assert_eq!(small[1], json!([true, true]), "the admin navigation is folded behind Menu on a phone");
}

/// Clicks the Copy button of `id` with the clipboard replaced by a recorder; returns what was
/// copied and what the button said.
async fn copy(browser: &Client, id: &str) -> (String, String) {
    browser
        .execute(
            "window.copied = null; navigator.clipboard.writeText = function (t) { window.copied = t; return Promise.resolve(); };",
            vec![],
        )
        .await
        .unwrap();
    click(browser, &format!("button[data-copy={id}]")).await;
    let said = wait_text(browser, &format!("button[data-copy={id}]"), "Copied").await;
    let copied = browser.execute("return window.copied;", vec![]).await.unwrap();
    (copied.as_str().unwrap_or_default().to_owned(), said)
}

/// The administrator's path, from nothing: the bootstrap token opens the admin pages; the first
/// source is made with the Plex sign-in (kept across a refused submit, the slug following the
/// name, the servers by name) and makes its Plex owner an administrator, who then signs in with
/// Plex; making a member an administrator is asked first and never pre-selected; taking the last
/// administrator's rights is refused; an application admits a group and a named server, with
/// its nginx snippet copied by its Copy button; every action says what it did; a mapping's
/// syntax error names the editor's line; a token's key page is not the form's address; every
/// page passes the accessibility basics and works on a phone. The screenshots of the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_path() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.plex_accounts();
    app.plex.share_server("srv-other", crate::login::OWNER);
    let driver = Driver::start();
    let plex = app.plex.url();
    let owner_token = app.plex.token_of(crate::login::OWNER).unwrap();
    let base = &app.base;

    // 1. No source yet: the administrator signs in with the bootstrap token.
    let browser = driver.browser().await;
    browser.goto(&format!("{base}/if/admin/")).await.unwrap();
    wait_for_url(&browser, "/if/admin/sign-in?next=%2Fif%2Fadmin%2F").await;
    fill(&browser, "token", &app.token).await;
    click(&browser, "main form button[type=submit]").await;
    wait_for_url(&browser, "/if/admin/").await;
    assert_eq!(text_of(&browser, "h1").await, "Overview");

    // 2. The first source: the slug follows the name; the owner is made an administrator
    // (ticked by default); a refused submit keeps the Plex sign-in and the listed servers.
    browser.goto(&format!("{base}/if/admin/sources/new")).await.unwrap();
    accessibility_basics(&browser).await;
    fill(&browser, "name", "Plex at home").await;
    assert_eq!(value_of(&browser, "slug").await, "plex-at-home", "the slug follows the name");
    let owner_box = browser.find(Locator::Id("owner_becomes_admin")).await.unwrap();
    assert_eq!(owner_box.prop("checked").await.unwrap().as_deref(), Some("true"));
    approve_in_plex_window(&browser, "signin", "owner").await;
    wait_text(&browser, "#server-status", "2 servers listed by Plex.").await;
    let labels = browser.execute("return Array.from(document.querySelectorAll('#allowed_servers-group label')).map(function (l) { return l.textContent; });", vec![]).await.unwrap();
    assert_eq!(labels, json!(["Allowed (owned)", "Other (shared with you)"]));
    click(&browser, "input[name=allowed_servers][value=srv-allowed]").await;
    fill(&browser, "slug", "not a slug!").await;
    screenshot(&browser, "admin-source-form").await;
    loaded_only_from(&browser, &[base, &plex]).await;
    click(&browser, "#source-form button[type=submit]").await;
    wait_text(&browser, "#slug-errors", "Enter a valid").await;
    assert_eq!(value_of(&browser, "plex_token").await, owner_token, "the Plex sign-in is kept");
    assert!(text_of(&browser, "#plex-status").await.contains("kept from your last try"));
    let ticked = browser.find(Locator::Css("input[name=allowed_servers][value=srv-allowed]")).await.unwrap();
    assert_eq!(ticked.prop("checked").await.unwrap().as_deref(), Some("true"), "the servers too");
    fill(&browser, "slug", "plex").await;
    click(&browser, "#source-form button[type=submit]").await;
    wait_for_url(&browser, "/if/admin/sources/plex/").await;
    assert!(text_of(&browser, ".flash").await.contains("Created the Plex source Plex at home."));
    assert_eq!(text_of(&browser, "#allowed-servers").await, "Allowed", "the server by name");
    assert!(!browser.source().await.unwrap().contains(&owner_token), "the stored token is never shown");
    screenshot(&browser, "admin-source").await;
    accessibility_basics(&browser).await;

    // 3. Signed out, the owner signs in with Plex: an administrator now.
    click(&browser, ".admin-bar form button[type=submit]").await;
    wait_text(&browser, ".flash", "You are signed out.").await;
    browser.goto(&format!("{base}/if/admin/")).await.unwrap();
    click(&browser, "main a.button").await;
    approve_in_plex_window(&browser, "plex", "owner").await;
    wait_for_url(&browser, "/if/admin/").await;
    assert_eq!(text_of(&browser, "h1").await, "Overview");
    screenshot(&browser, "admin-overview").await;
    accessibility_basics(&browser).await;

    // 4. A member's page: "Add to a group" starts on no group; the administrators group is
    // asked first, and Cancel changes nothing.
    let mut member = app.sign_in("plex", crate::login::MEMBER).await;
    let (_, users) = app.get("/api/v3/core/users/?username=member").await;
    let member_page = format!("{base}/if/admin/users/{}/", users["results"][0]["pk"]);
    browser.goto(&member_page).await.unwrap();
    assert!(text_of(&browser, "section[aria-labelledby=plex] tbody").await.contains("member of Allowed"));
    let chosen = browser.execute("return document.getElementById('group').value;", vec![]).await.unwrap();
    assert_eq!(chosen, json!(""), "no group is pre-selected");
    screenshot(&browser, "admin-user").await;
    accessibility_basics(&browser).await;
    browser.execute("var s = document.getElementById('group'); s.value = Array.from(s.options).find(function (o) { return o.text.indexOf('authentik Admins') === 0; }).value;", vec![]).await.unwrap();
    click(&browser, "section[aria-labelledby=groups] form button[type=submit]").await;
    wait_text(&browser, "h1", "Make member an administrator?").await;
    accessibility_basics(&browser).await;
    browser.find(Locator::LinkText("Cancel")).await.unwrap().click().await.unwrap();
    wait_for_url(&browser, &member_page[base.len()..]).await;
    let me = app.browser(&mut member, reqwest::Method::GET, "/api/v3/core/users/me/", None, false).await;
    assert_eq!(me.body["user"]["is_superuser"], false, "cancelled: not an administrator");

    // 5. The last administrator: akadmin's rights go (asked, confirmed), the owner's own cannot.
    // (akadmin's token is the test's; the owner is looked up while it may still.)
    let (_, admins) = app.get("/api/v3/core/users/?username=akadmin").await;
    let (_, owners) = app.get("/api/v3/core/users/?username=owner").await;
    browser.goto(&format!("{base}/if/admin/users/{}/", admins["results"][0]["pk"])).await.unwrap();
    click(&browser, "#memberships form button").await;
    wait_text(&browser, "h1", "Remove akadmin's administration rights?").await;
    click(&browser, "#delete-form button[type=submit]").await;
    wait_text(&browser, ".flash", "Removed akadmin from authentik Admins").await;
    browser.goto(&format!("{base}/if/admin/users/{}/", owners["results"][0]["pk"])).await.unwrap();
    click(&browser, "#memberships form button").await;
    click(&browser, "#delete-form button[type=submit]").await;
    wait_text(&browser, ".flash.alert", "without an administrator").await;
    browser.goto(&format!("{base}/if/admin/")).await.unwrap();
    assert_eq!(text_of(&browser, "h1").await, "Overview", "still an administrator");

    // 6. A group, with the member added by name.
    browser.goto(&format!("{base}/if/admin/groups/new")).await.unwrap();
    fill(&browser, "name", "Family").await;
    click(&browser, "main form button[type=submit]").await;
    wait_text(&browser, ".flash", "Created the group Family.").await;
    fill(&browser, "username", &format!("member{}", fantoccini::key::Key::Enter)).await;
    wait_text(&browser, ".flash", "Added member to Family.").await;
    screenshot(&browser, "admin-group").await;
    accessibility_basics(&browser).await;

    // 7. An application behind forward-auth for the group and members of a named server; the
    // rule in words, the notice about PLEXID_PUBLIC_URL, and the nginx snippet copied.
    browser.goto(&format!("{base}/if/admin/applications/new")).await.unwrap();
    accessibility_basics(&browser).await;
    fill(&browser, "name", "Tautulli").await;
    assert_eq!(value_of(&browser, "slug").await, "tautulli");
    fill(&browser, "external_host", "https://tautulli.example.com").await;
    let server_label = text_of(&browser, "#access_servers-group label").await;
    assert_eq!(server_label, "Allowed (Plex at home)", "servers by name");
    let family = "//fieldset[@id='access_groups-group']//label[text()='Family']";
    browser.find(Locator::XPath(family)).await.unwrap().click().await.unwrap();
    click(&browser, "input[name=access_relationships][value=server_member]").await;
    click(&browser, "input[name=access_servers][value=srv-allowed]").await;
    click(&browser, "#app-form button[type=submit]").await;
    wait_for_url(&browser, "/if/admin/applications/tautulli/").await;
    assert!(text_of(&browser, ".flash").await.contains("Created the application Tautulli."));
    assert_eq!(
        text_of(&browser, "#rule-text").await,
        "Members of Allowed; members of the group Family (Plex relationships through Plex at home)."
    );
    assert!(browser.find(Locator::Id("public-url-notice")).await.is_err(), "PLEXID_PUBLIC_URL is set");
    let snippet =
        browser.execute("return document.getElementById('snippet-nginx').textContent;", vec![]).await.unwrap();
    let snippet = snippet.as_str().unwrap().to_owned();
    assert!(snippet.contains("server_name tautulli.example.com;") && snippet.contains(base.as_str()), "{snippet}");
    browser.execute("document.getElementById('setup').scrollIntoView();", vec![]).await.unwrap();
    screenshot(&browser, "admin-application").await;
    accessibility_basics(&browser).await;
    let (copied, said) = copy(&browser, "snippet-nginx").await;
    assert_eq!((copied.as_str(), said.as_str()), (snippet.as_str(), "Copied"));
    loaded_only_from(&browser, &[base, &plex]).await;

    // 8. A mapping's syntax error is reported on the line the editor shows.
    browser.goto(&format!("{base}/if/admin/mappings/new")).await.unwrap();
    fill(&browser, "name", "Broken").await;
    fill(&browser, "expression", "return {").await;
    click(&browser, "main form button[type=submit]").await;
    assert!(wait_text(&browser, "#expression-errors", "Syntax").await.contains("line 1)"));
    fill(&browser, "expression", "return {\"name\": info[\"username\"].upper()}").await;
    click(&browser, "main form button[type=submit]").await;
    wait_text(&browser, ".flash", "Created the property mapping Broken.").await;
    click(&browser, "section[aria-labelledby=test] button").await;
    assert!(wait_text(&browser, "#test-result pre", "MEMBER").await.contains("\"MEMBER\""));
    screenshot(&browser, "admin-mapping").await;

    // 9. A token: the key's page is not the form's address, and says what was done.
    browser.goto(&format!("{base}/if/admin/tokens/new")).await.unwrap();
    accessibility_basics(&browser).await;
    fill(&browser, "identifier", "ci-robot").await;
    click(&browser, "main form button[type=submit]").await;
    wait_for_url(&browser, "/if/admin/tokens/ci-robot/key").await;
    assert!(text_of(&browser, ".flash").await.contains("Created the API token ci-robot."));
    let key = text_of(&browser, "#token-key").await;
    assert_eq!((key.len(), copy(&browser, "token-key").await.0), (64, key.clone()));

    // 10. The audit log offers only what happened, and shows the changes.
    browser.goto(&format!("{base}/if/admin/events/?action=model_created")).await.unwrap();
    accessibility_basics(&browser).await;
    let options = browser
        .execute("return Array.from(document.querySelectorAll('#action option')).length;", vec![])
        .await
        .unwrap();
    assert!(options.as_u64().unwrap() < 12, "only the actions that occur: {options}");
    assert!(text_of(&browser, "main tbody").await.contains("created application Tautulli"));

    // 11. Every page on a phone; the other sections pass the accessibility basics.
    let member_path = &member_page[base.len()..];
    for path in [
        "/if/admin/",
        "/if/admin/sources/",
        "/if/admin/sources/plex/",
        "/if/admin/sources/new",
        "/if/admin/applications/",
        "/if/admin/applications/tautulli/",
        "/if/admin/applications/new",
        member_path,
        "/if/admin/users/",
        "/if/admin/groups/",
        "/if/admin/sessions/",
        "/if/admin/events/",
        "/if/admin/tokens/",
        "/if/admin/mappings/",
        "/if/admin/flows/",
        "/if/admin/connections/user/",
        "/if/admin/nowhere",
    ] {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        works_on_a_phone(&browser).await;
    }
    // An unknown admin address: a 404 inside the admin layout.
    assert_eq!(text_of(&browser, "h1").await, "Not found");
    assert!(browser.find(Locator::Id("admin-nav")).await.is_ok(), "with the admin navigation");
    for path in ["groups/new", "sessions/", "connections/group/", "flows/"] {
        browser.goto(&format!("{base}/if/admin/{path}")).await.unwrap();
        accessibility_basics(&browser).await;
    }
    browser.goto(&format!("{base}/if/admin/sources/")).await.unwrap();
    screenshot(&browser, "admin-sources").await;
    loaded_only_from(&browser, &[base, &plex]).await;
    browser.close().await.unwrap();
}

/// A Plex friend's path: signing in, their applications on the account page (with launch
/// links, only those that admit them), their browsers ("this browser" marked, another ended),
/// a second Plex account connected and disconnected while the last one stays, signing out
/// everywhere, and an application that refuses them: the sign-in page names it, the refusal
/// says what it admits, and "use another Plex account" signs the owner in and goes on to it.
/// On a desktop and a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friends_path() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.plex_accounts();
    let source = app.plex_source("plex", json!({})).await;
    app.plex_source("second", json!({})).await;
    let base = app.base.clone();
    let flow = app.flow_pk("default-provider-authorization-implicit-consent").await;
    let proxy =
        json!({"name": "Overseerr", "authorization_flow": flow, "external_host": "https://overseerr.example.com"});
    let (status, proxy) = app.post("/api/v3/providers/proxy/", proxy).await;
    assert_eq!(status, 201, "{proxy}");
    let rules = |who: &str| json!({"access_relationships": [who], "access_source": source["pk"]});
    let mut friends = rules("friend");
    friends["name"] = json!("Overseerr");
    app.application("overseerr", &proxy["pk"], friends).await;
    let callback = format!("{base}/if/user/");
    let owners = app.oauth2_provider("Owner tools", json!({"redirect_uris": callback})).await;
    let mut owner_only = rules("owner");
    owner_only["name"] = json!("Owner tools");
    app.application("owner-tools", &owners["pk"], owner_only).await;
    let driver = Driver::start();
    let browser = driver.browser().await;

    // Signed in from the login page, the friend lands on their account: My applications.
    browser.goto(&format!("{base}/")).await.unwrap();
    approve_in_plex_window(&browser, "plex", "friend").await;
    wait_for_url(&browser, "/if/user/").await;
    assert_eq!(text_of(&browser, "h1").await, "friend");
    let apps = text_of(&browser, "#my-apps").await;
    assert!(apps.contains("Overseerr") && !apps.contains("Owner tools"), "{apps}");
    let link = browser.find(Locator::LinkText("Overseerr")).await.unwrap();
    assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("https://overseerr.example.com"));
    assert!(text_of(&browser, "section[aria-labelledby=plex-h] tbody").await.contains("friend"));

    // Another browser of theirs: listed, this one marked, the other ended from here.
    let mut elsewhere = app.sign_in("plex", crate::login::FRIEND).await;
    browser.refresh().await.unwrap();
    assert!(text_of(&browser, "#this-browser").await.contains("Chrome on Linux (this browser)"));
    screenshot(&browser, "account").await;
    accessibility_basics(&browser).await;
    works_on_a_phone(&browser).await;
    click(&browser, "section[aria-labelledby=browsers-h] tr:not(#this-browser) form button").await;
    wait_text(&browser, ".flash", "That browser is signed out.").await;
    assert!(app.me(&mut elsewhere).await.is_none(), "the other browser's session ended");

    // The only Plex connection is explained, not offered; a second one connects and goes.
    assert!(text_of(&browser, "#last-connection").await.contains("how you sign in"));
    approve_in_plex_window(&browser, "second", "friend").await;
    let second = "//tr[td[text()='Plex second']]//button";
    browser.wait().at_most(WAIT).for_element(Locator::XPath(second)).await.unwrap().click().await.unwrap();
    browser.accept_alert().await.unwrap();
    wait_text(&browser, ".flash", "Your Plex account is disconnected from Plex second.").await;
    assert!(browser.find(Locator::Id("last-connection")).await.is_ok());

    // Signing out everywhere ends every browser of theirs.
    let mut elsewhere = app.sign_in("plex", crate::login::FRIEND).await;
    click(&browser, "button[name=everywhere]").await;
    wait_text(&browser, ".flash", "You are signed out of every browser and application.").await;
    assert!(app.me(&mut elsewhere).await.is_none());

    // An application for the owner only: the sign-in names it; the refusal says what it
    // admits; another Plex account (the owner's) goes straight on to it.
    let authorize = format!(
        "{base}/application/o/authorize/?response_type=code&client_id={}&redirect_uri={}&scope=openid",
        owners["client_id"].as_str().unwrap(),
        form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    browser.goto(&authorize).await.unwrap();
    assert!(text_of(&browser, "#purpose").await.contains("continue to Owner tools"));
    approve_in_plex_window(&browser, "plex", "friend").await;
    wait_text(&browser, "h1", "Access denied").await;
    assert_eq!(
        text_of(&browser, "#admits").await,
        "Owner tools admits the Plex server's owner (Plex relationships through Plex plex)."
    );
    accessibility_basics(&browser).await;
    works_on_a_phone(&browser).await;
    screenshot(&browser, "access-denied").await;
    click(&browser, "main form button[type=submit]").await;
    wait_text(&browser, "#purpose", "continue to Owner tools").await;
    approve_in_plex_window(&browser, "plex", "owner").await;
    let started = Instant::now();
    while !browser.current_url().await.unwrap().as_str().starts_with(&format!("{callback}?code=")) {
        assert!(started.elapsed() < WAIT, "the owner went on to the application");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await.unwrap();
}
