//! What other instances changed, for caches on PostgreSQL. Two generations:
//! - the auth generation, moved on by the notifications (channel `plexid_auth`) that triggers on
//!   the tables of who may do what (API tokens, sessions, permissions, applications, …) send at
//!   commit, for the credential and access caches;
//! - the data generation, for the read cache of [`crate::engine`], moved on whenever the
//!   database's snapshot (`pg_current_snapshot()`, polled every [`POLL_EVERY`] on the listener's
//!   connection) shows that any transaction that wrote has ended since the last poll, and by
//!   every auth notification. No table notifies for it: PostgreSQL serialises the commits of all
//!   notifying transactions of a cluster behind one lock held through the commit's WAL flush,
//!   so a trigger on every table made every write on every instance commit one at a time
//!   (issue 23). A snapshot shows every commit, of every table, including tables added later;
//!   so another instance's write reaches this instance's read cache within [`POLL_EVERY`] (plus
//!   the poll's round trip). It also shows other schemas' and databases' commits (cached reads
//!   are then dropped for nothing).
//!
//! A cache entry is good only under the generation it was read at, and only while the listener
//! is *known* to be current. A `LISTEN` connection can die silently (a NAT or firewall dropping
//! an idle connection, a proxy in transaction mode): it then looks healthy and hears nothing.
//! So the listener proves itself: every [`PROBE_EVERY`] it notifies itself (`plexid_probe`, with
//! its own instance id and a sequence number) and waits to hear that notification. PostgreSQL
//! delivers notifications in commit order, so hearing a probe sent at `t` proves every change
//! committed before `t` has been heard; cached entries may be used until `t + FRESH_FOR`. A
//! probe not heard within [`PROBE_TIMEOUT`] (or any error) ends the connection: caches are off
//! (no generation) until a new connection has proven itself, and every generation moves on, so
//! nothing read before the gap is used after it. The data generation is also off when no poll
//! has answered within [`POLLED_FOR`]. Each change of state is logged (info when the listener is
//! proven, warn when it is lost). This instance's own commits move both generations on at
//! once, so it reads its own writes. SQLite needs no feed: its generation follows
//! `PRAGMA data_version` ([`crate::sqlite`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

const AUTH_CHANNEL: &str = "plexid_auth";
const PROBE_CHANNEL: &str = "plexid_probe";

/// How often the listener notifies itself.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A probe not heard within this ends the listener's connection.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long after a heard probe was sent cached entries may be used. With a probe every
/// second, a listener that stops hearing anything turns caches off within this.
pub const FRESH_FOR: Duration = Duration::from_secs(3);
/// How often the listener's connection reads the database's snapshot.
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// How long after a poll was sent cached reads may be used.
pub const POLLED_FOR: Duration = Duration::from_secs(1);
/// How long connecting (and subscribing) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between two attempts to connect.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The generation counters of changes.
#[derive(Clone, Default)]
pub struct Changes {
    inner: Option<Arc<Feed>>,
}

struct Feed {
    auth: AtomicU64,
    data: AtomicU64,
    /// The origin of `fresh_until`.
    base: Instant,
    /// Until when (nanoseconds after `base`) cached entries may be used; 0: not at all.
    fresh_until: AtomicU64,
    /// Until when (nanoseconds after `base`) the last poll of the snapshot vouches for the data
    /// generation.
    polled_until: AtomicU64,
}

impl Feed {
    fn new() -> Self {
        Feed {
            auth: AtomicU64::new(0),
            data: AtomicU64::new(0),
            base: Instant::now(),
            fresh_until: AtomicU64::new(0),
            polled_until: AtomicU64::new(0),
        }
    }

    fn bump_all(&self) {
        self.auth.fetch_add(1, Ordering::SeqCst);
        self.data.fetch_add(1, Ordering::SeqCst);
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    fn is_fresh_at(&self, now: Instant) -> bool {
        self.nanos(now) < self.fresh_until.load(Ordering::SeqCst)
    }

    /// Caches may be used until `until`. Returns whether they were off at `now`. (Entries
    /// cached before a pause on the same connection stay good: it delivers every notification,
    /// in order. A lost connection moves the generations on, in [`Feed::off`].)
    fn fresh_until(&self, until: Instant, now: Instant) -> bool {
        let was_fresh = self.is_fresh_at(now);
        self.fresh_until.fetch_max(self.nanos(until), Ordering::SeqCst);
        !was_fresh
    }

    fn off(&self) {
        self.fresh_until.store(0, Ordering::SeqCst);
        self.polled_until.store(0, Ordering::SeqCst);
        self.bump_all();
    }

    fn current(&self, counter: &AtomicU64, now: Instant) -> Option<u64> {
        self.is_fresh_at(now).then(|| counter.load(Ordering::SeqCst))
    }

    /// A poll sent at `sent` read `snapshot`; `last` is the one before (if any). The data
    /// generation moves on if they differ (or there was none: what happened before the first
    /// poll is unknown).
    fn polled(&self, last: &mut Option<String>, snapshot: String, sent: Instant) {
        if last.as_deref() != Some(snapshot.as_str()) {
            self.data.fetch_add(1, Ordering::SeqCst);
            *last = Some(snapshot);
        }
        self.polled_until.fetch_max(self.nanos(sent + POLLED_FOR), Ordering::SeqCst);
    }

    fn data_at(&self, now: Instant) -> Option<u64> {
        (self.nanos(now) < self.polled_until.load(Ordering::SeqCst)).then_some(())?;
        self.current(&self.data, now)
    }
}

/// Why a listener's connection ended.
enum Ended {
    /// The store was closed: stop.
    Closed,
    Lost(String),
}

impl Changes {
    /// No feed: nothing may be cached.
    pub fn none() -> Self {
        Changes { inner: None }
    }

    /// Listens on the database in a background task, on a connection of its own (`options`;
    /// never one of `pool`'s, which it only watches to stop when the store closes).
    pub fn listen(pool: PgPool, options: PgConnectOptions) -> Self {
        let feed = Arc::new(Feed::new());
        tokio::spawn(run(Arc::clone(&feed), pool, options));
        Changes { inner: Some(feed) }
    }

    /// Moves both generations on (this instance committed a write).
    pub fn bump(&self) {
        if let Some(feed) = &self.inner {
            feed.bump_all();
        }
    }

    /// The current auth generation, if cached auth data may be used at all. Read it *before*
    /// reading what is to be cached.
    pub fn generation(&self) -> Option<u64> {
        let feed = self.inner.as_ref()?;
        feed.current(&feed.auth, Instant::now())
    }

    /// The current data generation, if cached reads may be used at all. Read it *before* the
    /// read that is to be cached.
    pub fn data_generation(&self) -> Option<u64> {
        self.inner.as_ref()?.data_at(Instant::now())
    }
}

/// Connects, listens until the connection is lost, and again, until the store closes.
async fn run(feed: Arc<Feed>, pool: PgPool, options: PgConnectOptions) {
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let mut backoff = Duration::from_secs(1);
    // Failed connections since the listener last proved itself (only the first is a warning).
    let mut failures = 0u32;
    loop {
        let mut proven = false;
        let ended = listen_once(&feed, &pool, &options, &instance, &mut proven).await;
        feed.off();
        let reason = match ended {
            Ended::Closed => return,
            Ended::Lost(reason) => reason,
        };
        if proven {
            failures = 0;
            backoff = Duration::from_secs(1);
        }
        failures += 1;
        if failures == 1 {
            tracing::warn!(%reason, retry_in = ?backoff, "change listener lost; caches are off until it is back");
        } else {
            tracing::debug!(%reason, retry_in = ?backoff, "change listener still down");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        if pool.is_closed() {
            return;
        }
    }
}

/// One connection's life: subscribe, then hear notifications and prove liveness every
/// [`PROBE_EVERY`] until something fails.
async fn listen_once(
    feed: &Feed,
    pool: &PgPool,
    options: &PgConnectOptions,
    instance: &str,
    proven: &mut bool,
) -> Ended {
    // A pool of one connection of its own: a dead listener's connection never goes back into
    // the pool that serves queries.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options.clone());
    let ended = hear(feed, pool, &own, instance, proven).await;
    // Closing waits for the connection; a silently dead one must not hold this task.
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, own.close()).await;
    });
    ended
}

async fn hear(feed: &Feed, pool: &PgPool, own: &PgPool, instance: &str, proven: &mut bool) -> Ended {
    let lost = |what: &str, error: &dyn std::fmt::Display| Ended::Lost(format!("{what}: {error}"));
    let mut listener = match tokio::time::timeout(CONNECT_TIMEOUT, PgListener::connect_with(own)).await {
        Ok(Ok(listener)) => listener,
        Ok(Err(error)) => return lost("cannot connect", &error),
        Err(_) => return Ended::Lost(format!("cannot connect within {CONNECT_TIMEOUT:?}")),
    };
    listener.eager_reconnect(false);
    match tokio::time::timeout(CONNECT_TIMEOUT, listener.listen_all([AUTH_CHANNEL, PROBE_CHANNEL])).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return lost("cannot listen", &error),
        Err(_) => return Ended::Lost(format!("cannot listen within {CONNECT_TIMEOUT:?}")),
    }
    // The triggers name the schema a change was made in (notifications reach every listener of
    // the database); changes to other schemas are not ours. (An empty payload comes from the
    // triggers before migration 9, which replaces them in the same transaction as the tables it
    // upgrades, before any instance serves from this schema: it is never ours.)
    let schema = sqlx::query_scalar::<_, Option<String>>("SELECT current_schema()").fetch_one(&mut listener);
    let schema = match tokio::time::timeout(CONNECT_TIMEOUT, schema).await {
        Ok(Ok(schema)) => schema.unwrap_or_default(),
        Ok(Err(error)) => return lost("cannot read its schema", &error),
        Err(_) => return Ended::Lost(format!("cannot read its schema within {CONNECT_TIMEOUT:?}")),
    };
    let ours = |payload: &str| payload == schema;
    let mut ticker = tokio::time::interval(PROBE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poller = tokio::time::interval(POLL_EVERY);
    poller.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The snapshot the last poll read.
    let mut snapshot: Option<String> = None;
    let mut sequence = 0u64;
    // The probe sent and not heard yet: its payload and when it was sent.
    let mut waiting: Option<(String, Instant)> = None;
    loop {
        tokio::select! {
            heard = listener.try_recv() => match heard {
                Ok(Some(notification)) => match notification.channel() {
                    AUTH_CHANNEL if ours(notification.payload()) => feed.bump_all(),
                    AUTH_CHANNEL => {}
                    _ => {
                        if let Some((payload, sent)) = &waiting {
                            if notification.payload() == payload {
                                if feed.fresh_until(*sent + FRESH_FOR, Instant::now()) {
                                    tracing::info!("change listener is hearing itself; caches are on");
                                }
                                *proven = true;
                                waiting = None;
                            }
                        }
                    }
                },
                Ok(None) => return Ended::Lost("the connection was closed".into()),
                Err(error) => return lost("the connection failed", &error),
            },
            _ = poller.tick() => {
                let sent = Instant::now();
                let poll = sqlx::query_scalar::<_, String>("SELECT pg_current_snapshot()::text").fetch_one(&mut listener);
                match tokio::time::timeout(PROBE_TIMEOUT, poll).await {
                    Ok(Ok(now)) => feed.polled(&mut snapshot, now, sent),
                    Ok(Err(error)) => return lost("cannot read the snapshot", &error),
                    Err(_) => return Ended::Lost(format!("could not read the snapshot within {PROBE_TIMEOUT:?}")),
                }
            }
            _ = ticker.tick() => {
                if pool.is_closed() {
                    return Ended::Closed;
                }
                if let Some((_, sent)) = &waiting {
                    if sent.elapsed() > PROBE_TIMEOUT {
                        return Ended::Lost(format!("it did not hear its own notification within {PROBE_TIMEOUT:?}"));
                    }
                    continue;
                }
                sequence += 1;
                let payload = format!("{instance}:{sequence}");
                let sent = Instant::now();
                let probe = sqlx::query("SELECT pg_notify($1, $2)").bind(PROBE_CHANNEL).bind(&payload);
                match tokio::time::timeout(PROBE_TIMEOUT, probe.execute(&mut listener)).await {
                    Ok(Ok(_)) => waiting = Some((payload, sent)),
                    Ok(Err(error)) => return lost("cannot notify itself", &error),
                    Err(_) => return Ended::Lost(format!("could not notify itself within {PROBE_TIMEOUT:?}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_are_on_only_while_a_probe_vouches_for_them() {
        let feed = Feed::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(feed.current(&feed.auth, at(0)), None, "not proven yet");
        assert!(feed.fresh_until(at(200), at(0)), "switched on");
        let on = feed.current(&feed.auth, at(100)).expect("on");
        assert!(!feed.fresh_until(at(300), at(100)), "already on");
        assert_eq!(feed.current(&feed.auth, at(250)), Some(on), "still the same generation");
        assert_eq!(feed.current(&feed.auth, at(350)), None, "no probe heard since: off");
        assert!(feed.fresh_until(at(1000), at(400)));
        assert_eq!(feed.current(&feed.auth, at(500)), Some(on), "the same connection heard everything meanwhile");
        feed.off();
        assert_eq!(feed.current(&feed.data, at(500)), None);
        assert!(feed.fresh_until(at(2000), at(600)));
        assert!(feed.current(&feed.auth, at(700)).is_some_and(|g| g > on), "nothing cached before a lost connection");
    }

    #[test]
    fn the_data_generation_follows_the_snapshot_and_needs_a_recent_poll() {
        let feed = Feed::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        feed.fresh_until(at(10_000), at(0));
        assert_eq!(feed.data_at(at(0)), None, "never polled");
        let mut last = None;
        feed.polled(&mut last, "10:12:".into(), at(0));
        let first = feed.data_at(at(10)).expect("polled");
        feed.polled(&mut last, "10:12:".into(), at(100));
        assert_eq!(feed.data_at(at(110)), Some(first), "nothing ended between the polls");
        feed.polled(&mut last, "10:13:12".into(), at(200));
        assert!(feed.data_at(at(210)).is_some_and(|g| g > first), "a transaction ended");
        assert_eq!(feed.data_at(at(200) + POLLED_FOR + Duration::from_millis(1)), None, "no poll since");
    }
}
