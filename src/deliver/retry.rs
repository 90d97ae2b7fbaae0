//! What to do after an attempt — a pure classification of ITOC360's answer
//! — and when to try again: exponential backoff with jitter, capped, and
//! `Retry-After` honoured.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How one attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Delivered,
    /// Worth sending again unchanged (408, 429, 5xx, no answer).
    Retry {
        retry_after: Option<Duration>,
    },
    /// Will never be accepted as sent (any other 4xx, or an odd status).
    Dead,
}

/// Classifies an HTTP answer. `None` status means no answer came
/// (refused, reset, timeout, DNS, TLS).
pub fn classify(status: Option<u16>, retry_after: Option<Duration>) -> Answered {
    match status {
        None => Answered::Retry { retry_after: None },
        Some(200..=299) => Answered::Delivered,
        Some(408 | 429) | Some(500..=599) => Answered::Retry { retry_after },
        Some(_) => Answered::Dead,
    }
}

/// Reads `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub base: Duration,
    pub cap: Duration,
    pub give_up_after: Duration,
}

impl Schedule {
    /// The delay before attempt `attempt + 1` (`attempt` counts from 1):
    /// base × 2^(attempt-1), capped, then "equal jitter" — a random point
    /// in its upper half — with `jitter` in [0, 1). A `Retry-After` wins
    /// when given.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(d) = retry_after {
            return d;
        }
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(30));
        let d = exp.min(self.cap);
        d.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// When to try again, or `None` when the next try would fall past the
    /// give-up age counted from `queued_at`.
    pub fn next_attempt(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
        now: DateTime<Utc>,
        queued_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let at = now + chrono::Duration::from_std(self.delay(attempt, retry_after, jitter)).ok()?;
        let deadline = queued_at + chrono::Duration::from_std(self.give_up_after).ok()?;
        (at <= deadline).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn classification_table() {
        let ra = Some(Duration::from_secs(7));
        let rows = [
            (Some(200), None, Answered::Delivered),
            (Some(202), None, Answered::Delivered),
            (Some(408), None, Answered::Retry { retry_after: None }),
            (Some(429), ra, Answered::Retry { retry_after: ra }),
            (Some(500), None, Answered::Retry { retry_after: None }),
            (Some(503), ra, Answered::Retry { retry_after: ra }),
            (None, None, Answered::Retry { retry_after: None }),
            (Some(400), None, Answered::Dead),
            (Some(401), None, Answered::Dead),
            (Some(402), None, Answered::Dead),
            (Some(404), None, Answered::Dead),
            (Some(422), None, Answered::Dead),
            (Some(301), None, Answered::Dead),
        ];
        for (status, retry_after, want) in rows {
            assert_eq!(classify(status, retry_after), want, "{status:?}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 0).unwrap();
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Tue, 04 Mar 2025 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue, 04 Mar 2025 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let s = Schedule {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
        };
        assert_eq!(s.delay(1, None, 1.0), Duration::from_secs(1));
        assert_eq!(s.delay(2, None, 1.0), Duration::from_secs(2));
        assert_eq!(s.delay(3, None, 1.0), Duration::from_secs(4));
        assert_eq!(s.delay(3, None, 0.0), Duration::from_secs(2));
        assert_eq!(s.delay(20, None, 1.0), Duration::from_secs(60));
        assert_eq!(s.delay(200, None, 1.0), Duration::from_secs(60));
        assert_eq!(
            s.delay(3, Some(Duration::from_secs(9)), 0.0),
            Duration::from_secs(9)
        );
    }

    #[test]
    fn gives_up_past_the_age() {
        let s = Schedule {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(10),
            give_up_after: Duration::from_secs(60),
        };
        let q = Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 0).unwrap();
        assert!(s.next_attempt(1, None, 1.0, q, q).is_some());
        assert!(
            s.next_attempt(1, None, 1.0, q + chrono::Duration::seconds(50), q)
                .is_some()
        );
        assert!(
            s.next_attempt(1, None, 1.0, q + chrono::Duration::seconds(51), q)
                .is_none()
        );
    }
}
