//! Background jobs: the source-token check (spec §5 with D21), the access sweep (D3) and the
//! removal of ended sessions. Each job is a plain async function over [`crate::service`] and the
//! application state's [`crate::clock::Clock`], so tests run it at a chosen time instead of
//! waiting. With several instances on one database, a job runs on one of them per interval: it
//! first takes the job's lease row, which is free again only when the interval has passed.

pub mod access;
pub mod token_check;

use std::time::Duration;

use plexid_core::Timestamp;

use crate::service::{sessions, ServiceResult};
use crate::state::AppState;

/// How often the runner looks for due jobs.
const TICK: Duration = Duration::from_secs(5);

/// The jobs and how often each runs.
fn schedule(state: &AppState) -> [(&'static str, jiff::SignedDuration); 3] {
    [
        ("token_check", state.settings.token_check_interval.0),
        ("access_sweep", state.settings.access_check_interval.0),
        ("session_cleanup", jiff::SignedDuration::from_mins(10)),
    ]
}

/// Takes the lease of `job` until `now + every` if its last run is at least `every` ago (on any
/// instance).
async fn take(
    state: &AppState,
    job: &str,
    holder: &str,
    now: Timestamp,
    every: jiff::SignedDuration,
) -> ServiceResult<bool> {
    let mut tx = state.store.begin().await?;
    let taken = tx.conn().take_lease(job, holder, now, now + every).await?;
    tx.commit().await?;
    Ok(taken)
}

/// Runs every job that is due now; returns the names of those that ran.
pub async fn run_due(state: &AppState, holder: &str) -> Vec<&'static str> {
    let now = state.clock.now();
    let mut ran = Vec::new();
    for (job, every) in schedule(state) {
        match take(state, job, holder, now, every).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(job, %error, "cannot take the job's lease");
                continue;
            }
        }
        let result = match job {
            "token_check" => token_check::run(state).await.map(drop),
            "access_sweep" => access::sweep(state).await.map(drop),
            _ => sessions::sweep_stale(state).await.map(drop),
        };
        state.metrics.job_run(job, result.is_ok());
        if let Err(error) = result {
            tracing::warn!(job, %error, "job failed");
        }
        ran.push(job);
    }
    ran
}

/// Starts the runner: every few seconds, the due jobs run.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    let holder = uuid::Uuid::new_v4().to_string();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            run_due(&state, &holder).await;
        }
    })
}
