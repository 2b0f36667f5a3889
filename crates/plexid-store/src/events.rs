//! The audit log.

use plexid_core::model::{Event, EventUser};
use plexid_core::modes::EventAction;
use plexid_core::Timestamp;

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::Row;
use crate::users::json_text;

const SELECT: &str = "SELECT uuid, action, app, user_pk, username, user_json, context, context_model_pk, client_ip, \
                      created, expires FROM event";

fn from_row(row: &Row) -> StoreResult<Event> {
    let user = match row.opt_int("user_pk")? {
        Some(_) => Some(row.json::<EventUser>("user_json")?),
        None => None,
    };
    Ok(Event {
        id: row.uuid("uuid")?,
        action: row.choice("action", EventAction::parse)?,
        app: row.text("app")?,
        user,
        context: row.json("context")?,
        context_model_pk: row.opt_text("context_model_pk")?,
        client_ip: row.opt_text("client_ip")?,
        created: row.timestamp("created")?,
        expires: row.timestamp("expires")?,
    })
}

/// The username events without a user show (authentik's anonymous user).
pub const ANONYMOUS: &str = "AnonymousUser";

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub action: Option<String>,
    pub username: Option<String>,
    pub client_ip: Option<String>,
    pub context_model_pk: Option<String>,
    /// `context.model.app`, `context.model.model_name`.
    pub context_model_app: Option<String>,
    pub context_model_name: Option<String>,
    /// `context.authorized_application.pk`, with or without the UUID's dashes.
    pub context_authorized_app: Option<String>,
    /// The brand's name: plexid's events have no brand, so any name matches none.
    pub brand_name: Option<String>,
    pub search: Vec<String>,
}

pub const EVENT_ORDERING: &[&str] = &["action", "user", "app", "context", "client_ip", "created"];

const ORDER_COLUMNS: &[(&str, &str)] = &[("user", "username")];

impl<A: Access> Conn<'_, A> {
    /// How many events of `action` happened in each hour since `since`: (hours after `since`,
    /// count), in order; hours without any are left out.
    pub async fn hourly_event_counts(&mut self, action: &str, since: Timestamp) -> StoreResult<Vec<(i64, i64)>> {
        let sql = "SELECT (created - $2) / 3600000000 AS hour, COUNT(*) AS n FROM event \
                   WHERE action = $1 AND created >= $2 GROUP BY (created - $2) / 3600000000 ORDER BY hour";
        let rows = self.fetch_all(sql, params![action, since]).await?;
        rows.iter().map(|r| Ok((r.int("hour")?, r.int("n")?))).collect()
    }

    pub async fn list_events(
        &mut self,
        filter: &EventFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Event>> {
        let mut f = Filter::default();
        f.eq("action", filter.action.clone());
        if let Some(username) = &filter.username {
            // Events without a user show authentik's `AnonymousUser`, and are found by its name.
            let p = f.bind(username.clone());
            f.clause(format!("(username = {p} OR (user_pk IS NULL AND {p} = '{ANONYMOUS}'))"));
        }
        f.eq("client_ip", filter.client_ip.clone());
        f.eq("context_model_pk", filter.context_model_pk.clone());
        let dialect = self.dialect();
        f.eq(&dialect.json_text("context", &["model", "app"]), filter.context_model_app.clone());
        f.eq(&dialect.json_text("context", &["model", "model_name"]), filter.context_model_name.clone());
        if let Some(pk) = &filter.context_authorized_app {
            let column = dialect.json_text("context", &["authorized_application", "pk"]);
            let p = f.bind(pk.replace('-', ""));
            f.clause(format!("REPLACE({column}, '-', '') = {p}"));
        }
        if filter.brand_name.is_some() {
            f.clause("1 = 0".into());
        }
        f.search(&filter.search, &["action", "app", "username", "client_ip", "context"]);
        let query = ListQuery { select: SELECT, columns: ORDER_COLUMNS, tiebreak: "uuid" };
        query.run(self, f, ordering, window, from_row).await
    }

    /// The actions the log holds events of, by name.
    pub async fn event_actions(&mut self) -> StoreResult<Vec<String>> {
        let rows = self.fetch_all("SELECT DISTINCT action FROM event ORDER BY action", vec![]).await?;
        rows.iter().map(|r| r.text("action")).collect()
    }

    pub async fn event(&mut self, id: uuid::Uuid) -> StoreResult<Option<Event>> {
        let sql = format!("{SELECT} WHERE uuid = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }
}

impl Conn<'_, ReadWrite> {
    /// The refusals without a user (sign-ins of nobody plexid knows) about the model `model_pk`
    /// since `since`, newest first, at most `limit`; locked for the caller's transaction where
    /// the engine can.
    pub async fn anonymous_refusals(
        &mut self,
        model_pk: &str,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let sql = format!(
            "{SELECT} WHERE action = 'login_failed' AND user_pk IS NULL AND context_model_pk = $1 AND created >= $2 \
             ORDER BY created DESC LIMIT {limit}{}",
            self.dialect().for_update()
        );
        self.fetch_all(&sql, params![model_pk, since]).await?.iter().map(from_row).collect()
    }

    /// How many refusals without a user about `model_pk` were recorded since `since`.
    pub async fn count_anonymous_refusals(&mut self, model_pk: &str, since: Timestamp) -> StoreResult<i64> {
        self.fetch_one(
            "SELECT COUNT(*) AS n FROM event WHERE action = 'login_failed' AND user_pk IS NULL \
             AND context_model_pk = $1 AND created >= $2",
            params![model_pk, since],
        )
        .await?
        .int("n")
    }

    /// Replaces an event's context (an aggregated refusal counting one more).
    pub async fn set_event_context(
        &mut self,
        id: uuid::Uuid,
        context: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<()> {
        self.execute("UPDATE event SET context = $2 WHERE uuid = $1", params![id, json_text(context)]).await.map(drop)
    }

    /// Deletes events past their `expires`.
    pub async fn delete_expired_events(&mut self, now: Timestamp) -> StoreResult<u64> {
        self.execute("DELETE FROM event WHERE expires <= $1", params![now]).await
    }

    pub async fn insert_event(&mut self, e: &Event) -> StoreResult<()> {
        let user_json = e.user.as_ref().map_or_else(|| "{}".to_owned(), |u| serde_json::json!(u).to_string());
        self.execute(
            "INSERT INTO event (uuid, action, app, user_pk, username, user_json, context, context_model_pk, client_ip, \
             created, expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            params![
                e.id,
                e.action.as_str(),
                &e.app,
                e.user.as_ref().map(|u| u.pk),
                e.user.as_ref().map_or("", |u| u.username.as_str()),
                user_json,
                json_text(&e.context),
                &e.context_model_pk,
                &e.client_ip,
                e.created,
                e.expires
            ],
        )
        .await
        .map(drop)
    }
}
