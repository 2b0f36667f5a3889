//! `/if/admin/users/`: users: list with search, and a user's page with their Plex connections
//! (and relationship), groups (add to one, remove from one: this is how a Plex user becomes an
//! administrator), and signed-in browsers, each of which can be ended, or all sign-ins at once.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, GroupId, Permission, UserId};
use plexid_store::listing::OrderTerm;
use plexid_store::users::UserFilter;

use super::forms::{csrf_field, FormData};
use super::paging::Paging;
use super::{admin_page, failure, Admin, Posted};
use crate::clock::readable;
use crate::pages::account::relationship_text;
use crate::pages::{escape, PageError};
use crate::service::sessions::{self, Revoke};
use crate::service::{groups, login, users as service};
use crate::state::AppState;

const BASE: &str = "/if/admin/users/";

fn user_id(id: &str) -> Result<UserId, PageError> {
    id.parse::<i64>().map(UserId).map_err(|_| PageError::not_found())
}

/// `GET /if/admin/users/`.
pub async fn list(State(state): State<AppState>, admin: Admin, Query(q): Query<Paging>) -> Result<Response, PageError> {
    let filter = UserFilter { search: q.terms(), ..Default::default() };
    let listed = service::list(&state, &admin.actor, &filter, &[OrderTerm::asc("username")], q.window())
        .await
        .map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|v| {
            format!(
                "<tr><td><a href=\"{BASE}{id}/\">{username}</a></td><td>{name}</td><td>{active}</td><td>{admin}</td></tr>",
                id = v.user.id.0,
                username = escape(&v.user.username),
                name = escape(&v.user.name),
                active = if v.user.is_active { "yes" } else { "no" },
                admin = if v.is_superuser() { "yes" } else { "no" },
            )
        })
        .collect();
    let body = format!(
        "<h1>Users</h1>{search}<p class=\"muted\">{total} user(s).</p><div class=\"table\"><table><thead><tr><th scope=\"col\">Username</th><th scope=\"col\">Name</th>\
         <th scope=\"col\">Active</th><th scope=\"col\">Administrator</th></tr></thead><tbody>{rows}</tbody></table></div>{pager}",
        search = q.search_form(BASE, "Search users"),
        total = listed.total,
        pager = q.pages(listed.total, BASE),
    );
    Ok(admin_page(&state, &admin, "Users", BASE, &body, &[]))
}

fn may_change_groups(admin: &Admin) -> bool {
    admin.actor.can(Permission::new(Action::Change, Model::Group))
}

fn may_revoke(admin: &Admin) -> bool {
    admin.actor.can(Permission::new(Action::Change, Model::User))
}

/// `GET /if/admin/users/{id}/`.
pub async fn show(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> Result<Response, PageError> {
    let view = service::get(&state, &admin.actor, user_id(&id)?).await.map_err(failure)?;
    let user = &view.user;
    let account = login::account(&state, user.id).await.map_err(failure)?;
    let connections: String = account
        .connections
        .iter()
        .map(|(c, source, access)| {
            format!(
                "<tr><td>{source}</td><td>{plex}</td><td>{rel}</td><td>{status}</td></tr>",
                source = escape(&source.name),
                plex = escape(&c.identifier),
                rel = escape(&relationship_text(&access.relationship)),
                status = if access.revoked.is_some() { "access ended" } else { "active" },
            )
        })
        .collect();
    let csrf = csrf_field(&admin.csrf);
    let change_groups = may_change_groups(&admin);
    let memberships: String = view
        .groups
        .iter()
        .map(|m| {
            let remove = if change_groups {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{BASE}{uid}/groups/{gid}/remove\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\" aria-label=\"Remove from {name}\">Remove</button></form>",
                    uid = user.id.0,
                    gid = m.group.id.0,
                    name = escape(&m.group.name),
                )
            } else {
                String::new()
            };
            let admin_mark = if m.group.is_superuser { " (administrators)" } else { "" };
            format!("<li>{}{admin_mark} {remove}</li>", escape(&m.group.name))
        })
        .collect();
    let add = if change_groups {
        let all = groups::by_name(&state, &admin.actor, 1000).await.map_err(failure)?;
        let options: String = all
            .iter()
            .filter(|g| !view.groups.iter().any(|m| m.group.id == g.id))
            .map(|g| format!("<option value=\"{}\">{}</option>", g.id.0, escape(&g.name)))
            .collect();
        format!(
            "<form method=\"post\" action=\"{BASE}{uid}/groups\" class=\"searchbar\">{csrf}<label for=\"group\">Add to a group</label>\
             <select id=\"group\" name=\"group\">{options}</select> <button type=\"submit\" class=\"secondary\">Add</button></form>",
            uid = user.id.0,
        )
    } else {
        String::new()
    };
    let memberships = if memberships.is_empty() {
        "<p class=\"muted\">In no group.</p>".to_owned()
    } else {
        format!("<ul>{memberships}</ul>")
    };
    let revoke = may_revoke(&admin);
    let sessions: String = account
        .sessions
        .iter()
        .map(|s| {
            let end = if revoke {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{BASE}{uid}/sessions/{sid}/end\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\">End</button></form>",
                    uid = user.id.0,
                    sid = s.id,
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{end}</td></tr>",
                escape(&readable(s.created)),
                escape(&readable(s.last_seen)),
                escape(&s.client_ip),
                escape(&s.user_agent),
            )
        })
        .collect();
    let everywhere = if revoke {
        format!(
            "<form method=\"post\" action=\"{BASE}{uid}/sessions/end-all\">{csrf}<button type=\"submit\" class=\"danger\">Sign out everywhere</button>\
             <span class=\"muted\"> Ends every browser session, OpenID Connect token and forward-auth session of this user.</span></form>",
            uid = user.id.0,
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Users</a></p><h1>{username}</h1><p class=\"muted\">{name} {email} · {active}</p>\
         <section class=\"card\" aria-labelledby=\"plex\"><h2 id=\"plex\">Plex connections</h2><div class=\"table\"><table><thead><tr>\
         <th scope=\"col\">Source</th><th scope=\"col\">Plex id</th><th scope=\"col\">Relationship</th><th scope=\"col\">Status</th></tr></thead>\
         <tbody>{connections}</tbody></table></div></section>\
         <section class=\"card\" aria-labelledby=\"groups\"><h2 id=\"groups\">Groups</h2>{memberships}{add}</section>\
         <section class=\"card\" aria-labelledby=\"sessions\"><h2 id=\"sessions\">Signed-in browsers</h2><div class=\"table\"><table><thead><tr>\
         <th scope=\"col\">Since</th><th scope=\"col\">Last seen</th><th scope=\"col\">Address</th><th scope=\"col\">Browser</th>\
         <th scope=\"col\"><span class=\"sr-only\">Action</span></th></tr></thead><tbody>{sessions}</tbody></table></div>{everywhere}</section>",
        username = escape(&user.username),
        name = escape(&user.name),
        email = escape(&user.email),
        active = if user.is_active { "active" } else { "inactive" },
    );
    Ok(admin_page(&state, &admin, &user.username, BASE, &body, &[]))
}

/// `POST /if/admin/users/{id}/groups`: adds the user to the chosen group.
pub async fn add_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    membership(&state, &admin, &id, &form, None, true).await
}

/// `POST /if/admin/users/{id}/groups/{group}/remove`.
pub async fn remove_group(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    membership(&state, &admin, &id, &form, Some(&group), false).await
}

async fn membership(
    state: &AppState,
    admin: &Admin,
    id: &str,
    form: &FormData,
    group: Option<&str>,
    add: bool,
) -> Result<Response, PageError> {
    let user = user_id(id)?;
    let group = group.or(form.get("group")).unwrap_or_default();
    let group = group.parse::<uuid::Uuid>().map(GroupId).map_err(|_| PageError::not_found())?;
    groups::change_membership(state, &admin.actor, group, Some(user), FieldErrors::default(), add)
        .await
        .map_err(failure)?;
    Ok(Redirect::to(&format!("{BASE}{}/", user.0)).into_response())
}

/// `POST /if/admin/users/{id}/sessions/{session}/end`.
pub async fn end_session(
    State(state): State<AppState>,
    Path((id, session)): Path<(String, String)>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    let session = session.parse::<uuid::Uuid>().map_err(|_| PageError::not_found())?;
    sessions::revoke(&state, &admin.actor, user, Revoke::Session(session)).await.map_err(failure)?;
    Ok(Redirect::to(&format!("{BASE}{}/", user.0)).into_response())
}

/// `POST /if/admin/users/{id}/sessions/end-all`.
pub async fn end_all(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    sessions::revoke(&state, &admin.actor, user, Revoke::Everywhere).await.map_err(failure)?;
    Ok(Redirect::to(&format!("{BASE}{}/", user.0)).into_response())
}
