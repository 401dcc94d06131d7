//! Keeping snapshots current across replicas (entitlements spec §5.6): a PostgreSQL `LISTEN`
//! on `dh_entitlements` (reconnecting with 0.5–10 s backoff; snapshots live at most 1 s while it
//! is down), or on SQLite a 500 ms poll of the version rows for other processes on the same file.
//! The same loop re-reads a `DEV_HEALTH_LICENSE` file every second and raises the clock mark
//! every 60 s.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use store::entitlements as rows;
use tokio_util::sync::CancellationToken;

use crate::App;

const POLL: Duration = Duration::from_millis(500);
const FILE_POLL: Duration = Duration::from_secs(1);
const CLOCK_EVERY: Duration = Duration::from_secs(60);

impl App {
    /// Runs the entitlement background work until `stop` is cancelled: cross-replica
    /// invalidation, the license file watch and the clock mark.
    pub async fn run_entitlements(&self, stop: CancellationToken) {
        let listen = self.listen_loop(stop.clone());
        let housekeeping = self.housekeeping_loop(stop);
        tokio::join!(listen, housekeeping);
    }

    async fn listen_loop(&self, stop: CancellationToken) {
        let engine = self.engine();
        if self.store().backend() == store::Backend::Sqlite {
            let mut seen: HashMap<String, i64> = HashMap::new();
            // The first poll only learns the versions; after it, a scope that appears (an
            // org's first change creates its row) is a change like any other.
            let mut first = true;
            loop {
                if let Ok(mut c) = self.store().acquire().await
                    && let Ok(versions) = rows::versions(&mut c.conn()).await
                {
                    for (scope, v) in versions {
                        let before = seen.insert(scope.clone(), v);
                        if before.map_or(!first, |old| old != v) {
                            self.invalidated(&scope);
                        }
                    }
                    first = false;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
        let mut backoff = Duration::from_millis(500);
        loop {
            let listener = tokio::select! {
                () = stop.cancelled() => return,
                l = self.store().listen(rows::CHANNEL) => l,
            };
            match listener {
                Ok(Some(mut l)) => {
                    // Anything may have changed while we were not listening.
                    engine.invalidate(rows::GLOBAL);
                    engine.listening.store(true, Ordering::SeqCst);
                    backoff = Duration::from_millis(500);
                    loop {
                        let next = tokio::select! {
                            () = stop.cancelled() => return,
                            n = l.recv() => n,
                        };
                        match next {
                            Ok(Some(payload)) => {
                                let scope = payload.split(':').next().unwrap_or(rows::GLOBAL);
                                self.invalidated(scope);
                            }
                            Ok(None) | Err(_) => break,
                        }
                    }
                    tracing::warn!(
                        "entitlement notifications lost; snapshots now live at most 1 s"
                    );
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "cannot listen for entitlement changes"),
            }
            engine.listening.store(false, Ordering::SeqCst);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Another process changed `scope`: drop its snapshots; a global change (a license
    /// install or `admin license reload`) also re-reads a license file.
    fn invalidated(&self, scope: &str) {
        self.engine().invalidate(scope);
        if scope == rows::GLOBAL {
            self.reload_license_file(true);
        }
    }

    /// `dev-health admin license reload`: every replica re-reads its license file and drops its
    /// snapshots within a second.
    pub async fn request_license_reload(&self) -> crate::Result<()> {
        let mut tx = self.store().begin().await?;
        rows::bump(&mut tx.conn(), rows::GLOBAL).await?;
        tx.commit().await?;
        self.invalidated(rows::GLOBAL);
        Ok(())
    }

    async fn housekeeping_loop(&self, stop: CancellationToken) {
        let mut since_clock = CLOCK_EVERY;
        loop {
            self.reload_license_file(false);
            if since_clock >= CLOCK_EVERY {
                since_clock = Duration::ZERO;
                if let Err(e) = self.observe_clock().await {
                    tracing::warn!(error = %e.message, "cannot raise the license clock mark");
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(FILE_POLL) => since_clock += FILE_POLL,
            }
        }
    }
}
