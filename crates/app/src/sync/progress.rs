//! Sync progress (§3.1): `{phase, done, total, unit, rate_per_s, message}`, reported to a sink
//! (the CLI's progress bar) and written to `sync_runs.progress` at most once per second and on
//! every phase change.

use std::time::{Duration, Instant};

use serde::Serialize;

/// One progress report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// `resolving_refs`, `walking`, `diffing`, `writing`, `identities`, `metrics`.
    pub phase: &'static str,
    /// Units done in this phase.
    pub done: u64,
    /// Units in this phase, when known.
    pub total: Option<u64>,
    /// What is counted (`commits`, `pull_requests`, `work_items`).
    pub unit: &'static str,
    /// Units per second since the phase began.
    pub rate_per_s: f64,
    /// A short line for people.
    pub message: String,
}

/// Where progress goes besides the run row (the CLI draws a bar).
pub trait ProgressSink: Send + Sync {
    /// Called on every report; must be cheap.
    fn report(&self, p: &Progress);
}

/// No sink: the worker only writes the run row.
impl ProgressSink for () {
    fn report(&self, _: &Progress) {}
}

/// Decides when a report is also written to the run row.
#[derive(Debug)]
pub(crate) struct Throttle {
    phase: &'static str,
    phase_started: Instant,
    last_write: Option<Instant>,
    unit: &'static str,
}

impl Throttle {
    pub(crate) fn new() -> Throttle {
        Throttle::counting("commits")
    }

    /// A throttle whose reports count `unit` (`pull_requests`, `work_items`).
    pub(crate) fn counting(unit: &'static str) -> Throttle {
        Throttle {
            phase: "",
            phase_started: Instant::now(),
            last_write: None,
            unit,
        }
    }

    /// What the reports count.
    pub(crate) fn unit(&self) -> &'static str {
        self.unit
    }

    /// Builds the report and says whether to store it (phase change or a second passed).
    pub(crate) fn report(
        &mut self,
        phase: &'static str,
        done: u64,
        total: Option<u64>,
        message: String,
    ) -> (Progress, bool) {
        let now = Instant::now();
        let changed = phase != self.phase;
        if changed {
            self.phase = phase;
            self.phase_started = now;
        }
        let secs = now.duration_since(self.phase_started).as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let rate_per_s = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let due = self
            .last_write
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        let store = changed || due;
        if store {
            self.last_write = Some(now);
        }
        (
            Progress {
                phase,
                done,
                total,
                unit: self.unit,
                rate_per_s,
                message,
            },
            store,
        )
    }
}
