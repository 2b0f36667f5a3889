//! Sign-in rate limits (D17): attempts per minute per client and per source, counted in fixed
//! one-minute windows on this instance. An attempt over a limit is refused with the time until
//! its window ends (the `Retry-After` of the 429).
//!
//! A client is its IPv4 address or its IPv6 /64 (one subscriber, one household, usually has a
//! whole /64, so its addresses count together). Memory stays bounded: only the current window's
//! counts are kept (a new window drops the old one whole), and at most [`MAX_KEYS`] keys are
//! counted in a window; keys beyond share one count, so a flood of new addresses cannot grow the
//! map, and is limited as one client.
//!
//! The per-source limit protects plex.tv and plexid from a flood, which could otherwise lock
//! every member out: 600 attempts a minute from anywhere would fill it. So a browser that
//! signed in before (it holds a device cookie plexid signed, [`crate::crypto::Secrets::sign_device`])
//! is counted apart: by its own address and by itself, never against the source. A flood
//! without such cookies can only delay people signing in for the first time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use plexid_core::Timestamp;

const WINDOW_SECS: i64 = 60;
/// Keys counted apart in one window; beyond, new keys share [`OVERFLOW`].
pub const MAX_KEYS: usize = 65_536;
const OVERFLOW: &str = "(every other client)";

/// Counts attempts per key in the current window.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    window: Mutex<Window>,
}

/// The current window's number and counts.
#[derive(Debug, Default)]
struct Window {
    number: i64,
    counts: HashMap<String, u32>,
}

impl RateLimiter {
    /// `per_minute == 0` never refuses.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute, window: Mutex::new(Window::default()) }
    }

    /// Counts an attempt for `key`; `Err(seconds)` when it is over the limit, with the seconds
    /// until the window ends.
    pub fn attempt(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let number = now.as_second().div_euclid(WINDOW_SECS);
        let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if window.number != number {
            *window = Window { number, counts: HashMap::new() };
        }
        let key = if window.counts.len() >= MAX_KEYS && !window.counts.contains_key(key) { OVERFLOW } else { key };
        let count = window.counts.entry(key.to_owned()).or_insert(0);
        if *count >= self.per_minute {
            let ends = (number + 1) * WINDOW_SECS;
            return Err((ends - now.as_second()).max(1) as u64);
        }
        *count += 1;
        Ok(())
    }

    /// How many keys the current window counts.
    pub fn keys(&self) -> usize {
        self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).counts.len()
    }
}

/// Whom a client address counts as: an IPv4 address itself (an IPv4-mapped IPv6 address too),
/// an IPv6 address its /64.
pub fn client_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => ip.to_owned(),
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
        self.per_client.attempt(&client_key(client_ip), now)?;
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
    fn the_map_is_bounded_and_old_windows_go_whole() {
        let limiter = RateLimiter::new(2);
        for i in 0..MAX_KEYS {
            assert_eq!(limiter.attempt(&format!("k{i}"), at(0)), Ok(()));
        }
        assert_eq!(limiter.attempt("new-1", at(1)), Ok(()), "new keys share one count");
        assert_eq!(limiter.attempt("new-2", at(1)), Ok(()));
        assert_eq!(limiter.attempt("new-3", at(1)), Err(59), "…and its limit");
        assert_eq!(limiter.attempt("k7", at(1)), Ok(()), "known keys keep their own");
        assert_eq!(limiter.keys(), MAX_KEYS + 1);
        assert_eq!(limiter.attempt("new-3", at(60)), Ok(()), "a new window");
        assert_eq!(limiter.keys(), 1, "the old window went whole");
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(client_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(client_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(client_key(""), "");
        let limits = LoginLimits::new(2, 100);
        assert!(limits.attempt("2001:db8::1", "plex", None, at(0)).is_ok());
        assert!(limits.attempt("2001:db8::2", "plex", None, at(0)).is_ok());
        assert!(limits.attempt("2001:db8::3", "plex", None, at(0)).is_err(), "one /64, one client");
        assert!(limits.attempt("2001:db8:0:1::3", "plex", None, at(0)).is_ok());
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
