//! Sign-in rate limits (D17): attempts per minute per client address and per source, counted in
//! fixed one-minute windows on this instance. An attempt over a limit is refused with the time
//! until its window ends (the `Retry-After` of the 429).
//!
//! The per-source limit protects plex.tv and plexid from a flood, which could otherwise lock
//! every member out: 600 attempts a minute from anywhere would fill it. So a browser that
//! signed in before (it holds a device cookie plexid signed, [`crate::crypto::Secrets::sign_device`])
//! is counted apart: by its own address and by itself, never against the source. A flood
//! without such cookies can only delay people signing in for the first time.

use std::collections::HashMap;
use std::sync::Mutex;

use plexid_core::Timestamp;

const WINDOW_SECS: i64 = 60;
/// Above this many tracked keys, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// Counts attempts per key in the current window.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// `per_minute == 0` never refuses.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    /// Counts an attempt for `key`; `Err(seconds)` when it is over the limit, with the seconds
    /// until the window ends.
    pub fn attempt(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let window = now.as_second().div_euclid(WINDOW_SECS);
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (w, _)| *w == window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= self.per_minute {
            let ends = (window + 1) * WINDOW_SECS;
            return Err((ends - now.as_second()).max(1) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The two limits of the sign-in endpoints.
#[derive(Debug)]
pub struct LoginLimits {
    pub per_client: RateLimiter,
    pub per_source: RateLimiter,
}

impl LoginLimits {
    pub fn new(per_client: u32, per_source: u32) -> Self {
        LoginLimits { per_client: RateLimiter::new(per_client), per_source: RateLimiter::new(per_source) }
    }

    /// Counts a sign-in attempt by `client_ip` through `source_slug`; `device` identifies a
    /// browser that signed in before (from its verified device cookie).
    pub fn attempt(&self, client_ip: &str, source_slug: &str, device: Option<&str>, now: Timestamp) -> Result<(), u64> {
        self.per_client.attempt(client_ip, now)?;
        match device {
            Some(device) => self.per_client.attempt(&format!("device:{device}"), now),
            None => self.per_source.attempt(source_slug, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn refuses_over_the_limit_until_the_window_ends() {
        let limiter = RateLimiter::new(2);
        assert_eq!(limiter.attempt("a", at(600)), Ok(()));
        assert_eq!(limiter.attempt("a", at(610)), Ok(()));
        assert_eq!(limiter.attempt("a", at(615)), Err(45));
        assert_eq!(limiter.attempt("b", at(615)), Ok(()), "keys are counted apart");
        assert_eq!(limiter.attempt("a", at(660)), Ok(()), "a new window");
    }

    #[test]
    fn zero_is_off() {
        let limiter = RateLimiter::new(0);
        for _ in 0..1000 {
            assert_eq!(limiter.attempt("a", at(0)), Ok(()));
        }
    }

    #[test]
    fn the_source_limit_applies_across_clients() {
        let limits = LoginLimits::new(10, 2);
        assert!(limits.attempt("1.1.1.1", "plex", None, at(0)).is_ok());
        assert!(limits.attempt("2.2.2.2", "plex", None, at(0)).is_ok());
        assert!(limits.attempt("3.3.3.3", "plex", None, at(0)).is_err());
        assert!(limits.attempt("3.3.3.3", "other", None, at(0)).is_ok());
    }

    #[test]
    fn a_flood_does_not_lock_out_returning_browsers() {
        let limits = LoginLimits::new(10, 2);
        for ip in ["1.1.1.1", "2.2.2.2"] {
            assert!(limits.attempt(ip, "plex", None, at(0)).is_ok());
        }
        assert!(limits.attempt("5.5.5.5", "plex", None, at(0)).is_err(), "the source is full");
        assert!(limits.attempt("5.5.5.5", "plex", Some("7.100"), at(0)).is_ok(), "a returning browser is not");
        // A device cookie has a budget of its own, whatever address it comes from.
        let limits = LoginLimits::new(2, 100);
        for ip in ["1.1.1.1", "2.2.2.2"] {
            assert!(limits.attempt(ip, "plex", Some("7.100"), at(0)).is_ok());
        }
        assert!(limits.attempt("3.3.3.3", "plex", Some("7.100"), at(0)).is_err());
    }
}
