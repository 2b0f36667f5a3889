//! `/if/admin/events/`: the audit log, newest first, filtered by action, username and
//! free-text search, 50 a page, each event's context shown on demand.

use axum::extract::{Query, State};
use axum::response::Response;
use plexid_core::modes::EventAction;
use plexid_core::FieldErrors;
use plexid_store::events::EventFilter;
use plexid_store::listing::OrderTerm;
use serde::Deserialize;

use super::forms::{input, select};
use super::paging::Paging;
use super::{admin_page, encoded, failure, Admin};
use crate::clock::readable;
use crate::pages::{escape, PageError};
use crate::service::events as service;
use crate::state::AppState;

const BASE: &str = "/if/admin/events/";

#[derive(Deserialize, Default)]
pub struct EventQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    search: String,
    #[serde(default)]
    page: Option<u64>,
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `GET /if/admin/events/`.
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<EventQuery>,
) -> Result<Response, PageError> {
    let paging = Paging { search: q.search.clone(), page: q.page };
    let filter = EventFilter {
        action: non_empty(&q.action).filter(|a| EventAction::parse(a).is_some()),
        username: non_empty(&q.username),
        search: paging.terms(),
        ..Default::default()
    };
    let listed = service::list(&state, &admin.actor, &filter, &[OrderTerm::desc("created")], paging.window())
        .await
        .map_err(failure)?;
    let rows: String = listed
        .rows
        .iter()
        .map(|e| {
            let context = serde_json::to_string_pretty(&e.context).unwrap_or_default();
            format!(
                "<tr><td>{created}</td><td>{action}</td><td>{user}</td><td>{ip}</td>\
                 <td><details><summary>Context</summary><pre><code>{context}</code></pre></details></td></tr>",
                created = escape(&readable(e.created)),
                action = e.action.as_str(),
                user = escape(e.user.as_ref().map_or("—", |u| u.username.as_str())),
                ip = escape(e.client_ip.as_deref().unwrap_or("—")),
                context = escape(&context),
            )
        })
        .collect();
    let mut actions = vec![(String::new(), "any action".to_owned())];
    actions.extend(EventAction::NAMES.iter().map(|n| ((*n).to_owned(), (*n).to_owned())));
    let none = FieldErrors::default();
    let query =
        format!("{BASE}?action={}&username={}&search={}", encoded(&q.action), encoded(&q.username), encoded(&q.search));
    let body = format!(
        "<h1>Audit log</h1><form method=\"get\" action=\"{BASE}\" class=\"card filters\" role=\"search\">{action}{username}{search}\
         <button type=\"submit\" class=\"secondary\">Filter</button></form><p class=\"muted\">{total} event(s).</p>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Action</th><th scope=\"col\">User</th>\
         <th scope=\"col\">Address</th><th scope=\"col\">Details</th></tr></thead><tbody>{rows}</tbody></table></div>{pager}",
        action = select("action", "Action", &actions, &q.action, &none),
        username = input("text", "username", "Username", &q.username, "", &none),
        search = input("text", "search", "Search", &q.search, "", &none),
        total = listed.total,
        pager = paging.pager(listed.total, &query),
    );
    Ok(admin_page(&state, &admin, "Audit log", BASE, &body, &[]))
}
