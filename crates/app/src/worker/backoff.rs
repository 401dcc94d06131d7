//! Retry delays: exponential with jitter, capped.

use std::time::Duration;

use rand::Rng;

/// `delay(n) = min(max, base · 2^(n−1))`, of which the upper half is random ("equal jitter"),
/// so retries of many jobs that failed together spread out but never retry instantly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub base: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
        };
        half + jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_is_capped() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for attempt in 1..=10u32 {
            let full = Duration::from_secs(1u64 << (attempt - 1)).min(Duration::from_secs(60));
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        assert!(b.delay(u32::MAX) <= Duration::from_secs(60));
    }
}
