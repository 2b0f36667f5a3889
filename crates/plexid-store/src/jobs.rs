//! What background jobs share between instances: leases (one runner at a time across every
//! instance on one database) and the last results per source.

use plexid_core::model::SourceState;
use plexid_core::{SourceId, Timestamp};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::params;
use crate::users::json_text;

impl<A: Access> Conn<'_, A> {
    pub async fn source_state(&mut self, source: SourceId) -> StoreResult<SourceState> {
        let row = self
            .fetch_optional(
                "SELECT token_state, token_checked, sweep_finished, sweep_summary FROM source_state WHERE source_uuid = $1",
                params![source],
            )
            .await?;
        let Some(row) = row else {
            return Ok(SourceState { token_state: "unknown".into(), ..Default::default() });
        };
        Ok(SourceState {
            token_state: row.text("token_state")?,
            token_checked: row.opt_timestamp("token_checked")?,
            sweep_finished: row.opt_timestamp("sweep_finished")?,
            sweep_summary: row.json("sweep_summary")?,
        })
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
