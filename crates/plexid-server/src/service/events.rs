//! The audit log: what plexid records (sign-ins, denials with their reason code, enrolments,
//! links, revocations, configuration errors) and who may read it. No event holds a token.

use plexid_core::model::{Event, EventUser, User};
use plexid_core::modes::EventAction;
use plexid_core::permission::{Action, Model};
use plexid_core::{Permission, Timestamp};
use plexid_store::events::EventFilter;
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::{Conn, ReadWrite};
use serde_json::{Map, Value};

use super::{Actor, AppState, ServiceError, ServiceResult};

pub const VIEW: Permission = Permission::new(Action::View, Model::Event);

/// How long an event is kept (authentik's default retention).
const RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(365 * 24);

/// An event about to be recorded.
pub struct NewEvent {
    pub action: EventAction,
    pub app: &'static str,
    pub user: Option<EventUser>,
    pub context: Map<String, Value>,
    pub client_ip: Option<String>,
}

impl NewEvent {
    pub fn new(action: EventAction, app: &'static str) -> Self {
        NewEvent { action, app, user: None, context: Map::new(), client_ip: None }
    }

    pub fn user(mut self, user: &User) -> Self {
        self.user = Some(EventUser { pk: user.id.0, email: user.email.clone(), username: user.username.clone() });
        self
    }

    pub fn client_ip(mut self, ip: &str) -> Self {
        self.client_ip = (!ip.is_empty()).then(|| ip.to_owned());
        self
    }

    pub fn context(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.context.insert(key.to_owned(), value.into());
        self
    }

    /// The model the event is about, as authentik's `context.model` (`app`, `model_name`, `pk`,
    /// `name`); its pk is what the `context_model_pk` filter matches.
    pub fn model(self, app: &str, model_name: &str, pk: impl ToString, name: &str) -> Self {
        let model = serde_json::json!({"app": app, "model_name": model_name, "pk": pk.to_string(), "name": name});
        self.context("model", model)
    }
}

/// Records an event inside the caller's transaction (so it lands with what it describes).
pub async fn record(conn: &mut Conn<'_, ReadWrite>, event: NewEvent, now: Timestamp) -> ServiceResult<()> {
    let context_model_pk =
        event.context.get("model").and_then(|m| m.get("pk")).and_then(Value::as_str).map(str::to_owned);
    let event = Event {
        id: uuid::Uuid::new_v4(),
        action: event.action,
        app: event.app.to_owned(),
        user: event.user,
        context: event.context,
        context_model_pk,
        client_ip: event.client_ip,
        created: now,
        expires: now + RETENTION,
    };
    Ok(conn.insert_event(&event).await?)
}

/// Records an event in a transaction of its own (for outcomes that write nothing else, such as
/// a refused sign-in).
pub async fn record_alone(app: &AppState, event: NewEvent) -> ServiceResult<()> {
    let mut tx = app.store.begin().await?;
    record(&mut tx.conn(), event, app.clock.now()).await?;
    Ok(tx.commit().await?)
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &EventFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<Event>> {
    actor.require(VIEW)?;
    Ok(app.store.read().list_events(filter, ordering, window).await?)
}

pub async fn get(app: &AppState, actor: &Actor, id: uuid::Uuid) -> ServiceResult<Event> {
    actor.require(VIEW)?;
    app.store.read().event(id).await?.ok_or(ServiceError::NotFound)
}

/// How many events of `action` happened in each of the last `hours` hours, oldest first.
pub async fn hourly_counts(
    app: &AppState,
    actor: &Actor,
    action: EventAction,
    hours: usize,
) -> ServiceResult<Vec<i64>> {
    actor.require(VIEW)?;
    let since = app.clock.now() - std::time::Duration::from_secs(3600 * hours as u64);
    let mut counts = vec![0; hours];
    for (hour, n) in app.store.read().hourly_event_counts(action.as_str(), since).await? {
        if let Some(slot) = usize::try_from(hour).ok().and_then(|h| counts.get_mut(h)) {
            *slot = n;
        }
    }
    Ok(counts)
}
