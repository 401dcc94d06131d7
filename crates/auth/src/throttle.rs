//! Brute-force protection that cannot be turned into a lockout (identity spec §2.6): per-account
//! delays (never a lock) and per-IP token buckets. Pure arithmetic; `app` keeps the state in
//! `login_throttle` and `rate_buckets` and updates it atomically.

use chrono::{DateTime, Duration, Utc};

/// How long an account must wait after `failures` consecutive failed logins:
/// 0–4 → none, 5–9 → 5 s, 10–24 → 30 s, 25 and more → 60 s (at most about 77 guesses in the
/// first hour, under the ASVS ceiling of 100).
pub fn delay_after(failures: u32) -> Duration {
    match failures {
        0..=4 => Duration::zero(),
        5..=9 => Duration::seconds(5),
        10..=24 => Duration::seconds(30),
        _ => Duration::seconds(60),
    }
}

/// Failures are forgotten this long after the last one.
pub const FAILURE_WINDOW: Duration = Duration::hours(24);

/// A token bucket: `capacity` tokens, refilled continuously at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Burst size.
    pub capacity: f64,
    /// Refill rate.
    pub per_second: f64,
}

/// Per-IP bucket for login, break-glass, recovery, reset, verification and invite acceptance.
pub const AUTH_BUCKET: Bucket = Bucket {
    capacity: 20.0,
    per_second: 1.0 / 3.0,
};
/// Per-IP bucket for register, forgot-password and resend-verification.
pub const MAIL_BUCKET: Bucket = Bucket {
    capacity: 5.0,
    per_second: 5.0 / 3600.0,
};
/// Per-IP bucket for token refresh.
pub const REFRESH_BUCKET: Bucket = Bucket {
    capacity: 60.0,
    per_second: 1.0,
};
/// Per-IP bucket for SSO start, callback, ACS and discovery.
pub const SSO_BUCKET: Bucket = Bucket {
    capacity: 30.0,
    per_second: 0.5,
};

/// A bucket's stored state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketState {
    /// Tokens left at `at`.
    pub tokens: f64,
    /// When `tokens` was computed.
    pub at: DateTime<Utc>,
}

impl Bucket {
    /// A per-minute rate limit as a bucket (the `api_rate` limit: capacity n, refill n/60 per s).
    pub fn per_minute(n: u32) -> Self {
        Bucket {
            capacity: f64::from(n),
            per_second: f64::from(n) / 60.0,
        }
    }

    /// The state at `now` of a bucket last seen as `state` (`None`: a full, new bucket).
    pub fn refill(&self, state: Option<BucketState>, now: DateTime<Utc>) -> BucketState {
        let Some(s) = state else {
            return BucketState {
                tokens: self.capacity,
                at: now,
            };
        };
        let elapsed = (now - s.at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        BucketState {
            tokens: (s.tokens + elapsed * self.per_second).min(self.capacity),
            at: now,
        }
    }

    /// Takes one token at `now`: the new state, or how long until a token is available.
    pub fn take(
        &self,
        state: Option<BucketState>,
        now: DateTime<Utc>,
    ) -> Result<BucketState, Duration> {
        let s = self.refill(state, now);
        if s.tokens >= 1.0 {
            return Ok(BucketState {
                tokens: s.tokens - 1.0,
                at: now,
            });
        }
        let wait_s = if self.per_second > 0.0 {
            (1.0 - s.tokens) / self.per_second
        } else {
            f64::MAX
        };
        let millis = (wait_s * 1000.0).ceil().min(i64::MAX as f64) as i64;
        Err(Duration::try_milliseconds(millis).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn delays_grow_in_steps_and_never_lock() {
        let table = [
            (0, 0),
            (4, 0),
            (5, 5),
            (9, 5),
            (10, 30),
            (24, 30),
            (25, 60),
            (10_000, 60),
        ];
        for (failures, secs) in table {
            assert_eq!(delay_after(failures), Duration::seconds(secs), "{failures}");
        }
        // Guesses in the first hour, one as soon as allowed: under the ASVS ceiling of 100.
        let (mut t, mut failures, mut guesses) = (0i64, 0u32, 0);
        while t < 3600 {
            guesses += 1;
            failures += 1;
            t += delay_after(failures).num_seconds().max(1);
        }
        assert!(guesses <= 100, "{guesses}");
    }

    #[test]
    fn buckets_allow_bursts_then_refill_at_their_rate() {
        let mut state = None;
        for _ in 0..20 {
            state = Some(AUTH_BUCKET.take(state, t0()).unwrap());
        }
        let wait = AUTH_BUCKET.take(state, t0()).unwrap_err();
        assert_eq!(wait, Duration::seconds(3), "one token every 3 s");
        assert!(AUTH_BUCKET.take(state, t0() + Duration::seconds(3)).is_ok());
        let refilled = AUTH_BUCKET.refill(state, t0() + Duration::hours(1));
        assert_eq!(refilled.tokens, 20.0, "capped at capacity");
        let api = Bucket::per_minute(1000);
        assert_eq!((api.capacity, api.per_second), (1000.0, 1000.0 / 60.0));
        assert!(
            Bucket::per_minute(0).take(None, t0()).is_err(),
            "api_rate 0 allows nothing"
        );
    }
}
