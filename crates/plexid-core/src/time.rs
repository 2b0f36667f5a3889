//! Time arithmetic that cannot panic. jiff's `Timestamp + SignedDuration` panics beyond its range
//! (years -9999 to 9999); settings are bounded when read (`plexid_server::config`), but a moment
//! plus a length of time is always computed with these, so no setting, stored value or client
//! can turn an addition into a crash: results saturate at the ends of the range.

use jiff::{SignedDuration, Timestamp};

/// `at + length`, or the latest (earliest) representable moment if that is out of range.
pub fn later(at: Timestamp, length: SignedDuration) -> Timestamp {
    at.checked_add(length).unwrap_or(if length.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
}

/// `at - length`, saturating like [`later`].
pub fn earlier(at: Timestamp, length: SignedDuration) -> Timestamp {
    at.checked_sub(length).unwrap_or(if length.is_negative() { Timestamp::MAX } else { Timestamp::MIN })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_instead_of_panicking() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let huge = SignedDuration::from_secs(999_999_999_999);
        assert_eq!(later(now, huge), Timestamp::MAX);
        assert_eq!(earlier(now, huge), Timestamp::MIN);
        assert_eq!(later(now, -huge), Timestamp::MIN);
        assert_eq!(later(now, SignedDuration::from_secs(60)), Timestamp::from_second(1_700_000_060).unwrap());
        assert_eq!(earlier(now, SignedDuration::from_secs(60)), Timestamp::from_second(1_699_999_940).unwrap());
    }
}
