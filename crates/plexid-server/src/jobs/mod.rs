//! Background jobs: the source-token check (spec §5 with D21), the access sweep (D3) and the
//! removal of ended sessions. Each job is a plain async function over [`crate::service`] and the
//! application state's [`crate::clock::Clock`], so tests run it at a chosen time instead of
//! waiting.
//!
//! With several instances on one database, each job runs on one of them at a time, once per
//! interval:
//! - a run first takes the job's row in `job_lease`, which it can only do when the job is due
//!   (`next_run`, an interval after the last run was taken) and nobody holds it (`expires`);
//! - the lease is short ([`LEASE`]) and renewed every [`RENEW_EVERY`] while the job runs, so a
//!   run slower than its interval still holds it, and a crashed instance's lease frees itself;
//! - every write of a job goes through [`Lease::begin`], which checks inside the write's own
//!   transaction that the lease is still this run's (and locks it until the commit): a run that
//!   lost its lease writes nothing more;
//! - each job runs in its own task, supervised: a panic is logged at error and the job runs
//!   again at its next interval, while the other jobs go on; each run reads its own `now`.

pub mod access;
pub mod token_check;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use plexid_core::time::later;
use plexid_store::Tx;

use crate::service::{sessions, ServiceError, ServiceResult};
use crate::state::AppState;

/// How often each job's task looks whether its job is due.
const TICK: Duration = Duration::from_secs(5);
/// How long a lease lasts unless renewed.
pub const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// How often a running job's lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// A background job and how often it runs.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: &'static str,
    pub every: jiff::SignedDuration,
}

/// The jobs.
pub fn schedule(state: &AppState) -> [Job; 3] {
    [
        Job { name: "token_check", every: state.settings.token_check_interval.0 },
        Job { name: access::JOB, every: state.settings.access_check_interval.0 },
        Job { name: "session_cleanup", every: jiff::SignedDuration::from_mins(10) },
    ]
}

/// A job run's hold on its lease. Every write of a job starts with [`Lease::begin`].
#[derive(Clone, Default)]
pub struct Lease {
    held: Option<Arc<Held>>,
}

struct Held {
    job: &'static str,
    holder: String,
    lost: AtomicBool,
}

impl Lease {
    /// No lease: the job runs as asked (tests, or a run started by hand).
    pub fn none() -> Lease {
        Lease::default()
    }

    fn held(job: &'static str, holder: &str) -> Lease {
        Lease { held: Some(Arc::new(Held { job, holder: holder.to_owned(), lost: AtomicBool::new(false) })) }
    }

    /// A transaction in which this run still holds its lease (checked, and locked until the
    /// transaction ends); an error once another instance has taken it over.
    pub async fn begin(&self, state: &AppState) -> ServiceResult<Tx> {
        let mut tx = state.store.begin().await?;
        if let Some(held) = &self.held {
            let holds = !held.lost.load(Ordering::SeqCst)
                && tx.conn().holds_lease(held.job, &held.holder, state.clock.now()).await?;
            if !holds {
                held.lost.store(true, Ordering::SeqCst);
                return Err(ServiceError::Internal(format!("the lease of {} was lost to another instance", held.job)));
            }
        }
        Ok(tx)
    }

    /// Keeps the lease while the job runs; returns only when it was taken by someone else.
    async fn keep(&self, state: &AppState) {
        let Some(held) = &self.held else { return std::future::pending().await };
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            let renewed = async {
                let mut tx = state.store.begin().await?;
                let until = later(state.clock.now(), LEASE);
                let renewed = tx.conn().renew_lease(held.job, &held.holder, until).await?;
                tx.commit().await?;
                Ok::<bool, ServiceError>(renewed)
            };
            match renewed.await {
                Ok(true) => {}
                Ok(false) => {
                    held.lost.store(true, Ordering::SeqCst);
                    tracing::warn!(job = held.job, "another instance took over the job's lease; this run stops");
                    return;
                }
                // The database may be back before the lease runs out; the writes check it.
                Err(error) => tracing::warn!(job = held.job, %error, "cannot renew the job's lease"),
            }
        }
    }

    async fn release(&self, state: &AppState) {
        let Some(held) = &self.held else { return };
        let released = async {
            let mut tx = state.store.begin().await?;
            tx.conn().release_lease(held.job, &held.holder, state.clock.now()).await?;
            Ok::<(), ServiceError>(tx.commit().await?)
        };
        if let Err(error) = released.await {
            tracing::warn!(job = held.job, %error, "cannot release the job's lease (it runs out by itself)");
        }
    }
}

/// Takes the lease of `job` for `holder` if the job is due now (on any instance).
async fn take(state: &AppState, job: Job, holder: &str) -> ServiceResult<Option<Lease>> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let taken = tx.conn().take_lease(job.name, holder, now, later(now, LEASE), later(now, job.every)).await?;
    tx.commit().await?;
    Ok(taken.then(|| Lease::held(job.name, holder)))
}

/// What runs a job: [`run_job`] (tests give another).
#[doc(hidden)]
pub type Runner = fn(AppState, Job, Lease) -> Pin<Box<dyn Future<Output = ServiceResult<()>> + Send>>;

fn real_runner(state: AppState, job: Job, lease: Lease) -> Pin<Box<dyn Future<Output = ServiceResult<()>> + Send>> {
    Box::pin(async move { run_job(&state, job, &lease).await })
}

/// Runs `job` under `lease`.
async fn run_job(state: &AppState, job: Job, lease: &Lease) -> ServiceResult<()> {
    match job.name {
        "token_check" => token_check::run_with(state, lease).await.map(drop),
        access::JOB => access::sweep_with(state, lease).await.map(drop),
        _ => {
            let mut tx = lease.begin(state).await?;
            sessions::sweep_stale_in(&mut tx.conn(), state, state.clock.now()).await?;
            Ok(tx.commit().await?)
        }
    }
}

/// Runs `job` with `runner` if it is due (taking its lease, keeping it while it runs, giving
/// it back after); returns whether it ran.
async fn run_if_due(state: &AppState, job: Job, holder: &str, runner: Runner) -> bool {
    let lease = match take(state, job, holder).await {
        Ok(Some(lease)) => lease,
        Ok(None) => return false,
        Err(error) => {
            tracing::warn!(job = job.name, %error, "cannot take the job's lease");
            return false;
        }
    };
    let result = tokio::select! {
        result = runner(state.clone(), job, lease.clone()) => result,
        () = lease.keep(state) => Err(ServiceError::Internal("the lease was lost to another instance".into())),
    };
    lease.release(state).await;
    state.metrics.job_run(job.name, result.is_ok());
    if let Err(error) = result {
        tracing::warn!(job = job.name, %error, "job failed");
    }
    true
}

/// Runs every job that is due now, one after the other; returns the names of those that ran.
pub async fn run_due(state: &AppState, holder: &str) -> Vec<&'static str> {
    let mut ran = Vec::new();
    for job in schedule(state) {
        if run_if_due(state, job, holder, real_runner).await {
            ran.push(job.name);
        }
    }
    ran
}

/// One job's task: every `tick`, the job runs if it is due, in a task of its own, so a panic
/// ends only that run: it is logged at error, the lease is given back, and the job runs again
/// when it is next due.
async fn supervise(state: AppState, job: Job, holder: Arc<str>, runner: Runner, tick: Duration) {
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (run_state, run_holder) = (state.clone(), Arc::clone(&holder));
        let run = tokio::spawn(async move { run_if_due(&run_state, job, &run_holder, runner).await });
        let Err(error) = run.await else { continue };
        if !error.is_panic() {
            return;
        }
        let panic = error.into_panic();
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        tracing::error!(job = job.name, panic = %message, "job panicked; it runs again when it is next due");
        Lease::held(job.name, &holder).release(&state).await;
    }
}

/// Starts the runner: one supervised task per job. Aborting the handle stops them all.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    let jobs = schedule(&state).to_vec();
    spawn_with(state, jobs, real_runner, TICK)
}

/// As [`spawn`], with other jobs, runner and tick (tests).
#[doc(hidden)]
pub fn spawn_with(state: AppState, jobs: Vec<Job>, runner: Runner, tick: Duration) -> tokio::task::JoinHandle<()> {
    let holder: Arc<str> = uuid::Uuid::new_v4().to_string().into();
    tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for job in jobs {
            tasks.spawn(supervise(state.clone(), job, Arc::clone(&holder), runner, tick));
        }
        while tasks.join_next().await.is_some() {}
    })
}
