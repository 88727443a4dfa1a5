//! Retry decisions as pure functions: which statuses are worth another try, how long
//! `Retry-After` asks us to wait (seconds or an HTTP date), and the jittered exponential backoff
//! used when it does not say.
//!
//! No sleeping and no clock reading here: `client` passes `now` and a random source in, so these
//! are tested exactly.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::config::RetryPolicy;

/// The longest `Retry-After` we take literally; a larger one is capped (and then usually runs
/// into the listing's deadline, which is reported). Graph's throttling windows are seconds to a
/// few minutes.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Whether Graph documents this status as transient: 429 (throttled), 503 and 504, and 502 from
/// the gateways in front of it. 500 is not retried: Graph uses it for errors that repeat.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The wait a `Retry-After` header asks for: delay-seconds, or an HTTP date (a date in the past
/// means now). `None` when the header is absent or unreadable, so backoff applies.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    // Some servers send fractional seconds; take them rather than fall back to backoff.
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(
                seconds.min(MAX_RETRY_AFTER.as_secs_f64()),
            ));
        }
        return None;
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The backoff before retry number `retry` (0 for the first retry): `initial * 2^retry`, capped
/// at `max_backoff`, then "equal jitter": a uniform pick in the upper half, so clients throttled
/// together do not come back together, yet each still waits at least half the nominal time.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32, rng: &mut impl Rng) -> Duration {
    let factor = 2u32.saturating_pow(retry.min(20));
    let nominal = policy
        .initial_backoff
        .saturating_mul(factor)
        .min(policy.max_backoff);
    let half = nominal / 2;
    let jitter_nanos = rng.random_range(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_nanos(jitter_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let cases: &[(&str, Option<Duration>)] = &[
            ("1", Some(Duration::from_secs(1))),
            (" 120 ", Some(Duration::from_secs(120))),
            ("0", Some(Duration::ZERO)),
            ("0.5", Some(Duration::from_millis(500))),
            ("100000", Some(MAX_RETRY_AFTER)),
            // 2015-10-21 07:28:00 GMT is `now`; ten seconds on, and a date already past.
            (
                "Wed, 21 Oct 2015 07:28:10 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(Duration::ZERO)),
            ("soon", None),
            ("-3", None),
            ("", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, now), *expected, "{value:?}");
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_stays_in_the_upper_half() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let nominal = [100u64, 200, 400, 800, 1000, 1000, 1000];
        for (retry, nominal) in nominal.iter().enumerate() {
            for _ in 0..50 {
                let wait = backoff(&policy, retry as u32, &mut rng);
                let nominal = Duration::from_millis(*nominal);
                assert!(
                    wait >= nominal / 2 && wait <= nominal,
                    "retry {retry}: {wait:?}"
                );
            }
        }
        // Huge retry numbers neither overflow nor exceed the cap.
        assert!(backoff(&policy, u32::MAX, &mut rng) <= policy.max_backoff);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 410, 500] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
