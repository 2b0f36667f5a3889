//! Memory the allocator keeps after it was freed. glibc's malloc gives threads that contend
//! their own arenas (up to eight per core) and keeps what is freed inside them for later use;
//! plexid's SQLite reads run on blocking threads, so under load many arenas each hold freed
//! memory. At 100,000 users, after the scale run's requests, glibc held 171 MB taken from the
//! system with 35 MB in use (`malloc_stats`), and `malloc_trim` took resident memory from 183 to
//! 83 MiB (`bench/README.md`). So the server hands freed memory back every [`RELEASE_EVERY`].

use std::time::Duration;

/// How often freed memory goes back to the system while the server runs.
pub const RELEASE_EVERY: Duration = Duration::from_secs(5);

/// Returns memory freed in the allocator's arenas to the system (glibc's `malloc_trim`; other
/// allocators do it themselves, so elsewhere this does nothing).
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it walks glibc's own arenas under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Calls [`release_freed`] every [`RELEASE_EVERY`] (off the async threads) until aborted.
pub fn spawn() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut every = tokio::time::interval(RELEASE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let _ = tokio::task::spawn_blocking(release_freed).await;
        }
    })
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    /// Resident memory of this process, in bytes.
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Memory freed between blocks still in use stays resident until released.
    #[test]
    fn freed_memory_goes_back_to_the_system() {
        const BLOCK: usize = 4096;
        let mut blocks: Vec<Vec<u8>> = (0..64 * 1024 * 1024 / BLOCK).map(|_| vec![1u8; BLOCK]).collect();
        // Every 64th block stays: the freed ones are holes glibc cannot give back on its own.
        let kept: Vec<Vec<u8>> = blocks.iter_mut().step_by(64).map(std::mem::take).collect();
        drop(blocks);
        let before = resident();
        super::release_freed();
        let after = resident();
        assert!(after + 32 * 1024 * 1024 < before, "resident {before} before, {after} after");
        drop(kept);
    }
}
