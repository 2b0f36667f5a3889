//! What background jobs share between instances: leases (one runner at a time across every
//! instance on one database) and the last results per source.

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

impl<A: Access> Conn<'_, A> {
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
    /// Takes the lease `name` for `holder` until `until`, unless the lease (anyone's) still runs
    /// at `now`. Returns whether it was taken.
    pub async fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "INSERT INTO job_lease (name, holder, expires) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires \
                 WHERE job_lease.expires <= $4",
                params![name, holder, until, now],
            )
            .await?;
        Ok(changed > 0)
    }

    /// Gives the lease back early (only if `holder` still holds it).
    pub async fn release_lease(&mut self, name: &str, holder: &str) -> StoreResult<()> {
        self.execute("DELETE FROM job_lease WHERE name = $1 AND holder = $2", params![name, holder]).await.map(drop)
    }

    pub async fn save_source_state(&mut self, source: SourceId, state: &SourceState) -> StoreResult<()> {
        self.execute(
            "INSERT INTO source_state (source_uuid, token_state, token_checked, sweep_finished, sweep_summary) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source_uuid) DO UPDATE SET token_state = excluded.token_state, \
             token_checked = excluded.token_checked, sweep_finished = excluded.sweep_finished, \
             sweep_summary = excluded.sweep_summary",
            params![
                source,
                &state.token_state,
                state.token_checked,
                state.sweep_finished,
                json_text(&state.sweep_summary)
            ],
        )
        .await
        .map(drop)
    }
}
