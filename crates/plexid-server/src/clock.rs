//! Time, from one place. Every part of plexid reads the time from the [`Clock`] in the
//! application state (clippy.toml forbids reading the system clock anywhere else), so tests move
//! a manual clock instead of sleeping. Times print as authentik does: ISO-8601 with
//! microseconds and `Z`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use plexid_core::Timestamp;

/// The current time: the system's, or a manual one that tests set and advance.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Microseconds since the epoch of a manual clock; `None` for the system clock.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stands still at `start` until moved.
    pub fn manual(start: Timestamp) -> Self {
        Clock { manual: Some(Arc::new(AtomicI64::new(start.as_microsecond()))) }
    }

    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => Timestamp::now(),
            Some(micros) => Timestamp::from_microsecond(micros.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(micros) = &self.manual {
            micros.fetch_add(by.as_micros() as i64, Ordering::SeqCst);
        }
    }
}

/// `2026-11-23T00:16:49.560849Z`
pub fn iso8601(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A moment as the pages show it: to the second, in UTC, such as `2026-12-06 23:41:39 UTC`.
pub fn readable(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Parses what Django's `DateTimeField` accepts: `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]` with an
/// optional `Z` or `±HH:MM` offset (no offset means UTC, plexid's time zone).
pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let civil: jiff::civil::DateTime = text.replacen(' ', "T", 1).parse().ok()?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_microsecond(micros).unwrap()
    }

    #[test]
    fn formats_like_authentik() {
        assert_eq!(iso8601(at(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(iso8601(at(1_795_393_009_560_849)), "2026-11-23T00:16:49.560849Z");
    }

    #[test]
    fn pages_show_seconds_in_utc() {
        assert_eq!(readable(at(1_795_393_009_560_849)), "2026-11-23 00:16:49 UTC");
    }

    #[test]
    fn parses_what_it_prints_offsets_and_naive_times() {
        for micros in [0, 1_795_393_009_560_849, 951_782_400_000_001] {
            assert_eq!(parse_iso8601(&iso8601(at(micros))), Some(at(micros)));
        }
        assert_eq!(parse_iso8601("2026-11-23T01:16:49.560849+01:00"), Some(at(1_795_393_009_560_849)));
        assert_eq!(parse_iso8601("2026-11-23 00:16:49.560849"), Some(at(1_795_393_009_560_849)));
        assert_eq!(parse_iso8601("2026-11-23T00:16"), Some(at(1_795_393_009_560_849 - 49_560_849)));
        assert_eq!(parse_iso8601("nope"), None);
        assert_eq!(parse_iso8601("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn manual_clocks_move_only_when_told() {
        let clock = Clock::manual(at(1_000_000));
        assert_eq!(clock.now(), at(1_000_000));
        clock.advance(std::time::Duration::from_secs(2));
        assert_eq!(clock.now(), at(3_000_000));
        let copy = clock.clone();
        copy.advance(std::time::Duration::from_micros(1));
        assert_eq!(clock.now(), at(3_000_001), "clones share the time");
    }
}
