//! `/if/admin/connections/`: the links between plexid users (or groups) and Plex accounts (or
//! group identifiers), across every source: list with search, and deletion after a
//! confirmation saying what it changes.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use plexid_core::model::Source;
use plexid_core::permission::{Action, Model};
use plexid_core::{FieldErrors, GroupConnectionId, Permission, Timestamp, UserConnectionId};
use plexid_store::connections::ConnectionFilter;
use plexid_store::listing::OrderTerm;

use super::paging::Paging;
use super::{admin_page, confirm_delete_page, failure, permitted, Admin, Posted};
use crate::pages::{escape, PageError};
use crate::service::connections as service;
use crate::state::AppState;

const BASE: &str = "/if/admin/connections/";

/// Which connections a page is about.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    User,
    Group,
}

impl Kind {
    fn parse(text: &str) -> Result<Self, PageError> {
        match text {
            "user" => Ok(Kind::User),
            "group" => Ok(Kind::Group),
            _ => Err(PageError::not_found()),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }

    fn model(self) -> Model {
        match self {
            Kind::User => Model::UserPlexSourceConnection,
            Kind::Group => Model::GroupPlexSourceConnection,
        }
    }

    fn list(self) -> String {
        format!("{BASE}{}/", self.as_str())
    }
}

fn can(admin: &Admin, kind: Kind, action: Action) -> bool {
    admin.actor.can(Permission::new(action, kind.model()))
}

/// One connection as the pages show it.
struct Row {
    id: i64,
    /// The user's or group's name, linked to its page.
    holder: String,
    source: String,
    identifier: String,
    created: Timestamp,
}

fn source_name(sources: &[Source], id: plexid_core::SourceId) -> String {
    sources.iter().find(|s| s.id == id).map(|s| s.name.clone()).unwrap_or_default()
}

/// A page of `kind` connections, named for people, and how many there are in all.
async fn rows(state: &AppState, admin: &Admin, kind: Kind, q: &Paging) -> Result<(Vec<Row>, u64), PageError> {
    let filter = ConnectionFilter { lookup: q.terms(), ..Default::default() };
    let order = [OrderTerm::asc("source__slug"), OrderTerm::asc("identifier")];
    let errors = FieldErrors::default();
    match kind {
        Kind::User => {
            let (listed, sources) =
                service::list_user(state, &admin.actor, filter, errors, &order, q.window()).await.map_err(failure)?;
            let names = super::usernames(state, listed.rows.iter().map(|c| c.user)).await?;
            let rows = listed.rows.iter().map(|c| Row {
                id: c.id.0,
                holder: format!(
                    "<a href=\"/if/admin/users/{}/\">{}</a>",
                    c.user.0,
                    escape(names.get(&c.user).map_or("", String::as_str))
                ),
                source: source_name(&sources, c.source),
                identifier: c.identifier.clone(),
                created: c.created,
            });
            Ok((rows.collect(), listed.total))
        }
        Kind::Group => {
            let (listed, sources) =
                service::list_group(state, &admin.actor, filter, errors, &order, q.window()).await.map_err(failure)?;
            let ids: Vec<_> = listed.rows.iter().map(|c| c.group).collect();
            let groups = state.store.read().groups_by_ids(&ids).await.map_err(|e| PageError::internal(&e))?;
            let rows = listed.rows.iter().map(|c| Row {
                id: c.id.0,
                holder: format!(
                    "<a href=\"/if/admin/groups/{}/\">{}</a>",
                    c.group.0,
                    escape(groups.iter().find(|g| g.id == c.group).map_or("", |g| g.name.as_str()))
                ),
                source: source_name(&sources, c.source),
                identifier: c.identifier.clone(),
                created: c.created,
            });
            Ok((rows.collect(), listed.total))
        }
    }
}

/// `GET /if/admin/connections/`: the user connections, or the group ones when only those may
/// be seen.
pub async fn index(admin: Admin) -> Response {
    let kind = if can(&admin, Kind::User, Action::View) { Kind::User } else { Kind::Group };
    Redirect::to(&kind.list()).into_response()
}

/// `GET /if/admin/connections/{kind}/`.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Path(kind): Path<String>,
    Query(q): Query<Paging>,
) -> Result<Response, PageError> {
    let kind = Kind::parse(&kind)?;
    permitted(can(&admin, kind, Action::View))?;
    let (rows, total) = rows(&state, &admin, kind, &q).await?;
    let delete = can(&admin, kind, Action::Delete);
    let holder = if kind == Kind::User { "User" } else { "Group" };
    let body: String = rows
        .iter()
        .map(|r| {
            let action = if delete {
                format!(
                    "<a href=\"{}{}/delete\" aria-label=\"Delete connection {}\">Delete</a>",
                    kind.list(),
                    r.id,
                    r.id
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td>{holder}</td><td>{source}</td><td>{identifier}</td><td>{created}</td><td>{action}</td></tr>",
                holder = r.holder,
                source = escape(&r.source),
                identifier = escape(&r.identifier),
                created = crate::pages::text::when(r.created),
            )
        })
        .collect();
    let tabs: String = [(Kind::User, "User connections"), (Kind::Group, "Group connections")]
        .iter()
        .filter(|(k, _)| can(&admin, *k, Action::View))
        .map(|(k, label)| {
            let current = if *k == kind { " aria-current=\"page\"" } else { "" };
            format!("<li><a href=\"{}\"{current}>{label}</a></li>", k.list())
        })
        .collect();
    let identifier = if kind == Kind::User { "Plex account id" } else { "Group identifier" };
    let page = format!(
        "<h1>Connections</h1><nav aria-label=\"Connection kinds\"><ul class=\"tabs\">{tabs}</ul></nav>{search}\
         <p class=\"muted\">{total}.</p><div class=\"table\"><table><caption class=\"sr-only\">{holder} connections</caption>\
         <thead><tr><th scope=\"col\">{holder}</th><th scope=\"col\">Source</th><th scope=\"col\">{identifier}</th>\
         <th scope=\"col\">Linked</th><th scope=\"col\"><span class=\"sr-only\">Action</span></th></tr></thead><tbody>{body}</tbody></table></div>{pager}",
        search = q.search_form(&kind.list(), "Search by identifier or source"),
        total = crate::pages::text::count(total, "connection", "connections"),
        pager = q.pages(total, &kind.list()),
    );
    Ok(admin_page(&state, &admin, "Connections", BASE, &page, &[]))
}

/// `GET /if/admin/connections/{kind}/{id}/delete`.
pub async fn confirm_delete(
    State(state): State<AppState>,
    admin: Admin,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = Kind::parse(&kind)?;
    let id = id.parse::<i64>().map_err(|_| PageError::not_found())?;
    permitted(can(&admin, kind, Action::Delete))?;
    let (name, consequences) = match kind {
        Kind::User => {
            let (c, source) = service::get_user(&state, &admin.actor, UserConnectionId(id)).await.map_err(failure)?;
            let names = super::usernames(&state, [c.user]).await?;
            let user = names.get(&c.user).cloned().unwrap_or_default();
            let consequences = format!(
                "<p>{user} is no longer linked to Plex account {plex} through {source}: the next Plex sign-in with that \
                 account is matched or enrolled again by the source's rules. The user and their sessions stay.</p>",
                user = escape(&user),
                plex = escape(&c.identifier),
                source = escape(&source.name),
            );
            (format!("{user}'s {} connection", source.name), consequences)
        }
        Kind::Group => {
            let (c, source) = service::get_group(&state, &admin.actor, GroupConnectionId(id)).await.map_err(failure)?;
            let consequences = format!(
                "<p>Group identifier {identifier} of {source} is no longer linked to a plexid group; the group and its \
                 members stay.</p>",
                identifier = escape(&c.identifier),
                source = escape(&source.name),
            );
            (format!("the {} connection {}", source.name, c.identifier), consequences)
        }
    };
    let page = format!("{}{id}/", kind.list());
    Ok(confirm_delete_page(&state, &admin, BASE, &page, &name, &consequences))
}

/// `GET /if/admin/connections/{kind}/{id}/`: a connection has no page of its own; its list.
pub async fn show(Path((kind, _)): Path<(String, String)>) -> Result<Response, PageError> {
    Ok(Redirect::to(&Kind::parse(&kind)?.list()).into_response())
}

/// `POST /if/admin/connections/{kind}/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    Posted { admin, .. }: Posted,
) -> Result<Response, PageError> {
    let kind = Kind::parse(&kind)?;
    let id = id.parse::<i64>().map_err(|_| PageError::not_found())?;
    match kind {
        Kind::User => service::delete_user(&state, &admin.actor, UserConnectionId(id)).await,
        Kind::Group => service::delete_group(&state, &admin.actor, GroupConnectionId(id)).await,
    }
    .map_err(failure)?;
    Ok(super::done(&state, &kind.list(), "Deleted the connection."))
}
