//! Provider syncs as recorded runs (analytics spec §3, §5–§7): a run is created (one active per
//! org, source and dataset), the connector pass reads what changed since the stored cursor, or
//! continues from the stored checkpoint, and the records are written in batches with their
//! identities resolved and their facts recomputed. The cursor, the checkpoint and the ETags go
//! into the last batch's transaction, so the stored position never runs ahead of the stored
//! rows. A pass deferred by a rate limit ends the run `deferred` with `resume_at`; a pass with
//! skipped items ends it `partial`; a failed pass records the error and leaves the cursor
//! where it was (§3.2).
//!
//! `sync` never touches storage and `store` never speaks HTTP: this module is the join.

mod connection;
mod items;
mod pulls;
mod resume;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{IntegrationId, OrgId, SyncRunId};
use serde::Serialize;
use serde_json::json;
use store::analytics::cursors::{self, CursorKey};
use store::analytics::sync_runs::{self, NewRun, Outcome};
use sync::providers::pass::Counts;
use sync::providers::time::{Timekeeper, TokioSleeper};
use sync::providers::{Checkpoint, Error as ProviderError, HttpConfig, Pass, PassEnd};
use uuid::Uuid;

pub use connection::ConnectionView;
pub use resume::{SYNC_PROVIDER_KIND, SyncProviderHandler, SyncProviderInput};

use super::progress::{ProgressSink, Throttle};
use crate::{App, AppError, ErrorKind, Result};

/// Records written per transaction: small enough that no transaction stays open long.
const BATCH: usize = 100;

/// How a provider sync runs.
#[derive(Debug, Clone)]
pub struct ProviderSyncOptions {
    /// `cli`, `manual`, `schedule` or `webhook`.
    pub trigger: &'static str,
    /// The HTTP client's limits (the run's wait budget `sync.max_wait_s`, attempts).
    pub http: HttpConfig,
    /// The clock and sleeper of the HTTP client; the app's clock and real sleeping when
    /// absent (tests inject a manual clock and a recording sleeper).
    pub time: Option<Timekeeper>,
}

impl Default for ProviderSyncOptions {
    fn default() -> Self {
        ProviderSyncOptions {
            trigger: "cli",
            http: HttpConfig::default(),
            time: None,
        }
    }
}

/// What a provider sync did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSyncSummary {
    /// The run.
    pub run_id: SyncRunId,
    /// The repository or integration synced.
    pub source_id: Uuid,
    /// `pull_requests` or `work_items`.
    pub dataset: &'static str,
    /// `succeeded`, `partial` or `deferred` (or the other run's status when already running).
    pub status: String,
    /// Items listed, skipped as unchanged, fetched, returned incomplete; 304 list pages.
    pub counts: Counts,
    /// Records written by this run.
    pub written: u64,
    /// Identities created.
    pub identities_created: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Seconds spent waiting on rate limits and backoff.
    pub waited_s: u64,
    /// When a deferred run should resume.
    pub resume_at: Option<DateTime<Utc>>,
    /// Whether another run of this source was already going (nothing was done).
    pub already_running: bool,
}

/// A pass's result before it is recorded on the run.
struct Done {
    counts: Counts,
    partial: bool,
    resume_at: Option<DateTime<Utc>>,
    written: u64,
    identities_created: u64,
    requests: u64,
    waited_s: u64,
}

impl Done {
    fn status(&self) -> &'static str {
        if self.resume_at.is_some() {
            "deferred"
        } else if self.partial {
            "partial"
        } else {
            "succeeded"
        }
    }
}

/// A provider failure as the app reports it: what went wrong and what to do, never the token.
pub(crate) fn provider_error(e: ProviderError) -> AppError {
    let (kind, code) = match &e {
        ProviderError::Unauthorized { .. } => (ErrorKind::Invalid, "provider_unauthorized"),
        ProviderError::Permission { .. } => (ErrorKind::Invalid, "provider_forbidden"),
        ProviderError::NotFound { .. } => (ErrorKind::NotFound, "provider_not_found"),
        ProviderError::Exhausted { .. } | ProviderError::Deferred { .. } => {
            (ErrorKind::Unavailable, "provider_unavailable")
        }
        ProviderError::Config(_) => (ErrorKind::Invalid, "provider_config"),
        ProviderError::Status { .. } | ProviderError::GraphQl { .. } => {
            (ErrorKind::Invalid, "provider_error")
        }
        ProviderError::Decode { .. } => (ErrorKind::Unavailable, "provider_bad_response"),
    };
    AppError::new(kind, code, e.to_string())
}

fn cursor_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Progress of one run: to the sink always, to the run row at most once a second.
pub(crate) struct Reporter<'a> {
    app: &'a App,
    org: OrgId,
    run_id: SyncRunId,
    sink: &'a dyn ProgressSink,
    throttle: Throttle,
}

impl Reporter<'_> {
    async fn report(&mut self, phase: &'static str, done: u64, total: Option<u64>) -> Result<()> {
        let message = match total {
            Some(t) => format!("{done}/{t} {}", self.throttle_unit()),
            None => phase.replace('_', " "),
        };
        let (p, store) = self.throttle.report(phase, done, total, message);
        self.sink.report(&p);
        if store {
            let doc = serde_json::to_value(&p).unwrap_or_default();
            let mut c = self.app.store().acquire().await?;
            sync_runs::progress(&mut c.conn(), self.org, self.run_id, &doc).await?;
        }
        Ok(())
    }

    fn throttle_unit(&self) -> &'static str {
        self.throttle.unit()
    }
}

/// Where a pass's position is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    /// `repo` or `integration`.
    of: &'static str,
    source: Uuid,
    dataset: &'static str,
}

impl Position {
    fn key(&self) -> CursorKey<'static> {
        CursorKey {
            source_id: self.source,
            dataset: self.dataset,
            key: "",
        }
    }
}

impl App {
    fn timekeeper(&self, opts: &ProviderSyncOptions) -> Timekeeper {
        opts.time.clone().unwrap_or_else(|| Timekeeper {
            clock: self.clock().clone(),
            sleeper: Arc::new(TokioSleeper),
        })
    }

    /// Creates the run, or finds the one already going (`false`). A queued run ("Sync now"
    /// queued it with its `sync.provider` job) is started and taken over (`true`): it is the
    /// request this pass answers, so no second run is created beside it.
    async fn open_provider_run(
        &self,
        org: OrgId,
        at: Position,
        trigger: &'static str,
    ) -> Result<(sync_runs::SyncRun, bool)> {
        let now = self.clock().now();
        let mut c = self.store().acquire().await?;
        let (run, created) = sync_runs::create_or_existing(
            &mut c.conn(),
            org,
            NewRun {
                source_id: at.source,
                dataset: at.dataset,
                trigger,
                status: "running",
            },
            now,
        )
        .await?;
        if created || run.status != "queued" {
            return Ok((run, created));
        }
        sync_runs::start(&mut c.conn(), org, run.id, now).await?;
        Ok((run, true))
    }

    /// The stored cursor and checkpoint. An unreadable checkpoint restarts the pass from the
    /// cursor, which re-reads more but never loses an item.
    async fn load_position(
        &self,
        org: OrgId,
        at: Position,
    ) -> Result<(Option<DateTime<Utc>>, Option<Checkpoint>)> {
        let mut c = self.store().acquire().await?;
        let stored = cursors::get(&mut c.conn(), org, at.key()).await?;
        let cursor = stored
            .as_ref()
            .and_then(|s| s.cursor.as_deref())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let checkpoint = stored
            .and_then(|s| s.checkpoint)
            .and_then(|v| serde_json::from_value(v).ok());
        Ok((cursor, checkpoint))
    }

    /// Records how the run ended; a deferred run queues its resumption in the same
    /// transaction.
    async fn close_provider_run(
        &self,
        org: OrgId,
        at: Position,
        run_id: SyncRunId,
        result: &Result<Done>,
    ) -> Result<()> {
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        let mut c = tx.conn();
        match result {
            Ok(d) => {
                let counts = json!({
                    "listed": d.counts.listed, "unchanged": d.counts.unchanged,
                    "fetched": d.counts.fetched, "partial": d.counts.partial,
                    "not_modified": d.counts.not_modified, "written": d.written,
                    "identities_created": d.identities_created, "requests": d.requests,
                });
                let waited = i64::try_from(d.waited_s).unwrap_or(i64::MAX);
                sync_runs::add_wait(&mut c, org, run_id, waited).await?;
                let outcome = Outcome {
                    status: d.status(),
                    counts: &counts,
                    error_code: None,
                    error_message: None,
                    resume_at: d.resume_at,
                };
                sync_runs::finish(&mut c, org, run_id, &outcome, now).await?;
                if let Some(resume_at) = d.resume_at {
                    self.queue_resume(&mut c, org, at, resume_at).await?;
                }
            }
            Err(e) => {
                let counts = json!({});
                let outcome = Outcome {
                    status: "failed",
                    counts: &counts,
                    error_code: Some(e.code),
                    error_message: Some(&e.message),
                    resume_at: None,
                };
                sync_runs::finish(&mut c, org, run_id, &outcome, now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// What the last batch stores besides the records, in its transaction: the pass's ETags and
/// its position (cursor, and the checkpoint of a deferred pass).
async fn store_position<T>(
    conn: &mut store::Conn<'_>,
    org: OrgId,
    integration: IntegrationId,
    at: Position,
    pass: &Pass<T>,
    now: DateTime<Utc>,
) -> Result<()> {
    let checkpoint = match &pass.end {
        PassEnd::Complete => None,
        PassEnd::Deferred { checkpoint, .. } => serde_json::to_value(checkpoint).ok(),
    };
    let cursor = pass.cursor.map(cursor_text);
    store::analytics::etags::store(conn, org, integration, &pass.etags, now).await?;
    cursors::set(
        conn,
        org,
        at.key(),
        cursor.as_deref(),
        checkpoint.as_ref(),
        now,
    )
    .await?;
    Ok(())
}

fn resume_at<T>(pass: &Pass<T>) -> Option<DateTime<Utc>> {
    match &pass.end {
        PassEnd::Complete => None,
        PassEnd::Deferred { resume_at, .. } => Some(*resume_at),
    }
}

fn summary(run_id: SyncRunId, at: Position, result: Result<Done>) -> Result<ProviderSyncSummary> {
    let d = result?;
    Ok(ProviderSyncSummary {
        run_id,
        source_id: at.source,
        dataset: at.dataset,
        status: d.status().to_owned(),
        counts: d.counts,
        written: d.written,
        identities_created: d.identities_created,
        requests: d.requests,
        waited_s: d.waited_s,
        resume_at: d.resume_at,
        already_running: false,
    })
}

fn already_running(run: &sync_runs::SyncRun, at: Position) -> ProviderSyncSummary {
    ProviderSyncSummary {
        run_id: run.id,
        source_id: at.source,
        dataset: at.dataset,
        status: run.status.clone(),
        counts: Counts::default(),
        written: 0,
        identities_created: 0,
        requests: 0,
        waited_s: 0,
        resume_at: None,
        already_running: true,
    }
}
