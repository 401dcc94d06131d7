//! Password hashing off the async runtime, on a bounded number of slots (identity spec §2.8).
//!
//! Argon2id is deliberately expensive (~19 MiB and tens of milliseconds per hash), so hashing
//! runs on blocking threads, one slot per CPU by default. A request that waits longer than the
//! configured time for a slot answers 503 `busy` instead of queueing without bound, which is what
//! keeps a burst of logins from starving every other request.

use std::sync::Arc;
use std::time::Duration;

use auth::password::{CorruptHash, PasswordHasher, Verified};
use tokio::sync::Semaphore;

use crate::{AppError, ErrorKind};

/// The bounded hashing pool.
#[derive(Debug, Clone)]
pub struct PasswordPool {
    hasher: PasswordHasher,
    slots: Arc<Semaphore>,
    wait: Duration,
    /// Password checks run (real and dummy), so tests can prove both paths cost one check.
    checks: Arc<std::sync::atomic::AtomicU64>,
}

fn busy() -> AppError {
    AppError::new(
        ErrorKind::Unavailable,
        "busy",
        "The server is busy; try again in a few seconds.",
    )
}

impl PasswordPool {
    /// A pool with `slots` concurrent hashes (at least 1) and at most `wait` queueing.
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self::with_slots(Arc::new(Semaphore::new(slots.max(1))), wait)
    }

    /// One slot per CPU and a 5 s wait, as the spec sets.
    pub fn per_cpu() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cpus, Duration::from_secs(5))
    }

    fn with_slots(slots: Arc<Semaphore>, wait: Duration) -> Self {
        Self {
            hasher: PasswordHasher::new(),
            slots,
            wait,
            checks: Arc::default(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let hasher = self.hasher.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&hasher)
        })
        .await;
        result.map_err(|e| {
            tracing::error!(error = %e, "password hashing task failed");
            AppError::new(
                ErrorKind::Internal,
                "internal_error",
                "An unexpected error occurred.",
            )
        })
    }

    /// Hashes a (policy-checked) password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |h| h.hash(&password)).await
    }

    /// Checks a password against a stored hash.
    pub async fn verify(
        &self,
        password: String,
        phc: String,
    ) -> Result<Result<Verified, CorruptHash>, AppError> {
        self.count_check();
        self.run(move |h| h.verify(&password, &phc)).await
    }

    /// The same work without an account (unknown emails, SSO-only accounts).
    pub async fn verify_dummy(&self, password: String) -> Result<(), AppError> {
        self.count_check();
        self.run(move |h| h.verify_dummy(&password)).await
    }

    fn count_check(&self) {
        self.checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Password checks (real and dummy) run so far.
    pub fn checks(&self) -> u64 {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies_off_the_runtime() {
        let pool = PasswordPool::new(2, Duration::from_secs(5));
        let phc = pool
            .hash("correct horse battery staple".into())
            .await
            .unwrap();
        let ok = pool
            .verify("correct horse battery staple".into(), phc.clone())
            .await
            .unwrap()
            .unwrap();
        assert!(ok.ok && !ok.needs_rehash);
        let bad = pool
            .verify("wrong horse battery staple".into(), phc)
            .await
            .unwrap()
            .unwrap();
        assert!(!bad.ok);
        assert!(
            pool.verify("x".into(), "garbage".into())
                .await
                .unwrap()
                .is_err()
        );
        pool.verify_dummy("anything".into()).await.unwrap();
    }

    #[tokio::test]
    async fn a_request_that_cannot_get_a_slot_in_time_is_told_the_server_is_busy() {
        let slots = Arc::new(Semaphore::new(1));
        let pool = PasswordPool::with_slots(Arc::clone(&slots), Duration::from_millis(20));
        let held = Arc::clone(&slots).acquire_owned().await.unwrap();
        let err = pool
            .hash("correct horse battery staple".into())
            .await
            .unwrap_err();
        assert_eq!((err.kind, err.code), (ErrorKind::Unavailable, "busy"));
        drop(held);
        assert!(
            pool.hash("correct horse battery staple".into())
                .await
                .is_ok()
        );
        assert_eq!(
            slots.available_permits(),
            1,
            "the slot is returned after the work"
        );
    }
}
