//! `/if/user/`: the signed-in person's account: the applications they may open (authentik's "My
//! applications", with launch links), their Plex connections (connect, disconnect, but never the
//! last one: it is how they sign in), their signed-in browsers ("this browser" marked, each
//! with End), signing out here or everywhere, and a link to the admin pages for administrators.

use axum::body::Bytes;
use axum::extract::{FromRequest, OptionalFromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::login::plex_buttons;
use super::text::{browser, count, relationship, when, ServerNames};
use super::{document, escape, flash, site_header, PageError, SignedIn, LOGIN_PATH};
use crate::service::{applications, connections, login, sessions, sources, Actor};
use crate::state::AppState;
use crate::web::cookies;

const PAGE: &str = "/if/user/";

/// The account page's bar: My account, and the admin pages for those who may use them.
pub fn account_header(principal: &crate::service::Principal) -> String {
    let admin = super::admin::admin_permissions().iter().any(|p| principal.has(*p));
    let mut links = vec![("My account", PAGE)];
    if admin {
        links.push(("Administration", "/if/admin/"));
    }
    site_header(&links)
}

/// The applications `user` may open, with their launch links, as a list.
async fn my_applications(state: &AppState, user: &SignedIn) -> Result<String, PageError> {
    let actor = Actor::User(user.principal.clone());
    let everything = plexid_store::listing::Window::Offset { limit: 200, offset: 0 };
    let order = [plexid_store::listing::OrderTerm::asc("name")];
    let listed =
        applications::list_for_user(state, &actor, user.principal.user, &Default::default(), &order, everything)
            .await
            .map_err(|e| PageError::internal(&e))?
            .map(|l| l.rows)
            .unwrap_or_default();
    let shown = applications::with_providers(state, listed).await.map_err(|e| PageError::internal(&e))?;
    let items: String = shown
        .iter()
        .map(|s| {
            let name = escape(&s.app.name);
            let link = match s.launch_url() {
                Some(url) => {
                    let target = if s.app.open_in_new_tab { " target=\"_blank\" rel=\"noopener\"" } else { "" };
                    format!("<a class=\"app-link\" href=\"{}\"{target}>{name}</a>", escape(&url))
                }
                None => format!("<span class=\"app-link\">{name}</span>"),
            };
            let description = if s.app.meta_description.is_empty() {
                String::new()
            } else {
                format!("<p class=\"muted\">{}</p>", escape(&s.app.meta_description))
            };
            format!("<li>{link}{description}</li>")
        })
        .collect();
    Ok(if items.is_empty() {
        "<p class=\"muted\">No applications yet: an administrator decides which you may open.</p>".to_owned()
    } else {
        format!("<ul class=\"apps\" id=\"my-apps\">{items}</ul>")
    })
}

/// `GET /if/user/`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<SignedIn>,
) -> Result<Response, PageError> {
    let Some(user) = user else {
        return Ok(Redirect::to(&format!("{LOGIN_PATH}?next={PAGE}")).into_response());
    };
    let account = login::account(&state, user.principal.user).await.map_err(|e| PageError::internal(&e))?;
    let servers = ServerNames(sources::server_names(&state).await.map_err(|e| PageError::internal(&e))?);
    let csrf = super::admin::forms::csrf_field(&sessions::csrf_token(&user.key));
    let last = account.connections.len() == 1;
    let rows: String = account
        .connections
        .iter()
        .map(|(c, source, access)| {
            let status = if access.revoked.is_some() { "access ended" } else { "active" };
            let action = if last {
                "<span class=\"muted\">You sign in with it</span>".to_owned()
            } else {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{PAGE}connections/{pk}/disconnect\" \
                     data-confirm=\"Disconnect this Plex account from {source}? You will no longer sign in with it.\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\" aria-label=\"Disconnect {source}\">Disconnect</button></form>",
                    pk = c.id.0,
                    source = escape(&source.name),
                )
            };
            format!(
                "<tr><td data-label=\"Source\">{source}</td><td data-label=\"Access\">{rel}</td>\
                 <td data-label=\"Status\">{status}</td><td>{action}</td></tr>",
                source = escape(&source.name),
                rel = escape(&relationship(&access.relationship, &servers)),
            )
        })
        .collect();
    let last_note = if last {
        "<p class=\"muted\" id=\"last-connection\">This Plex account is how you sign in, so it cannot be disconnected \
         here: without it you could not get back into this account (a new sign-in would make a new account, without \
         your groups and applications). Connect another Plex account first if you want to change it.</p>"
    } else {
        ""
    };
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
            "<h3>Connect a Plex account</h3>{}",
            plex_buttons(&state, &available, "/api/v3/sources/plex/redeem_token_authenticated/", "", "Connect")
        )
    };
    let browsers: String = account
        .sessions
        .iter()
        .map(|s| {
            let this = s.id == user.session;
            let mark = if this { " <span class=\"this-browser\">(this browser)</span>" } else { "" };
            let label = if this { "End (sign out)" } else { "End" };
            format!(
                "<tr{id}><td data-label=\"Browser\">{name}{mark}</td><td data-label=\"Signed in\">{since}</td>\
                 <td data-label=\"Last used\">{seen}</td><td data-label=\"Address\">{ip}</td>\
                 <td><form class=\"inline\" method=\"post\" action=\"{PAGE}sessions/{sid}/end\">{csrf}\
                 <button type=\"submit\" class=\"secondary small\">{label}</button></form></td></tr>",
                id = if this { " id=\"this-browser\"" } else { "" },
                name = escape(&browser(&s.user_agent)),
                since = when(s.created),
                seen = when(s.last_seen),
                ip = escape(&s.client_ip),
                sid = s.id,
            )
        })
        .collect();
    let u = &account.user;
    let apps = my_applications(&state, &user).await?;
    let message = flash::take(&state, &headers);
    let body = format!(
        "{flash}<h1>{username}</h1><section class=\"card\" aria-labelledby=\"apps-h\"><h2 id=\"apps-h\">My applications</h2>{apps}</section>\
         <div class=\"card\"><h2>Your account</h2><p class=\"muted\">{name} {email}</p>\
         <form class=\"inline\" method=\"post\" action=\"/if/logout/\">{csrf}\
         <button type=\"submit\" class=\"secondary\">Sign out</button> \
         <button type=\"submit\" class=\"secondary\" name=\"everywhere\" value=\"on\">Sign out everywhere</button></form>\
         <p class=\"muted\">Signing out ends the applications you opened from this browser too; \
         “everywhere” ends every browser and application you are signed in to.</p></div>\
         <section class=\"card\" aria-labelledby=\"plex-h\"><h2 id=\"plex-h\">Plex connections</h2>\
         <table class=\"stack\"><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Access</th>\
         <th scope=\"col\">Status</th><th scope=\"col\"><span class=\"sr-only\">Action</span></th></tr></thead>\
         <tbody>{rows}</tbody></table>{last_note}{connect}</section>\
         <section class=\"card\" aria-labelledby=\"browsers-h\"><h2 id=\"browsers-h\">Signed-in browsers</h2>\
         <p class=\"muted\">{browser_count}.</p><table class=\"stack\"><thead><tr><th scope=\"col\">Browser</th>\
         <th scope=\"col\">Signed in</th><th scope=\"col\">Last used</th><th scope=\"col\">Address</th>\
         <th scope=\"col\"><span class=\"sr-only\">Action</span></th></tr></thead><tbody>{browsers}</tbody></table></section>",
        flash = message.as_deref().map(flash::html).unwrap_or_default(),
        username = escape(&u.username),
        name = escape(&u.name),
        email = escape(&u.email),
        browser_count = count(account.sessions.len() as u64, "signed-in browser", "signed-in browsers"),
    );
    let mut response =
        document(&state, "My account", &account_header(&user.principal), &body, &["plex-login.js", "account.js"], "");
    if message.is_some() {
        flash::clear(&state, &mut response);
    }
    Ok(response)
}

/// A form the signed-in person posted from their own page: read only when it carries their
/// session's CSRF token (else a 403 page); not signed in, the login page.
pub struct OwnPost(SignedIn);

impl FromRequest<AppState> for OwnPost {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let user = <SignedIn as OptionalFromRequestParts<AppState>>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(user) = user else {
            return Err(Redirect::to(&format!("{LOGIN_PATH}?next={PAGE}")).into_response());
        };
        let body =
            Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        let form = super::admin::forms::FormData::parse(&body);
        if form.get("csrf") != Some(sessions::csrf_token(&user.key).as_str()) {
            return Err(PageError::not_our_form().into_response());
        }
        Ok(OwnPost(user))
    }
}

/// `POST /if/user/sessions/{id}/end`: ends one of the person's own browsers (this one: signs
/// out).
pub async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OwnPost(user): OwnPost,
) -> Result<Response, PageError> {
    let id = id.parse::<uuid::Uuid>().map_err(|_| PageError::not_found())?;
    if id == user.session {
        sessions::end(&state, &user.key).await.map_err(|e| PageError::internal(&e))?;
        let mut response = flash::redirect(&state, LOGIN_PATH, "You are signed out of this browser.");
        cookies::clear(&mut response, &state.settings, cookies::SESSION);
        cookies::clear(&mut response, &state.settings, cookies::CSRF);
        return Ok(response);
    }
    let ended = sessions::end_own(&state, &user.principal, id).await.map_err(|e| PageError::internal(&e))?;
    let message = if ended { "That browser is signed out." } else { "That browser was already signed out." };
    Ok(flash::redirect(&state, PAGE, message))
}

/// `POST /if/user/connections/{id}/disconnect`: removes one of the person's own Plex
/// connections, never the last (it is how they sign in).
pub async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OwnPost(user): OwnPost,
) -> Result<Response, PageError> {
    let id = id.parse::<i64>().map(plexid_core::UserConnectionId).map_err(|_| PageError::not_found())?;
    let account = login::account(&state, user.principal.user).await.map_err(|e| PageError::internal(&e))?;
    let Some((_, source, _)) = account.connections.iter().find(|(c, ..)| c.id == id) else {
        return Err(PageError::not_found());
    };
    if account.connections.len() == 1 {
        return Ok(flash::redirect(
            &state,
            PAGE,
            "Your only Plex connection stays: it is how you sign in. Connect another Plex account first.",
        ));
    }
    let actor = Actor::User(user.principal.clone());
    connections::delete_user(&state, &actor, id).await.map_err(super::admin::failure)?;
    Ok(flash::redirect(&state, PAGE, &format!("Your Plex account is disconnected from {}.", source.name)))
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
    /// `on`: every session and application grant of the user, not just this browser's.
    #[serde(default)]
    everywhere: String,
    /// Where to go after signing out (plexid's own pages only): "use another Plex account" on
    /// the access-denied page comes back to the application.
    #[serde(default)]
    next: String,
}

/// `POST /if/logout/`: ends the session and what was signed in from it (the form carries its
/// CSRF token); with `everywhere=on`, every session and grant of the user.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    let mut message = "You are signed out.";
    if let Some(key) = cookies::read_own(&headers, &state.settings, cookies::SESSION) {
        if form.csrf != sessions::csrf_token(&key) {
            return Err(PageError {
                status: StatusCode::FORBIDDEN,
                title: "Sign-out refused",
                message: "This sign-out did not come from plexid's page. Please use the Sign out button.".into(),
            });
        }
        let ended = if form.everywhere == "on" {
            message = "You are signed out of every browser and application.";
            sessions::end_everywhere(&state, &key).await.map(drop)
        } else {
            sessions::end(&state, &key).await
        };
        ended.map_err(|e| PageError::internal(&e))?;
    }
    let to = if form.next.is_empty() {
        LOGIN_PATH.to_owned()
    } else {
        let next = login::safe_next(Some(&form.next));
        format!("{LOGIN_PATH}?next={}", super::admin::encoded(&next))
    };
    let mut response = flash::redirect(&state, &to, message);
    cookies::clear(&mut response, &state.settings, cookies::SESSION);
    cookies::clear(&mut response, &state.settings, cookies::CSRF);
    Ok(response)
}
