//! Backoff with full jitter (spec §3.3): attempt `n` waits a uniformly random time in
//! `[0, min(300 s, 1 s × 2^n)]`. The random source is a small seeded generator, so a test can
//! fix the seed and the client needs no global RNG.

use std::sync::Mutex;
use std::time::Duration;

/// The longest backoff step.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// Jittered exponential backoff.
#[derive(Debug)]
pub(crate) struct Backoff {
    state: Mutex<u64>,
    cap: Duration,
}

impl Backoff {
    /// A backoff whose jitter starts from `seed`.
    pub(crate) fn new(seed: u64, cap: Duration) -> Backoff {
        Backoff {
            state: Mutex::new(seed),
            cap,
        }
    }

    /// The ceiling of attempt `attempt` (0-based): `min(cap, 1 s × 2^attempt)`.
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        Duration::from_secs(1u64.checked_shl(attempt.min(32)).unwrap_or(u64::MAX)).min(self.cap)
    }

    /// A jittered delay for attempt `attempt`, in `[0, ceiling]`.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.next() % ceiling.saturating_add(1))
    }

    /// splitmix64: tiny, seedable, good enough for spreading retries.
    fn next(&self) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_capped_ceiling() {
        let b = Backoff::new(7, BACKOFF_CAP);
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(3), Duration::from_secs(8));
        assert_eq!(b.ceiling(20), BACKOFF_CAP);
        for attempt in 0..12 {
            for _ in 0..50 {
                assert!(b.delay(attempt) <= b.ceiling(attempt));
            }
        }
    }
}
