//! What other instances changed, for caches of who may do what (API tokens, sessions,
//! permissions). On PostgreSQL, triggers on those tables notify the `plexid_auth` channel and
//! every instance listens; each notification moves the [`Changes`] generation on, and a cache
//! entry is good only under the generation it was read at. While the listener is down (and
//! briefly after it reconnects) there is no generation, so nothing is cached. SQLite needs no
//! such cache: its reads are in-process.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

const CHANNEL: &str = "plexid_auth";

/// The generation counter of auth-relevant changes.
#[derive(Clone, Default)]
pub struct Changes {
    inner: Option<Arc<Feed>>,
}

#[derive(Default)]
struct Feed {
    generation: AtomicU64,
    listening: AtomicBool,
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
                    if listener.listen(CHANNEL).await.is_ok() {
                        task_feed.generation.fetch_add(1, Ordering::SeqCst);
                        task_feed.listening.store(true, Ordering::SeqCst);
                        // `Ok(None)`: the connection was lost and notifications may have been
                        // missed; start over with a new listener.
                        while let Ok(Some(_)) = listener.try_recv().await {
                            task_feed.generation.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                task_feed.listening.store(false, Ordering::SeqCst);
                task_feed.generation.fetch_add(1, Ordering::SeqCst);
                if pool.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Changes { inner: Some(feed) }
    }

    /// Moves the generation on (this instance committed a write).
    pub fn bump(&self) {
        if let Some(feed) = &self.inner {
            feed.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The current generation, if cached auth data may be used at all. Read it *before*
    /// reading what is to be cached.
    pub fn generation(&self) -> Option<u64> {
        let feed = self.inner.as_ref()?;
        feed.listening.load(Ordering::SeqCst).then(|| feed.generation.load(Ordering::SeqCst))
    }
}
