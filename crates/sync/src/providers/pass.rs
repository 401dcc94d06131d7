//! What a connector pass takes from the store and gives back (spec §3.2): the incremental
//! cursor, the checkpoint of an interrupted pass, stored ETags, the stored `updated_at` of each
//! item (so unchanged items skip their detail calls), and on the way out the records, the new
//! cursor, the ETags to store, and whether the pass completed or was deferred.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::error::Error;

/// The re-read overlap of every incremental read (`sync.lookback_s`, 5 minutes).
pub const DEFAULT_LOOKBACK: Duration = Duration::minutes(5);

/// Page size where the provider allows it.
pub const PAGE_SIZE: u32 = 100;

/// Pages one pass follows at most: a guard against a server that links pages in a circle.
pub(crate) const MAX_PAGES: u32 = 100_000;

/// The position inside a pass (`sync_cursors.checkpoint`, JSON), so a deferred or crashed run
/// continues where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The page to fetch next: a full URL (REST, Jira's `nextPageToken` included) or a GraphQL
    /// `endCursor`. `None` restarts at the first page with the same `since`.
    pub next: Option<String>,
    /// The largest `updated_at` the pass has seen so far.
    pub high_water: Option<DateTime<Utc>>,
    /// The lower bound the pass started from (cursor minus lookback), kept so the resumed pass
    /// applies the same filter and stop rule.
    pub since: Option<DateTime<Utc>>,
}

/// The stored `updated_at` of items, by natural key (`"12"` for a PR or MR number, `"o/r#7"`
/// for a GitHub issue, `"ABC-123"`, `"ENG-42"`). Listed items whose `updated_at` equals the
/// stored one are skipped before any detail call.
pub trait Known: Sync {
    /// The stored `updated_at` of `key`, if the item is stored.
    fn updated_at(&self, key: &str) -> Option<DateTime<Utc>>;
}

impl Known for HashMap<String, DateTime<Utc>> {
    fn updated_at(&self, key: &str) -> Option<DateTime<Utc>> {
        self.get(key).copied()
    }
}

/// A [`Known`] that knows nothing: every listed item is fetched.
#[derive(Debug, Default, Clone, Copy)]
pub struct NothingKnown;

impl Known for NothingKnown {
    fn updated_at(&self, _key: &str) -> Option<DateTime<Utc>> {
        None
    }
}

/// What the store gives a pass.
#[derive(Clone, Copy)]
pub struct PassInput<'a> {
    /// The stored incremental cursor (`sync_cursors.cursor`): the largest `updated_at` a
    /// previous pass observed.
    pub cursor: Option<DateTime<Utc>>,
    /// The stored checkpoint of an interrupted pass, if any.
    pub checkpoint: Option<&'a Checkpoint>,
    /// Stored ETags by `url_key` (`http_etags`).
    pub etags: &'a HashMap<String, String>,
    /// Stored `updated_at` per natural key.
    pub known: &'a dyn Known,
    /// The re-read overlap ([`DEFAULT_LOOKBACK`]).
    pub lookback: Duration,
}

impl<'a> PassInput<'a> {
    /// A first pass: no cursor, no checkpoint, nothing stored.
    pub fn fresh(etags: &'a HashMap<String, String>, known: &'a dyn Known) -> PassInput<'a> {
        PassInput {
            cursor: None,
            checkpoint: None,
            etags,
            known,
            lookback: DEFAULT_LOOKBACK,
        }
    }

    /// The lower bound of this pass: the checkpoint's, else cursor minus lookback.
    pub(crate) fn since(&self) -> Option<DateTime<Utc>> {
        match self.checkpoint {
            Some(c) => c.since,
            None => self.cursor.map(|c| c - self.lookback),
        }
    }
}

/// How a pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassEnd {
    /// Every page was read: clear the stored checkpoint.
    Complete,
    /// A wait would exceed the run budget: store `checkpoint`, end the run `deferred` and
    /// resume at `resume_at` (spec §3.3).
    Deferred {
        /// When the provider's limit resets.
        resume_at: DateTime<Utc>,
        /// Where to continue.
        checkpoint: Checkpoint,
    },
}

/// Counters for `sync_runs.counts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Items listed.
    pub listed: u64,
    /// Items skipped because their `updated_at` matched the stored one.
    pub unchanged: u64,
    /// Items fetched in full and returned.
    pub fetched: u64,
    /// Items returned incomplete or left out (run ends `partial`).
    pub partial: u64,
    /// List pages answered `304 Not Modified`.
    pub not_modified: u64,
}

/// What a pass gives back to store.
#[derive(Debug, Clone)]
pub struct Pass<T> {
    /// Records to upsert by natural key.
    pub items: Vec<T>,
    /// The cursor to store (already `max(old, observed)`; never "now").
    pub cursor: Option<DateTime<Utc>>,
    /// ETags to store, by `url_key`.
    pub etags: Vec<(String, String)>,
    /// Complete, or deferred with a checkpoint.
    pub end: PassEnd,
    /// Counters.
    pub counts: Counts,
}

impl<T> Pass<T> {
    /// The checkpoint to store, when the pass was deferred.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        match &self.end {
            PassEnd::Complete => None,
            PassEnd::Deferred { checkpoint, .. } => Some(checkpoint),
        }
    }

    /// Whether the run should end `partial` (some items were skipped or incomplete).
    pub fn is_partial(&self) -> bool {
        self.counts.partial > 0
    }
}

/// The larger of two optional instants (cursors only move forward).
pub(crate) fn max_time(
    a: Option<DateTime<Utc>>,
    b: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Shared bookkeeping of a pass under construction.
#[derive(Debug)]
pub(crate) struct Progress<T> {
    pub(crate) items: Vec<T>,
    pub(crate) counts: Counts,
    pub(crate) etags: Vec<(String, String)>,
    pub(crate) high_water: Option<DateTime<Utc>>,
    pub(crate) since: Option<DateTime<Utc>>,
    /// The cursor to store if the pass stops now.
    pub(crate) cursor: Option<DateTime<Utc>>,
}

impl<T> Progress<T> {
    pub(crate) fn new(input: &PassInput<'_>) -> Progress<T> {
        Progress {
            items: Vec::new(),
            counts: Counts::default(),
            etags: Vec::new(),
            high_water: input.checkpoint.and_then(|c| c.high_water),
            since: input.since(),
            cursor: input.cursor,
        }
    }

    /// Notes an observed `updated_at`.
    pub(crate) fn observe(&mut self, updated_at: DateTime<Utc>) {
        self.high_water = max_time(self.high_water, Some(updated_at));
    }

    /// Whether `key` is stored with this `updated_at` (and counts it as unchanged if so).
    pub(crate) fn unchanged(
        &mut self,
        known: &dyn Known,
        key: &str,
        updated_at: DateTime<Utc>,
    ) -> bool {
        self.counts.listed += 1;
        let same = known.updated_at(key) == Some(updated_at);
        if same {
            self.counts.unchanged += 1;
        }
        same
    }

    /// A complete pass; `advance` says whether the cursor moves to the high-water mark.
    pub(crate) fn complete(mut self, advance: bool) -> Pass<T> {
        if advance {
            self.cursor = max_time(self.cursor, self.high_water);
        }
        Pass {
            items: self.items,
            cursor: self.cursor,
            etags: self.etags,
            end: PassEnd::Complete,
            counts: self.counts,
        }
    }

    /// Ends the pass on `err`: a deferral becomes [`PassEnd::Deferred`] with a checkpoint at
    /// `next`; list ETags are dropped, so a resumed pass re-reads the pages it had not finished.
    pub(crate) fn stop(self, err: Error, next: Option<String>) -> Result<Pass<T>, Error> {
        match err {
            Error::Deferred { resume_at } => Ok(Pass {
                items: self.items,
                cursor: self.cursor,
                etags: Vec::new(),
                end: PassEnd::Deferred {
                    resume_at,
                    checkpoint: Checkpoint {
                        next,
                        high_water: self.high_water,
                        since: self.since,
                    },
                },
                counts: self.counts,
            }),
            other => Err(other),
        }
    }
}
