//! What a form did, said on the page it redirects to: every action answers with a redirect
//! (so a reload never sends the form again) carrying a one-time message in an encrypted,
//! HttpOnly cookie; the next page shows it once (`role="status"`) and removes the cookie.
//! Encrypted with the instance's key, so nobody else can make a page say something.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::escape;
use crate::state::AppState;
use crate::web::cookies;

/// How long a message waits for its page.
const LIFETIME_SECONDS: i64 = 60;

/// A redirect to `to` (303 See Other) whose page says `message` (what was done).
pub fn redirect(state: &AppState, to: &str, message: &str) -> Response {
    with_message(state, to, &format!("{DONE}{message}"))
}

/// A redirect to `to` whose page says, as an alert, why nothing was done.
pub fn refused(state: &AppState, to: &str, message: &str) -> Response {
    with_message(state, to, &format!("{REFUSED}{message}"))
}

const DONE: &str = "ok:";
const REFUSED: &str = "no:";

fn with_message(state: &AppState, to: &str, message: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    let value = state.secrets.encrypt(message);
    cookies::set_brief(&mut response, &state.settings, cookies::FLASH, &value, LIFETIME_SECONDS);
    response
}

/// The message waiting for this request's page, if any (a forged or stale cookie is none).
pub fn take(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let value = cookies::read_own(headers, &state.settings, cookies::FLASH)?;
    state.secrets.decrypt(&value).ok()
}

/// The message as the top of a page's body shows it: what was done (a status), or why not (an
/// alert).
pub fn html(message: &str) -> String {
    match message.strip_prefix(REFUSED) {
        Some(refusal) => format!("<div class=\"flash alert\" role=\"alert\"><p>{}</p></div>", escape(refusal)),
        None => format!(
            "<div class=\"flash\" role=\"status\"><p>{}</p></div>",
            escape(message.strip_prefix(DONE).unwrap_or(message))
        ),
    }
}

/// Removes the message cookie once its page is answered.
pub fn clear(state: &AppState, response: &mut Response) {
    cookies::clear(response, &state.settings, cookies::FLASH);
}
