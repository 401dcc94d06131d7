//! Time as injected dependencies of the HTTP client: "now" comes from a [`domain::Clock`] and
//! waiting goes through a [`Sleeper`], so tests can ask for a 60 s secondary-limit wait, assert
//! it was requested, and finish in milliseconds (no test asserts a wall time).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{Clock, ManualClock, SystemClock};

/// A future returned by [`Sleeper::sleep`].
pub type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Waits for a duration. Production uses [`TokioSleeper`]; tests use [`RecordingSleeper`].
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Waits `d` (or pretends to).
    fn sleep(&self, d: Duration) -> SleepFuture<'_>;
}

/// Real sleeping on the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> SleepFuture<'_> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A sleeper that returns at once, records every requested wait and, when given a
/// [`ManualClock`], moves it forward by the wait so reset times are reached as in real life.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
    clock: Option<Arc<ManualClock>>,
}

impl RecordingSleeper {
    /// A sleeper that also advances `clock` by each wait.
    pub fn advancing(clock: Arc<ManualClock>) -> RecordingSleeper {
        RecordingSleeper {
            waits: Mutex::new(Vec::new()),
            clock: Some(clock),
        }
    }

    /// Every wait requested so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) -> SleepFuture<'_> {
        self.waits.lock().unwrap_or_else(|e| e.into_inner()).push(d);
        if let Some(clock) = &self.clock {
            clock.advance(chrono::Duration::milliseconds(
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            ));
        }
        Box::pin(std::future::ready(()))
    }
}

/// The clock and sleeper a client runs on.
#[derive(Debug, Clone)]
pub struct Timekeeper {
    /// "Now", for reset times and `resume_at`.
    pub clock: Arc<dyn Clock>,
    /// How waits happen.
    pub sleeper: Arc<dyn Sleeper>,
}

impl Timekeeper {
    /// The wall clock and real sleeping.
    pub fn system() -> Timekeeper {
        Timekeeper {
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
        }
    }
}
