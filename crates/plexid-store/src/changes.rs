//! What other instances changed, for caches on PostgreSQL. Two generations, moved on by
//! notifications that triggers send at commit and every instance listens for:
//! - the auth generation (channel `plexid_auth`, from the tables of who may do what: API tokens,
//!   sessions, permissions, …), for the credential and access caches;
//! - the data generation (channel `plexid_data`, from a statement trigger on every table), for
//!   the read cache of [`crate::engine`].
//!
//! A cache entry is good only under the generation it was read at. While the listener is down
//! (and briefly after it reconnects) there is no generation, so nothing is cached. This
//! instance's own commits move both on at once, so it reads its own writes; another instance
//! sees them when the notification arrives (sub-millisecond on one host). SQLite needs no feed:
//! its read cache checks `PRAGMA data_version`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

const AUTH_CHANNEL: &str = "plexid_auth";
const DATA_CHANNEL: &str = "plexid_data";

/// The generation counters of changes.
#[derive(Clone, Default)]
pub struct Changes {
    inner: Option<Arc<Feed>>,
}

#[derive(Default)]
struct Feed {
    auth: AtomicU64,
    data: AtomicU64,
    listening: AtomicBool,
}

impl Feed {
    fn bump_all(&self) {
        self.auth.fetch_add(1, Ordering::SeqCst);
        self.data.fetch_add(1, Ordering::SeqCst);
    }

    fn current(&self, counter: &AtomicU64) -> Option<u64> {
        self.listening.load(Ordering::SeqCst).then(|| counter.load(Ordering::SeqCst))
    }
}

impl Changes {
    /// No feed: nothing may be cached.
    pub fn none() -> Self {
        Changes { inner: None }
    }

    /// Listens on `pool`'s database in a background task (reconnecting after failures).
    pub fn listen(pool: PgPool) -> Self {
        let feed = Arc::new(Feed::default());
        let task_feed = Arc::clone(&feed);
        tokio::spawn(async move {
            loop {
                if let Ok(mut listener) = PgListener::connect_with(&pool).await {
                    if listener.listen_all([AUTH_CHANNEL, DATA_CHANNEL]).await.is_ok() {
                        task_feed.bump_all();
                        task_feed.listening.store(true, Ordering::SeqCst);
                        // `Ok(None)`: the connection was lost and notifications may have been
                        // missed; start over with a new listener.
                        while let Ok(Some(notification)) = listener.try_recv().await {
                            if notification.channel() == AUTH_CHANNEL {
                                task_feed.bump_all();
                            } else {
                                task_feed.data.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                }
                task_feed.listening.store(false, Ordering::SeqCst);
                task_feed.bump_all();
                if pool.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
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
        feed.current(&feed.auth)
    }

    /// The current data generation, if cached reads may be used at all. Read it *before* the
    /// read that is to be cached.
    pub fn data_generation(&self) -> Option<u64> {
        let feed = self.inner.as_ref()?;
        feed.current(&feed.data)
    }
}
