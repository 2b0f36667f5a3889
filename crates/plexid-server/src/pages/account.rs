//! `/if/user/`: the signed-in user's account: their Plex connections (connect, disconnect),
//! their sessions, and signing out.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::login::plex_buttons;
use super::{escape, page, PageError, SignedIn, LOGIN_PATH};
use crate::clock::readable;
use crate::service::{login, sessions};
use crate::state::AppState;
use crate::web::cookies;

pub fn relationship_text(r: &plexid_core::login::Relationship) -> String {
    let mut parts = Vec::new();
    if r.owner {
        parts.push("owner".to_owned());
    }
    if r.home {
        parts.push("Plex Home".to_owned());
    }
    if r.friend {
        parts.push("friend".to_owned());
    }
    if !r.servers.is_empty() {
        parts.push(format!("member of {}", r.servers.join(", ")));
    }
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join("; ")
    }
}

/// `GET /if/user/`.
pub async fn show(State(state): State<AppState>, user: Option<SignedIn>) -> Result<Response, PageError> {
    let Some(user) = user else {
        return Ok(Redirect::to(&format!("{LOGIN_PATH}?next=/if/user/")).into_response());
    };
    let account = login::account(&state, user.principal.user).await.map_err(|e| PageError::internal(&e))?;
    let rows: String = account
        .connections
        .iter()
        .map(|(c, source, access)| {
            let status = if access.revoked.is_some() { "access ended" } else { "active" };
            format!(
                "<tr><td>{source}</td><td>{id}</td><td>{rel}</td><td>{status}</td>\
                 <td><button type=\"button\" class=\"secondary\" data-disconnect=\"{pk}\" aria-label=\"Disconnect {source}\">Disconnect</button></td></tr>",
                source = escape(&source.name),
                id = escape(&c.identifier),
                rel = escape(&relationship_text(&access.relationship)),
                pk = c.id.0,
            )
        })
        .collect();
    let connected: Vec<_> = account.connections.iter().map(|(_, s, _)| s.slug.clone()).collect();
    let available: Vec<_> = login::choices(&state)
        .await
        .map_err(|e| PageError::internal(&e))?
        .into_iter()
        .filter(|c| !connected.contains(&c.slug))
        .collect();
    let connect = if available.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Connect a Plex account</h2>{}",
            plex_buttons(&state, &available, "/api/v3/sources/plex/redeem_token_authenticated/", "", "Connect")
        )
    };
    let sessions: String = account
        .sessions
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&readable(s.created)),
                escape(&s.client_ip),
                escape(&s.user_agent)
            )
        })
        .collect();
    let u = &account.user;
    let body = format!(
        "<div class=\"card\"><h1>{username}</h1><p class=\"muted\">{name} {email}</p>\
         <form class=\"inline\" method=\"post\" action=\"/if/logout/\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" class=\"secondary\">Sign out</button> \
         <button type=\"submit\" class=\"secondary\" name=\"everywhere\" value=\"on\">Sign out everywhere</button></form>\
         <p class=\"muted\">Signing out ends the applications you opened from this browser too; \
         “everywhere” ends every browser and application you are signed in to.</p></div>\
         <div class=\"card\"><h2>Plex connections</h2>\
         <table><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Plex id</th><th scope=\"col\">Access</th>\
         <th scope=\"col\">Status</th><th scope=\"col\"><span class=\"muted\">Action</span></th></tr></thead>\
         <tbody>{rows}</tbody></table>{connect}</div>\
         <div class=\"card\"><h2>Signed-in browsers</h2><table><thead><tr><th scope=\"col\">Since</th><th scope=\"col\">Address</th>\
         <th scope=\"col\">Browser</th></tr></thead><tbody>{sessions}</tbody></table></div>",
        username = escape(&u.username),
        name = escape(&u.name),
        email = escape(&u.email),
        csrf = escape(&sessions::csrf_token(&user.key)),
    );
    Ok(page(&state, "Your account", &body, &["plex-login.js", "account.js"]))
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
    /// `on`: every session and application grant of the user, not just this browser's.
    #[serde(default)]
    everywhere: String,
}

/// `POST /if/logout/`: ends the session and what was signed in from it (the form carries its
/// CSRF token); with `everywhere=on`, every session and grant of the user.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    if let Some(key) = cookies::read_own(&headers, &state.settings, cookies::SESSION) {
        if form.csrf != sessions::csrf_token(&key) {
            return Err(PageError {
                status: axum::http::StatusCode::FORBIDDEN,
                title: "Sign-out refused",
                message: "This sign-out did not come from plexid's page. Please use the Sign out button.".into(),
            });
        }
        let ended = if form.everywhere == "on" {
            sessions::end_everywhere(&state, &key).await.map(drop)
        } else {
            sessions::end(&state, &key).await
        };
        ended.map_err(|e| PageError::internal(&e))?;
    }
    let mut response = Redirect::to(LOGIN_PATH).into_response();
    cookies::clear(&mut response, &state.settings, cookies::SESSION);
    cookies::clear(&mut response, &state.settings, cookies::CSRF);
    Ok(response)
}
