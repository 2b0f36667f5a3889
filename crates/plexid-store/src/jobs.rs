//! What background jobs share between instances: leases (one runner of each job at a time
//! across every instance on one database, and when each job is due next) and the last results
//! per source, where each job writes only its own columns (the token check `token_*`, the access
//! sweep `sweep_*`), so neither can overwrite the other's.

use plexid_core::model::SourceState;
use plexid_core::{SourceId, Timestamp};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::params;
use crate::row::Param;
use crate::users::json_text;

/// What a source not checked yet shows.
fn unknown_state() -> SourceState {
    SourceState { token_state: "unknown".into(), ..Default::default() }
}

/// The stored health of one plex.tv call of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactState {
    pub fact: String,
    /// `ok`, `unavailable`, `rate_limited`, `rejected` or `gone`.
    pub state: String,
    pub since: Timestamp,
    pub detail: String,
}

impl<A: Access> Conn<'_, A> {
    /// The health of each plex.tv call of each of `sources`, by fact name.
    pub async fn fact_states(&mut self, sources: &[SourceId]) -> StoreResult<Vec<(SourceId, FactState)>> {
        let head =
            "SELECT source_uuid, fact, state, since, detail FROM plex_fact_state WHERE state <> '' AND source_uuid IN";
        let rows = self.rows_in(head, sources.iter().map(|s| Param::from(*s)), " ORDER BY fact").await?;
        rows.iter()
            .map(|row| {
                let state = FactState {
                    fact: row.text("fact")?,
                    state: row.text("state")?,
                    since: row.timestamp("since")?,
                    detail: row.text("detail")?,
                };
                Ok((SourceId(row.uuid("source_uuid")?), state))
            })
            .collect()
    }

    /// Does anyone hold the lease `name` at `now` (a run of that job may be under way)?
    pub async fn lease_held(&mut self, name: &str, now: Timestamp) -> StoreResult<bool> {
        let sql = "SELECT holder FROM job_lease WHERE name = $1 AND expires > $2";
        Ok(self.fetch_optional(sql, params![name, now]).await?.is_some())
    }

    pub async fn source_state(&mut self, source: SourceId) -> StoreResult<SourceState> {
        Ok(self.source_states(&[source]).await?.pop().map_or_else(unknown_state, |(_, state)| state))
    }

    /// The last results of each of `sources` (`unknown` for a source not checked yet), in one
    /// query, in the order asked.
    pub async fn source_states(&mut self, sources: &[SourceId]) -> StoreResult<Vec<(SourceId, SourceState)>> {
        let head = "SELECT source_uuid, token_state, token_checked, sweep_finished, sweep_summary FROM source_state \
                    WHERE source_uuid IN";
        let rows = self.rows_in(head, sources.iter().map(|s| Param::from(*s)), "").await?;
        let mut found = std::collections::HashMap::new();
        for row in &rows {
            let state = SourceState {
                token_state: row.text("token_state")?,
                token_checked: row.opt_timestamp("token_checked")?,
                sweep_finished: row.opt_timestamp("sweep_finished")?,
                sweep_summary: row.json("sweep_summary")?,
            };
            found.insert(SourceId(row.uuid("source_uuid")?), state);
        }
        Ok(sources.iter().map(|s| (*s, found.remove(s).unwrap_or_else(unknown_state))).collect())
    }
}

impl Conn<'_, ReadWrite> {
    /// Takes the lease `name` for `holder` until `until` when the job is due at `now` (its last
    /// run was taken at least an interval ago) and nobody holds it; the next run is due at
    /// `next`. Returns whether it was taken.
    pub async fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
        next: Timestamp,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "INSERT INTO job_lease (name, holder, expires, next_run) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires, \
                 next_run = excluded.next_run WHERE job_lease.expires <= $5 AND job_lease.next_run <= $5",
                params![name, holder, until, next, now],
            )
            .await?;
        Ok(changed > 0)
    }

    /// Extends `holder`'s lease on `name` to `until`; false when someone else holds it now.
    pub async fn renew_lease(&mut self, name: &str, holder: &str, until: Timestamp) -> StoreResult<bool> {
        let changed = self
            .execute("UPDATE job_lease SET expires = $3 WHERE name = $1 AND holder = $2", params![name, holder, until])
            .await?;
        Ok(changed > 0)
    }

    /// Records the state of a fact of `source` if it differs from the stored one (or none is
    /// stored); returns the state it replaced (`None` when new) when it wrote, nothing when the
    /// state was already this one. The row is locked, so concurrent instances record one change.
    pub async fn change_fact_state(
        &mut self,
        source: SourceId,
        new: &FactState,
    ) -> StoreResult<Option<Option<String>>> {
        // A row to lock first ('' stands for "nothing recorded yet").
        self.execute(
            "INSERT INTO plex_fact_state (source_uuid, fact, state, since) VALUES ($1, $2, '', $3) \
             ON CONFLICT (source_uuid, fact) DO NOTHING",
            params![source, &new.fact, new.since],
        )
        .await?;
        let lock = self.dialect().for_update();
        let row = self
            .fetch_one(
                &format!("SELECT state FROM plex_fact_state WHERE source_uuid = $1 AND fact = $2{lock}"),
                params![source, &new.fact],
            )
            .await?;
        let before = row.text("state")?;
        if before == new.state {
            return Ok(None);
        }
        self.execute(
            "UPDATE plex_fact_state SET state = $3, since = $4, detail = $5 WHERE source_uuid = $1 AND fact = $2",
            params![source, &new.fact, &new.state, new.since, &new.detail],
        )
        .await?;
        Ok(Some((!before.is_empty()).then_some(before)))
    }

    /// Does `holder` hold the lease `name` at `now`? The lease row stays locked until this
    /// transaction ends, so nobody can take it before this transaction's writes are committed.
    pub async fn holds_lease(&mut self, name: &str, holder: &str, now: Timestamp) -> StoreResult<bool> {
        let sql = format!(
            "SELECT holder FROM job_lease WHERE name = $1 AND holder = $2 AND expires > $3{}",
            self.dialect().for_update()
        );
        Ok(self.fetch_optional(&sql, params![name, holder, now]).await?.is_some())
    }

    /// Ends `holder`'s lease on `name` at `now` (the job's next run stays when it was due).
    pub async fn release_lease(&mut self, name: &str, holder: &str, now: Timestamp) -> StoreResult<()> {
        self.execute(
            "UPDATE job_lease SET expires = $3 WHERE name = $1 AND holder = $2 AND expires > $3",
            params![name, holder, now],
        )
        .await
        .map(drop)
    }

    /// Records the token check's result (only its columns).
    pub async fn save_token_state(&mut self, source: SourceId, state: &str, checked: Timestamp) -> StoreResult<()> {
        self.execute(
            "INSERT INTO source_state (source_uuid, token_state, token_checked) VALUES ($1, $2, $3) \
             ON CONFLICT (source_uuid) DO UPDATE SET token_state = excluded.token_state, \
             token_checked = excluded.token_checked",
            params![source, state, checked],
        )
        .await
        .map(drop)
    }

    /// Records an access sweep's end and summary (only its columns).
    pub async fn save_sweep_state(
        &mut self,
        source: SourceId,
        finished: Timestamp,
        summary: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO source_state (source_uuid, sweep_finished, sweep_summary) VALUES ($1, $2, $3) \
             ON CONFLICT (source_uuid) DO UPDATE SET sweep_finished = excluded.sweep_finished, \
             sweep_summary = excluded.sweep_summary",
            params![source, finished, json_text(summary)],
        )
        .await
        .map(drop)
    }
}
