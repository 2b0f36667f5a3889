//! `/if/admin/users/`: users: list with search, and a user's page with their Plex connections
//! (and relationship), groups (add to one, remove from one: this is how a Plex user becomes an
//! administrator, so changes to administrator groups are asked first, and never leave plexid
//! without an administrator or take your own rights), deactivation, and signed-in browsers,
//! each of which can be ended, or all sign-ins at once.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use plexid_core::model::UserChanges;
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, GroupId, Permission, UserId};
use plexid_store::listing::OrderTerm;
use plexid_store::users::UserFilter;

use super::forms::{csrf_field, FormData};
use super::paging::Paging;
use super::{admin_page, confirm_page, done, failure, Admin, Confirm, Posted};
use crate::pages::text::{browser, count, relationship, when, ServerNames};
use crate::pages::{escape, PageError};
use crate::service::sessions::{self, Revoke};
use crate::service::{groups, login, sources, users as service, ServiceError};
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
        "<h1>Users</h1>{search}<p class=\"muted\">{total}.</p><div class=\"table\"><table><thead><tr><th scope=\"col\">Username</th><th scope=\"col\">Name</th>\
         <th scope=\"col\">Active</th><th scope=\"col\">Administrator</th></tr></thead><tbody>{rows}</tbody></table></div>{pager}",
        search = q.search_form(BASE, "Search users"),
        total = count(listed.total, "user", "users"),
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
    let servers = ServerNames(sources::server_names(&state).await.map_err(failure)?);
    let connections: String = account
        .connections
        .iter()
        .map(|(c, source, access)| {
            format!(
                "<tr><td>{source}</td><td>{plex}</td><td>{rel}</td><td>{status}</td></tr>",
                source = escape(&source.name),
                plex = escape(&c.identifier),
                rel = escape(&relationship(&access.relationship, &servers)),
                status = if access.revoked.is_some() { "access ended" } else { "active" },
            )
        })
        .collect();
    let csrf = csrf_field(&admin.csrf);
    let page = format!("{BASE}{}/", user.id.0);
    let change_groups = may_change_groups(&admin);
    let memberships: String = view
        .groups
        .iter()
        .map(|m| {
            // Only a superuser may change an administrator group's members.
            let remove = if change_groups && (!m.group.is_superuser || admin.actor.is_superuser()) {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{page}groups/{gid}/remove\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\" aria-label=\"Remove from {name}\">Remove</button></form>",
                    gid = m.group.id.0,
                    name = escape(&m.group.name),
                )
            } else {
                String::new()
            };
            let admin_mark = if m.group.is_superuser { " (administrators: may do everything)" } else { "" };
            format!("<li>{}{admin_mark} {remove}</li>", escape(&m.group.name))
        })
        .collect();
    let add = if change_groups {
        let all = groups::by_name(&state, &admin.actor, 1000).await.map_err(failure)?;
        let options: String = all
            .iter()
            .filter(|g| !view.groups.iter().any(|m| m.group.id == g.id))
            .filter(|g| !g.is_superuser || admin.actor.is_superuser())
            .map(|g| {
                let note = if g.is_superuser { " (administrators: may do everything)" } else { "" };
                format!("<option value=\"{}\">{}{note}</option>", g.id.0, escape(&g.name))
            })
            .collect();
        format!(
            "<form method=\"post\" action=\"{page}groups\" class=\"searchbar\">{csrf}<label for=\"group\">Add to a group</label>\
             <select id=\"group\" name=\"group\"><option value=\"\" selected>Choose a group…</option>{options}</select> \
             <button type=\"submit\" class=\"secondary\">Add</button></form>\
             <p class=\"hint\">Adding someone to an administrator group (such as {admins}) is asked first.</p>",
            admins = escape(crate::startup::ADMIN_GROUP),
        )
    } else {
        String::new()
    };
    let memberships = if memberships.is_empty() {
        "<p class=\"muted\">In no group.</p>".to_owned()
    } else {
        format!("<ul id=\"memberships\">{memberships}</ul>")
    };
    let revoke = may_revoke(&admin);
    let sessions: String = account
        .sessions
        .iter()
        .map(|s| {
            let end = if revoke {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{page}sessions/{sid}/end\">{csrf}\
                     <button type=\"submit\" class=\"secondary small\">End</button></form>",
                    sid = s.id,
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{end}</td></tr>",
                when(s.created),
                when(s.last_seen),
                escape(&s.client_ip),
                escape(&browser(&s.user_agent)),
            )
        })
        .collect();
    let everywhere = if revoke {
        format!(
            "<form method=\"post\" action=\"{page}sessions/end-all\">{csrf}<button type=\"submit\" class=\"danger\">Sign out everywhere</button>\
             <span class=\"muted\"> Ends every browser session, OpenID Connect token and forward-auth session of this user.</span></form>"
        )
    } else {
        String::new()
    };
    let activation = if revoke {
        let (value, label, note) = if user.is_active {
            (
                "off",
                "Deactivate",
                "A deactivated user cannot sign in or use any application; their sign-ins stop working.",
            )
        } else {
            ("on", "Activate", "Activated, they can sign in again.")
        };
        format!(
            "<form method=\"post\" action=\"{page}active\" class=\"actions\">{csrf}\
             <input type=\"hidden\" name=\"active\" value=\"{value}\">\
             <button type=\"submit\" class=\"{class}\">{label}</button> <span class=\"muted\">{note}</span></form>",
            class = if user.is_active { "secondary small" } else { "small" },
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"{BASE}\">Users</a></p><h1>{username}</h1><p class=\"muted\">{name} {email} · {active}</p>{activation}\
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

/// `POST /if/admin/users/{id}/groups`: adds the user to the chosen group (an administrator
/// group after a confirmation).
pub async fn add_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    let page = format!("{BASE}{}/", user.0);
    let Some(group) = form.get("group").filter(|g| !g.is_empty()) else {
        return Ok(super::super::flash::refused(&state, &page, "Choose a group to add them to."));
    };
    let group = group.parse::<uuid::Uuid>().map(GroupId).map_err(|_| PageError::not_found())?;
    let action = format!("{page}groups");
    membership(&state, &admin, user, group, &form, Change::Add, &action, &page).await
}

/// `POST /if/admin/users/{id}/groups/{group}/remove`.
pub async fn remove_group(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    let page = format!("{BASE}{}/", user.0);
    let group_id = group.parse::<uuid::Uuid>().map(GroupId).map_err(|_| PageError::not_found())?;
    let action = format!("{page}groups/{group}/remove");
    membership(&state, &admin, user, group_id, &form, Change::Remove, &action, &page).await
}

/// Adding to or removing from a group.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Remove,
}

/// Adds `user` to (or removes them from) `group`: a change to an administrator group only once
/// the form confirms it (else the question, posting to `action`); a refusal (the last
/// administrator, your own rights) is said on `back`, as is what was done.
#[allow(clippy::too_many_arguments)]
pub async fn membership(
    state: &AppState,
    admin: &Admin,
    user: UserId,
    group: GroupId,
    form: &FormData,
    change: Change,
    action: &str,
    back: &str,
) -> Result<Response, PageError> {
    let group = groups::get(state, &admin.actor, group, groups::MemberDetail::Count).await.map_err(failure)?.group;
    let target = service::get(state, &admin.actor, user).await.map_err(failure)?.user;
    let (who, name) = (target.username.as_str(), group.name.as_str());
    if group.is_superuser && form.get("confirm") != Some("yes") {
        let (question, explanation, button) = match change {
            Change::Add => (
                format!("Make {who} an administrator?"),
                format!(
                    "<p>Members of <strong>{}</strong> may do everything in plexid: change sources and applications,                      make and remove administrators, read the audit log.</p>",
                    escape(name)
                ),
                format!("Make {who} an administrator"),
            ),
            Change::Remove => (
                format!("Remove {who}'s administration rights?"),
                format!(
                    "<p>{} leaves <strong>{}</strong> and may no longer administer plexid (unless another                      administrator group keeps them one).</p>",
                    escape(who),
                    escape(name)
                ),
                format!("Remove {who} from {name}"),
            ),
        };
        let sent = form.fields_except(&["csrf", "confirm"]);
        let fields: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let confirm = Confirm {
            back,
            question: &question,
            explanation: &explanation,
            action,
            button: &button,
            danger: change == Change::Remove,
            fields: &fields,
        };
        return Ok(confirm_page(state, admin, BASE, &confirm));
    }
    let add = change == Change::Add;
    match groups::change_membership(state, &admin.actor, group.id, Some(user), FieldErrors::default(), add).await {
        Ok(()) => {
            let message = match (add, group.is_superuser) {
                (true, true) => format!("{who} is now an administrator (a member of {name})."),
                (true, false) => format!("Added {who} to {name}."),
                (false, true) => format!("Removed {who} from {name}: their administration rights through it ended."),
                (false, false) => format!("Removed {who} from {name}."),
            };
            Ok(done(state, back, &message))
        }
        Err(ServiceError::Invalid(errors)) => {
            Ok(super::super::flash::refused(state, back, &errors.messages("non_field_errors").join(" ")))
        }
        Err(other) => Err(failure(other)),
    }
}

/// `POST /if/admin/users/{id}/active`: deactivates (`active=off`) or activates the user.
pub async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    let page = format!("{BASE}{}/", user.0);
    let active = form.get("active") == Some("on");
    let changes = UserChanges { is_active: Some(active), ..Default::default() };
    let input = service::UserInput { changes, groups: None };
    match service::update(&state, &admin.actor, user, input, FieldErrors::default()).await {
        Ok(view) => {
            let who = &view.user.username;
            let message = if active {
                format!("{who} is active again and can sign in.")
            } else {
                format!("{who} is deactivated: they cannot sign in or use any application.")
            };
            Ok(done(&state, &page, &message))
        }
        Err(ServiceError::Invalid(errors)) => {
            Ok(super::super::flash::refused(&state, &page, &errors.messages("non_field_errors").join(" ")))
        }
        Err(other) => Err(failure(other)),
    }
}

/// `POST /if/admin/users/{id}/sessions/{session}/end`.
pub async fn end_session(
    State(state): State<AppState>,
    Path((id, session)): Path<(String, String)>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    let session = session.parse::<uuid::Uuid>().map_err(|_| PageError::not_found())?;
    let ended = sessions::revoke(&state, &admin.actor, user, Revoke::Session(session)).await.map_err(failure)?;
    let message = if ended > 0 { "That browser is signed out." } else { "That browser was already signed out." };
    Ok(done(&state, &format!("{BASE}{}/", user.0), message))
}

/// `POST /if/admin/users/{id}/sessions/end-all`.
pub async fn end_all(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let user = user_id(&id)?;
    let ended = sessions::revoke(&state, &admin.actor, user, Revoke::Everywhere).await.map_err(failure)?;
    let message = format!("Signed out everywhere: {} ended.", count(ended, "sign-in", "sign-ins"));
    Ok(done(&state, &format!("{BASE}{}/", user.0), &message))
}
