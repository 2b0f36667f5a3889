//! `/if/admin/events/`: the audit log, newest first, filtered by action (those that occur),
//! username and free-text search, 50 a page: what happened in words, who (a refused sign-in's
//! Plex username), and each event's context on demand.

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
use crate::pages::text::{count, when};
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
            let text = |key: &str| e.context.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let user = match (&e.user, text("plex_username")) {
                (Some(u), _) => escape(&u.username),
                (None, plex) if !plex.is_empty() => format!("<span class=\"muted\">Plex:</span> {}", escape(&plex)),
                (None, _) => "—".to_owned(),
            };
            format!(
                "<tr><td>{created}</td><td>{action}</td><td>{user}</td><td>{what}</td><td>{ip}</td>\
                 <td><details><summary>Context</summary><pre><code>{context}</code></pre></details></td></tr>",
                created = when(e.created),
                action = escape(&action_label(e.action)),
                what = escape(&summary(e)),
                ip = escape(e.client_ip.as_deref().unwrap_or("—")),
                context = escape(&context),
            )
        })
        .collect();
    // Only the actions the log holds (authentik names 28; most never happen in plexid).
    let mut actions = vec![(String::new(), "Any action".to_owned())];
    let occurring = service::actions(&state, &admin.actor).await.map_err(failure)?;
    actions.extend(occurring.iter().map(|a| (a.as_str().to_owned(), action_label(*a))));
    let none = FieldErrors::default();
    let query =
        format!("{BASE}?action={}&username={}&search={}", encoded(&q.action), encoded(&q.username), encoded(&q.search));
    let body = format!(
        "<h1>Audit log</h1><form method=\"get\" action=\"{BASE}\" class=\"card filters\" role=\"search\">{action}{username}{search}\
         <button type=\"submit\" class=\"secondary\">Filter</button></form><p class=\"muted\">{total}.</p>\
         <div class=\"table\"><table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Action</th><th scope=\"col\">User</th>\
         <th scope=\"col\">What</th><th scope=\"col\">Address</th><th scope=\"col\">Details</th></tr></thead><tbody>{rows}</tbody></table></div>{pager}",
        action = select("action", "Action", &actions, &q.action, &none),
        username = input("text", "username", "Username", &q.username, "", &none),
        search = input("text", "search", "Search", &q.search, "", &none),
        total = count(listed.total, "event", "events"),
        pager = paging.pager(listed.total, &query),
    );
    Ok(admin_page(&state, &admin, "Audit log", BASE, &body, &[]))
}

/// An action's name in words, with authentik's value.
fn action_label(action: EventAction) -> String {
    let label = match action {
        EventAction::Login => "Sign-in",
        EventAction::LoginFailed => "Refused sign-in",
        EventAction::Logout => "Sign-out",
        EventAction::UserWrite => "User made at sign-in",
        EventAction::SourceLinked => "Plex account connected",
        EventAction::AuthorizeApplication => "Application opened",
        EventAction::PolicyExecution => "Application refused",
        EventAction::ModelCreated => "Created",
        EventAction::ModelUpdated => "Changed",
        EventAction::ModelDeleted => "Deleted",
        EventAction::ConfigurationError => "Configuration problem",
        EventAction::PropertyMappingException => "Mapping failed",
        other => return other.as_str().to_owned(),
    };
    format!("{label} ({})", action.as_str())
}

/// What an event says happened, in a few words.
fn summary(e: &plexid_core::model::Event) -> String {
    let at = |path: &[&str]| {
        let mut value = serde_json::Value::Object(e.context.clone());
        for key in path {
            value = value.get(*key).cloned().unwrap_or_default();
        }
        value
    };
    let text = |path: &[&str]| at(path).as_str().unwrap_or_default().to_owned();
    let model = format!("{} {}", text(&["model", "model_name"]), text(&["model", "name"]));
    match e.action {
        EventAction::ModelCreated => format!("created {model}"),
        EventAction::ModelDeleted => format!("deleted {model}"),
        EventAction::ModelUpdated => {
            let diff = at(&["diff"]);
            let users = |way: &str| diff["users"][way].as_array().map_or(0, Vec::len) as u64;
            match (users("add"), users("remove")) {
                (0, 0) => {
                    let fields: Vec<&str> =
                        diff.as_object().map(|d| d.keys().map(String::as_str).collect()).unwrap_or_default();
                    if fields.is_empty() {
                        format!("saved {model}")
                    } else {
                        format!("changed {model}: {}", fields.join(", "))
                    }
                }
                (added, 0) => format!("{} added to {model}", count(added, "member", "members")),
                (_, removed) => format!("{} removed from {model}", count(removed, "member", "members")),
            }
        }
        EventAction::LoginFailed => text(&["message"]),
        EventAction::Login | EventAction::SourceLinked => match text(&["source", "name"]) {
            source if source.is_empty() => String::new(),
            source => format!("through {source}"),
        },
        EventAction::Logout if at(&["everywhere"]).as_bool() == Some(true) => "everywhere".into(),
        EventAction::PolicyExecution => format!(
            "{}: {}",
            text(&["model", "name"]),
            at(&["result", "messages"]).get(0).and_then(|m| m.as_str()).unwrap_or_default()
        ),
        EventAction::AuthorizeApplication => text(&["authorized_application", "name"]),
        _ => text(&["message"]),
    }
}
