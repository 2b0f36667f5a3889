//! The audit events of administrative changes, in authentik's vocabulary: `model_created`,
//! `model_updated` and `model_deleted`, from `authentik.events.middleware`, whose context holds
//! the `model` (`app`, `model_name`, `pk`, `name`), the field `diff` (`{field: {previous_value,
//! new_value}}`; a membership change: `{"users": {"add" | "remove": [pks]}}`) and the
//! `http_request` (`args`, `path`, `method`, `request_id`, `user_agent`), by the acting user.
//!
//! Each operation records its event with one call, in its own transaction, so the event exists
//! exactly when the change does, whichever front end asked. What the request was comes from a
//! task-local set by the router's layer ([`with_request`]), as authentik's middleware keeps it
//! in a context variable; background jobs and the command line have none.
//!
//! No secret is ever written: Plex tokens, client secrets and API keys show as authentik's
//! cleansed value.

use plexid_core::apps::{Application, Provider};
use plexid_core::model::{EventUser, Flow, Group, Mapping, Source, Token, User};
use plexid_core::modes::{EventAction, ProviderKind};
use plexid_core::{Timestamp, UserId};
use plexid_store::{Conn, ReadWrite};
use serde_json::{json, Map, Value};

use super::events::{self, NewEvent};
use super::{Actor, ServiceResult};
use crate::clock::iso8601;

/// The `app` of these events (authentik's audit middleware).
pub const APP: &str = "authentik.events.middleware";
/// What a secret's value shows as (authentik's `cleanse_dict`).
pub const CLEANSED: &str = "********************";

/// The HTTP request an operation runs for, as the audit log shows it.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    /// The query parameters.
    pub args: Map<String, Value>,
    pub user_agent: String,
    pub client_ip: String,
    pub request_id: String,
}

tokio::task_local! {
    static REQUEST: RequestInfo;
}

/// Runs `work` (a request's handling) with `info` as the request its audit events name.
pub async fn with_request<F: std::future::Future>(info: RequestInfo, work: F) -> F::Output {
    REQUEST.scope(info, work).await
}

fn current_request() -> Option<RequestInfo> {
    REQUEST.try_with(Clone::clone).ok()
}

/// The address of the request being handled, when the router named one.
pub fn request_ip() -> Option<String> {
    REQUEST.try_with(|r| r.client_ip.clone()).ok().filter(|ip| !ip.is_empty())
}

/// A record as the audit log names and compares it.
pub struct Audit {
    app: &'static str,
    model_name: &'static str,
    pk: String,
    name: String,
    fields: Map<String, Value>,
}

/// A record whose changes are audited.
pub trait Audited {
    fn audit(&self) -> Audit;
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn secret(stored: &str) -> Value {
    if stored.is_empty() {
        json!("")
    } else {
        json!(CLEANSED)
    }
}

fn time(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |t| json!(iso8601(t)))
}

impl Audited for Source {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_sources_plex",
            model_name: "plexsource",
            pk: self.id.0.to_string(),
            name: self.name.clone(),
            fields: fields(json!({
                "name": self.name, "slug": self.slug, "enabled": self.enabled,
                "authentication_flow": self.authentication_flow, "enrollment_flow": self.enrollment_flow,
                "user_property_mappings": self.user_property_mappings,
                "group_property_mappings": self.group_property_mappings,
                "policy_engine_mode": self.policy_engine_mode, "user_matching_mode": self.user_matching_mode,
                "group_matching_mode": self.group_matching_mode, "user_path_template": self.user_path_template,
                "client_id": self.client_id, "allowed_servers": self.allowed_servers,
                "allow_friends": self.allow_friends, "plex_token": secret(&self.plex_token),
            })),
        }
    }
}

impl Audited for Flow {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_flows",
            model_name: "flow",
            pk: self.id.0.to_string(),
            name: self.name.clone(),
            fields: fields(json!({
                "name": self.name, "slug": self.slug, "title": self.title, "designation": self.designation,
                "authentication": self.authentication, "policy_engine_mode": self.policy_engine_mode,
                "compatibility_mode": self.compatibility_mode, "layout": self.layout,
                "denied_action": self.denied_action,
            })),
        }
    }
}

impl Audited for Mapping {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_sources_plex",
            model_name: "plexsourcepropertymapping",
            pk: self.id.0.to_string(),
            name: self.name.clone(),
            fields: fields(json!({"name": self.name, "expression": self.expression, "managed": self.managed})),
        }
    }
}

impl Audited for Group {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_core",
            model_name: "group",
            pk: self.id.0.to_string(),
            name: self.name.clone(),
            fields: fields(json!({
                "name": self.name, "is_superuser": self.is_superuser, "parent": self.parent,
                "attributes": self.attributes,
            })),
        }
    }
}

impl Audited for User {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_core",
            model_name: "user",
            pk: self.id.0.to_string(),
            name: self.username.clone(),
            fields: fields(json!({
                "username": self.username, "name": self.name, "email": self.email, "is_active": self.is_active,
                "path": self.path, "type": self.user_type, "attributes": self.attributes,
                "password": secret(self.password_hash.as_deref().unwrap_or_default()),
            })),
        }
    }
}

impl Audited for Token {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_core",
            model_name: "token",
            pk: self.id.0.to_string(),
            name: self.identifier.clone(),
            fields: fields(json!({
                "identifier": self.identifier, "intent": self.intent, "user": self.user,
                "description": self.description, "expiring": self.expiring, "expires": time(self.expires),
                "managed": self.managed, "key": CLEANSED,
            })),
        }
    }
}

impl Audited for Application {
    fn audit(&self) -> Audit {
        Audit {
            app: "authentik_core",
            model_name: "application",
            pk: self.id.0.to_string(),
            name: self.name.clone(),
            fields: fields(json!({
                "name": self.name, "slug": self.slug, "provider": self.provider,
                "open_in_new_tab": self.open_in_new_tab, "meta_launch_url": self.meta_launch_url,
                "meta_description": self.meta_description, "meta_publisher": self.meta_publisher,
                "policy_engine_mode": self.policy_engine_mode, "group": self.group,
                "access_groups": self.access.groups, "access_relationships": self.access.relationships,
                "access_servers": self.access.servers, "access_source": self.access.source,
            })),
        }
    }
}

impl Audited for Provider {
    fn audit(&self) -> Audit {
        let (app, model_name) = match self.kind {
            ProviderKind::OAuth2 => ("authentik_providers_oauth2", "oauth2provider"),
            ProviderKind::Proxy => ("authentik_providers_proxy", "proxyprovider"),
        };
        let mut fields = fields(json!({
            "name": self.name, "authentication_flow": self.authentication_flow,
            "authorization_flow": self.authorization_flow, "client_id": self.client_id,
            "client_secret": secret(&self.client_secret_hash),
        }));
        if let Value::Object(settings) = json!(self.settings) {
            fields.extend(settings);
        }
        Audit { app, model_name, pk: self.id.0.to_string(), name: self.name.clone(), fields }
    }
}

/// The fields that differ, as authentik's diff (every field of a new record, from null).
fn diff(before: Option<&Map<String, Value>>, after: &Map<String, Value>) -> Map<String, Value> {
    after
        .iter()
        .filter(|(field, value)| before.is_none_or(|b| b.get(*field) != Some(value)))
        .map(|(field, value)| {
            let previous = before.and_then(|b| b.get(field)).cloned().unwrap_or(Value::Null);
            (field.clone(), json!({"previous_value": previous, "new_value": value}))
        })
        .collect()
}

/// The event of `action` about `model`, by the actor, with this request's details.
async fn record(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    now: Timestamp,
    action: EventAction,
    model: &Audit,
    diff: Option<Map<String, Value>>,
) -> ServiceResult<()> {
    let mut event = NewEvent::new(action, APP).model(model.app, model.model_name, &model.pk, &model.name);
    if let Actor::User(principal) = actor {
        event.user = Some(match conn.user_by_id(principal.user).await? {
            Some(user) => EventUser { pk: user.id.0, email: user.email, username: user.username },
            None => EventUser { pk: principal.user.0, email: String::new(), username: principal.username.clone() },
        });
    }
    if let Some(diff) = diff {
        event = event.context("diff", diff);
    }
    if let Some(request) = current_request() {
        event = event.client_ip(&request.client_ip).context(
            "http_request",
            json!({"args": request.args, "path": request.path, "method": request.method,
                   "request_id": request.request_id, "user_agent": request.user_agent}),
        );
    }
    events::record(conn, event, now).await
}

/// A new record: `model_created` with every field in the diff.
pub async fn created(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    now: Timestamp,
    after: &impl Audited,
) -> ServiceResult<()> {
    let model = after.audit();
    let diff = diff(None, &model.fields);
    record(conn, actor, now, EventAction::ModelCreated, &model, Some(diff)).await
}

/// A changed record: `model_updated` with the fields that changed.
pub async fn updated<T: Audited>(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    now: Timestamp,
    before: &T,
    after: &T,
) -> ServiceResult<()> {
    let model = after.audit();
    let diff = diff(Some(&before.audit().fields), &model.fields);
    record(conn, actor, now, EventAction::ModelUpdated, &model, Some(diff)).await
}

/// A deleted record: `model_deleted`.
pub async fn deleted(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    now: Timestamp,
    before: &impl Audited,
) -> ServiceResult<()> {
    record(conn, actor, now, EventAction::ModelDeleted, &before.audit(), None).await
}

/// Users added to (`add`) or removed from a group: `model_updated` of the group with
/// authentik's membership diff (`{"users": {"add": [pk, …]}}`). Nothing when nobody moved.
pub async fn members(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    now: Timestamp,
    group: &Group,
    add: bool,
    users: &[UserId],
) -> ServiceResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let direction = if add { "add" } else { "remove" };
    let pks: Vec<i64> = users.iter().map(|u| u.0).collect();
    let diff = fields(json!({"users": {direction: pks}}));
    record(conn, actor, now, EventAction::ModelUpdated, &group.audit(), Some(diff)).await
}

/// Fails (so the caller's transaction rolls back) when the change just written took the
/// actor's own administration rights, or left no active administrator where there were some
/// (`before`: the active superusers read before the change, in the same transaction).
pub async fn keep_administrators(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    before: &[UserId],
) -> ServiceResult<()> {
    if before.is_empty() {
        return Ok(());
    }
    let after = conn.active_superusers().await?;
    let me = match actor {
        Actor::User(principal) => Some(principal.user.0),
        _ => None,
    };
    let ids = |list: &[UserId]| list.iter().map(|u| u.0).collect::<Vec<_>>();
    match plexid_core::rules::admin_loss_problem(me, &ids(before), &ids(&after)) {
        Some(problem) => Err(plexid_core::FieldErrors::single("non_field_errors", problem).into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_what_changed_and_hides_secrets() {
        let mut before = Source::audit(&sample());
        let mut changed = sample();
        changed.allow_friends = false;
        changed.plex_token = "v2:other".into();
        let after = changed.audit();
        let d = diff(Some(&before.fields), &after.fields);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["allow_friends"], "a new token looks the same: {d:?}");
        assert_eq!(d["allow_friends"], json!({"previous_value": true, "new_value": false}));
        before.fields.insert("plex_token".into(), json!(""));
        let created = diff(None, &after.fields);
        assert_eq!(created["plex_token"]["new_value"], json!(CLEANSED));
        assert_eq!(created["name"], json!({"previous_value": null, "new_value": "Plex"}));
    }

    fn sample() -> Source {
        Source {
            id: plexid_core::SourceId::random(),
            name: "Plex".into(),
            slug: "plex".into(),
            enabled: true,
            authentication_flow: None,
            enrollment_flow: None,
            user_property_mappings: Vec::new(),
            group_property_mappings: Vec::new(),
            policy_engine_mode: plexid_core::modes::PolicyEngineMode::Any,
            user_matching_mode: plexid_core::modes::UserMatchingMode::Identifier,
            group_matching_mode: plexid_core::modes::GroupMatchingMode::Identifier,
            managed: None,
            user_path_template: String::new(),
            icon: None,
            client_id: "c".into(),
            allowed_servers: Vec::new(),
            allow_friends: true,
            plex_token: "v2:secret".into(),
        }
    }
}
