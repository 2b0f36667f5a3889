//! `/if/admin/sessions/`: every signed-in browser, most recently seen first, with search; each
//! can be ended (the user's other sign-ins stay; their page ends them all).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::{Permission, UserId};

use super::forms::csrf_field;
use super::paging::Paging;
use super::{admin_page, failure, Admin, Posted};
use crate::pages::{escape, PageError};
use crate::service::sessions::{self, Revoke};
use crate::state::AppState;

const BASE: &str = "/if/admin/sessions/";

/// `GET /if/admin/sessions/`.
pub async fn list(State(state): State<AppState>, admin: Admin, Query(q): Query<Paging>) -> Result<Response, PageError> {
    let listed = sessions::list_live(&state, &admin.actor, &q.terms(), q.window()).await.map_err(failure)?;
    let may_end = admin.actor.can(Permission::new(Action::Change, Model::User));
    let csrf = csrf_field(&admin.csrf);
    let rows: String = listed
        .rows
        .iter()
        .map(|(s, username)| {
            let end = if may_end {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{BASE}{uid}/{sid}/end\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\" aria-label=\"End {name}’s session from {ip}\">End</button></form>",
                    uid = s.user.0,
                    sid = s.id,
                    name = escape(username),
                    ip = escape(&s.client_ip),
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td><a href=\"/if/admin/users/{uid}/\">{name}</a></td><td>{since}</td><td>{seen}</td><td>{ip}</td><td>{agent}</td><td>{end}</td></tr>",
                uid = s.user.0,
                name = escape(username),
                since = crate::pages::text::when(s.created),
                seen = crate::pages::text::when(s.last_seen),
                ip = escape(&s.client_ip),
                agent = escape(&crate::pages::text::browser(&s.user_agent)),
            )
        })
        .collect();
    let body = format!(
        "<h1>Sessions</h1>{search}<p class=\"muted\">{total}. A user's page ends all of their sign-ins, \
         OpenID Connect tokens and forward-auth sessions included.</p>\
         <div class=\"table\"><table><caption class=\"sr-only\">Signed-in browsers</caption><thead><tr><th scope=\"col\">User</th>\
         <th scope=\"col\">Since</th><th scope=\"col\">Last seen</th><th scope=\"col\">Address</th><th scope=\"col\">Browser</th>\
         <th scope=\"col\"><span class=\"sr-only\">Action</span></th></tr></thead><tbody>{rows}</tbody></table></div>{pager}",
        search = q.search_form(BASE, "Search by user, address or browser"),
        total = crate::pages::text::count(listed.total, "signed-in browser", "signed-in browsers"),
        pager = q.pages(listed.total, BASE),
    );
    Ok(admin_page(&state, &admin, "Sessions", BASE, &body, &[]))
}

/// `POST /if/admin/sessions/{user}/{session}/end`.
pub async fn end(
    State(state): State<AppState>,
    Path((user, session)): Path<(String, String)>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let user = user.parse::<i64>().map(UserId).map_err(|_| PageError::not_found())?;
    let session = session.parse::<uuid::Uuid>().map_err(|_| PageError::not_found())?;
    let ended = sessions::revoke(&state, &admin.actor, user, Revoke::Session(session)).await.map_err(failure)?;
    let message = if ended > 0 { "That browser is signed out." } else { "That browser was already signed out." };
    Ok(super::done(&state, BASE, message))
}
