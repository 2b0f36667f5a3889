//! plexid's cookies: the session (HttpOnly), its CSRF token (readable by plexid's own pages,
//! which send it back in `X-CSRFToken`), and a sign-in waiting for a username (HttpOnly). All are
//! `SameSite=Lax`, `Path=/`, and `Secure` when plexid is served over HTTPS; then their names also
//! carry the `__Host-` prefix, so browsers take them only from plexid's own host (a sibling host
//! under the same domain cannot plant one).

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use cookie::{Cookie, SameSite};

use crate::config::Settings;
use crate::service::sessions::Started;

pub const SESSION: &str = "plexid_session";
pub const CSRF: &str = "plexid_csrf";
pub const PENDING: &str = "plexid_pending";
/// A browser someone signed in from before (HttpOnly; see `service::limits`).
pub const DEVICE: &str = "plexid_device";
/// The header cookie-authenticated writes carry the CSRF token in (Django's name).
pub const CSRF_HEADER: &str = "x-csrftoken";

/// The name of one of plexid's own cookies: `__Host-` + `base` under HTTPS.
pub fn name(settings: &Settings, base: &'static str) -> std::borrow::Cow<'static, str> {
    if settings.is_https() {
        format!("__Host-{base}").into()
    } else {
        base.into()
    }
}

/// The value of plexid's own cookie `base` (by its name under these settings), if any.
pub fn read_own(headers: &HeaderMap, settings: &Settings, base: &'static str) -> Option<String> {
    read(headers, &name(settings, base))
}

/// The value of the cookie `name` in the request, if any.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn build(
    settings: &Settings,
    name: &'static str,
    value: String,
    http_only: bool,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build((self::name(settings, name), value))
        .path("/")
        .http_only(http_only)
        .same_site(SameSite::Lax)
        .secure(settings.is_https())
        .build();
    if let Some(seconds) = max_age {
        cookie.set_max_age(cookie::time::Duration::seconds(seconds));
    }
    cookie
}

fn add(response: &mut Response, cookie: Cookie<'static>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// Sets the session and CSRF cookies of a new session (and forgets a pending sign-in).
pub fn set_session(response: &mut Response, settings: &Settings, started: &Started) {
    let max_age = Some(settings.session_lifetime.0.as_secs());
    add(response, build(settings, SESSION, started.key.clone(), true, max_age));
    add(response, build(settings, CSRF, started.csrf.clone(), false, max_age));
    let device_age = Some(crate::service::sessions::DEVICE_LIFETIME.as_secs());
    add(response, build(settings, DEVICE, started.device.clone(), true, device_age));
    clear(response, settings, PENDING);
}

/// The login-CSRF cookie of the admin token sign-in form (HttpOnly; the form carries the same
/// value, so a cross-site form cannot sign a browser in as someone else).
pub const LOGIN_CSRF: &str = "plexid_login_csrf";

/// Sets the login-CSRF cookie for an hour.
pub fn set_login_csrf(response: &mut Response, settings: &Settings, value: &str) {
    add(response, build(settings, LOGIN_CSRF, value.to_owned(), true, Some(60 * 60)));
}

/// Sets the cookie of a sign-in waiting for a username.
pub fn set_pending(response: &mut Response, settings: &Settings, key: &str) {
    add(response, build(settings, PENDING, key.to_owned(), true, Some(15 * 60)));
}

/// A message for the next page after a form's redirect (HttpOnly, encrypted: see
/// `pages::flash`).
pub const FLASH: &str = "plexid_flash";
/// A secret to show on the page a form redirects to, once (HttpOnly, encrypted, short-lived).
pub const REVEAL: &str = "plexid_reveal";

/// Sets a short-lived HttpOnly cookie (`seconds`), such as [`FLASH`] or [`REVEAL`].
pub fn set_brief(response: &mut Response, settings: &Settings, name: &'static str, value: &str, seconds: i64) {
    add(response, build(settings, name, value.to_owned(), true, Some(seconds)));
}

/// Removes a cookie from the browser.
pub fn clear(response: &mut Response, settings: &Settings, name: &'static str) {
    add(response, build(settings, name, String::new(), name != CSRF, Some(0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; plexid_session=abc; b=2"));
        assert_eq!(read(&headers, SESSION).as_deref(), Some("abc"));
        assert_eq!(read(&headers, CSRF), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_over_https() {
        let mut settings = Settings::for_database("sqlite://x");
        let cookie = build(&settings, SESSION, "k".into(), true, Some(60)).to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"),
            "{cookie}"
        );
        settings.public_url = Some("https://id.example.com".into());
        assert!(build(&settings, SESSION, "k".into(), true, None).to_string().contains("Secure"));
    }
}
