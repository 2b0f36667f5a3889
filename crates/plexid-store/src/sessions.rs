//! Sessions (signed-in browsers) and sign-ins that wait for a username.

use plexid_core::model::Session;
use plexid_core::{SourceId, Timestamp, UserId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

const SELECT: &str = "SELECT key_hash, uuid, user_id, source_uuid, created, last_seen, expires, client_ip, user_agent \
                      FROM user_session";

fn from_row(row: &Row) -> StoreResult<Session> {
    Ok(Session {
        id: row.uuid("uuid")?,
        key_hash: row.text("key_hash")?,
        user: UserId(row.int("user_id")?),
        source: row.opt_uuid("source_uuid")?.map(SourceId),
        created: row.timestamp("created")?,
        last_seen: row.timestamp("last_seen")?,
        expires: row.timestamp("expires")?,
        client_ip: row.text("client_ip")?,
        user_agent: row.text("user_agent")?,
    })
}

impl<A: Access> Conn<'_, A> {
    pub async fn session_by_key(&mut self, key_hash: &str) -> StoreResult<Option<Session>> {
        let sql = format!("{SELECT} WHERE key_hash = $1");
        self.fetch_optional(&sql, params![key_hash]).await?.as_ref().map(from_row).transpose()
    }

    /// A user's sessions, newest first.
    pub async fn sessions_of_user(&mut self, user: UserId) -> StoreResult<Vec<Session>> {
        let sql = format!("{SELECT} WHERE user_id = $1 ORDER BY created DESC, uuid");
        self.fetch_all(&sql, params![user]).await?.iter().map(from_row).collect()
    }

    /// The live sessions of every user (not past their end, seen since `idle_before`) with each
    /// one's username, most recently seen first; every `search` term must appear in the
    /// username, the address or the browser.
    pub async fn list_live_sessions(
        &mut self,
        now: Timestamp,
        idle_before: Timestamp,
        search: &[String],
        window: Window,
    ) -> StoreResult<Listed<(Session, String)>> {
        let select = "SELECT s.key_hash, s.uuid, s.user_id, s.source_uuid, s.created, s.last_seen, s.expires, \
                      s.client_ip, s.user_agent, u.username FROM user_session s JOIN app_user u ON u.id = s.user_id";
        let mut f = Filter::default();
        let (now_at, idle_at) = (f.bind(now), f.bind(idle_before));
        f.clause(format!("s.expires > {now_at} AND s.last_seen >= {idle_at}"));
        f.search(search, &["u.username", "s.client_ip", "s.user_agent"]);
        let query = ListQuery { select, columns: &[], tiebreak: "uuid" };
        let order = [OrderTerm::desc("last_seen")];
        let map = |row: &Row| Ok((from_row(row)?, row.text("username")?));
        if !search.is_empty() {
            return query.run(self, f, &order, window, map).await;
        }
        // Without a search term the count needs no usernames, and every session has its user
        // (a foreign key): the sessions are counted alone, without the join.
        let sessions_alone = ListQuery { select: "SELECT s.uuid FROM user_session s", columns: &[], tiebreak: "uuid" };
        let total = sessions_alone.count(self, &f).await?;
        query.page(self, f, total, &order, window, map).await
    }

    /// The JSON payload of a sign-in waiting for a username, unless it expired.
    pub async fn pending_login(&mut self, key_hash: &str, now: Timestamp) -> StoreResult<Option<(SourceId, String)>> {
        let row = self
            .fetch_optional(
                "SELECT source_uuid, payload FROM pending_login WHERE key_hash = $1 AND expires > $2",
                params![key_hash, now],
            )
            .await?;
        row.map(|r| Ok((SourceId(r.uuid("source_uuid")?), r.text("payload")?))).transpose()
    }
}

impl Conn<'_, ReadWrite> {
    pub async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        self.execute(
            "INSERT INTO user_session (key_hash, uuid, user_id, source_uuid, created, last_seen, expires, client_ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            params![&s.key_hash, s.id, s.user, s.source, s.created, s.last_seen, s.expires, &s.client_ip, &s.user_agent],
        )
        .await
        .map(drop)
    }

    pub async fn touch_session(&mut self, key_hash: &str, last_seen: Timestamp) -> StoreResult<()> {
        self.execute("UPDATE user_session SET last_seen = $2 WHERE key_hash = $1", params![key_hash, last_seen])
            .await
            .map(drop)
    }

    /// Signs out the sessions `condition` selects: their grants (the OpenID Connect codes and
    /// tokens and the forward-auth sessions signed in from them) end with them. Returns how many
    /// sessions ended.
    async fn sign_out(&mut self, condition: &str, values: Vec<Param>) -> StoreResult<u64> {
        self.end_grants_of_sessions(condition, values.clone()).await?;
        self.execute(&format!("DELETE FROM user_session WHERE {condition}"), values).await
    }

    /// Signs out the session with this key (and its grants).
    pub async fn delete_session(&mut self, key_hash: &str) -> StoreResult<bool> {
        Ok(self.sign_out("key_hash = $1", params![key_hash]).await? > 0)
    }

    /// Signs out one session of a user, by its id (and its grants); returns whether it existed.
    pub async fn delete_session_of_user(&mut self, user: UserId, id: uuid::Uuid) -> StoreResult<bool> {
        Ok(self.sign_out("user_id = $1 AND uuid = $2", params![user, id]).await? > 0)
    }

    /// Signs out every session of a user (all of them, or those signed in through `source`), with
    /// their grants; returns how many sessions ended.
    pub async fn delete_sessions_of_user(&mut self, user: UserId, source: Option<SourceId>) -> StoreResult<u64> {
        match source {
            None => self.sign_out("user_id = $1", params![user]).await,
            Some(source) => self.sign_out("user_id = $1 AND source_uuid = $2", params![user, source]).await,
        }
    }

    /// Removes sessions past their absolute end or idle since `idle_before`, and expired pending
    /// sign-ins.
    pub async fn delete_stale_sessions(&mut self, now: Timestamp, idle_before: Timestamp) -> StoreResult<u64> {
        let ended = self
            .execute("DELETE FROM user_session WHERE expires <= $1 OR last_seen < $2", params![now, idle_before])
            .await?;
        self.execute("DELETE FROM pending_login WHERE expires <= $1", params![now]).await?;
        Ok(ended)
    }

    pub async fn insert_pending_login(
        &mut self,
        key_hash: &str,
        source: SourceId,
        payload: &str,
        expires: Timestamp,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO pending_login (key_hash, source_uuid, payload, expires) VALUES ($1, $2, $3, $4)",
            params![key_hash, source, payload, expires],
        )
        .await
        .map(drop)
    }

    pub async fn delete_pending_login(&mut self, key_hash: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM pending_login WHERE key_hash = $1", params![key_hash]).await? > 0)
    }
}
