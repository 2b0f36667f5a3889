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
/// How long a refused sign-in of nobody plexid knows is kept.
const ANONYMOUS_RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(30 * 24);
/// Refusals of nobody plexid knows, per source and hour, kept one by one; beyond this they are
/// counted in one event, so a flood cannot fill the disk.
pub const ANONYMOUS_PER_HOUR: i64 = 100;

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
    Ok(conn.insert_event(&stored(event, now, plexid_core::time::later(now, RETENTION))).await?)
}

fn stored(event: NewEvent, now: Timestamp, expires: Timestamp) -> Event {
    let context_model_pk =
        event.context.get("model").and_then(|m| m.get("pk")).and_then(Value::as_str).map(str::to_owned);
    Event {
        id: uuid::Uuid::new_v4(),
        action: event.action,
        app: event.app.to_owned(),
        user: event.user,
        context: event.context,
        context_model_pk,
        client_ip: event.client_ip,
        created: now,
        expires,
    }
}

/// Records a refused sign-in of someone plexid has no user for (`event` has a model, the
/// source): one event per source, reason, address and Plex username each hour, counting repeats
/// in `context.count`; past [`ANONYMOUS_PER_HOUR`] such events for the source in the hour, the
/// rest are counted in one event without an address. Kept for 30 days. Events with a user are
/// recorded as they are.
pub async fn record_refusal(app: &AppState, event: NewEvent) -> ServiceResult<()> {
    let model_pk = event.context.get("model").and_then(|m| m.get("pk")).and_then(Value::as_str).map(str::to_owned);
    let (Some(model_pk), None) = (model_pk, &event.user) else { return record_alone(app, event).await };
    let now = app.clock.now();
    let hour = Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(3600)).unwrap_or(now);
    let same = |e: &Event, ip: Option<&str>| {
        e.client_ip.as_deref() == ip
            && ["reason", "plex_username"].iter().all(|k| e.context.get(*k) == event.context.get(*k))
    };
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let recent = conn.anonymous_refusals(&model_pk, hour, ANONYMOUS_PER_HOUR as u32 + 1).await?;
    let mut ip = event.client_ip.clone();
    if !recent.iter().any(|e| same(e, ip.as_deref()))
        && conn.count_anonymous_refusals(&model_pk, hour).await? >= ANONYMOUS_PER_HOUR
    {
        ip = None;
    }
    match recent.into_iter().find(|e| same(e, ip.as_deref())) {
        Some(mut seen) => {
            let count = seen.context.get("count").and_then(Value::as_i64).unwrap_or(1) + 1;
            seen.context.insert("count".into(), count.into());
            seen.context.insert("last_seen".into(), crate::clock::iso8601(now).into());
            conn.set_event_context(seen.id, &seen.context).await?;
        }
        None => {
            let mut event = event;
            event.client_ip = ip;
            let expires = plexid_core::time::later(now, ANONYMOUS_RETENTION);
            let event = stored(event, now, expires);
            conn.insert_event(&event).await?;
        }
    }
    Ok(tx.commit().await?)
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

/// The actions the audit log holds events of (what its filter offers).
pub async fn actions(app: &AppState, actor: &Actor) -> ServiceResult<Vec<EventAction>> {
    actor.require(VIEW)?;
    Ok(app.store.read().event_actions().await?.iter().filter_map(|a| EventAction::parse(a)).collect())
}
