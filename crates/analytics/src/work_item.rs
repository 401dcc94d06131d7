//! Work item timeline metrics (`spec/analytics.md` §9.5): status at a day's end, start and
//! completion instants, cycle and lead time, flow (active vs. wait time) and WIP membership.
//!
//! Everything here is a pure function over an [`Item`] and its status [`Transition`]s, so the
//! same code serves the worker's rollups, the API and the golden-vector tests. Durations are
//! returned as **seconds in `f64`**, because that is how §1 says durations are stored and
//! reported (the UI and the API convert to hours or days); percentiles then work on them as-is.

use chrono::{DateTime, TimeDelta, Utc};

/// The normalised work item status of §7.1.
///
/// Every provider's raw status is mapped onto this closed set before any metric is computed,
/// so the formulas never see provider vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Accepted, not planned.
    Backlog,
    /// Planned, not started.
    Todo,
    /// Being worked on.
    InProgress,
    /// In code review or QA.
    InReview,
    /// Cannot proceed.
    Blocked,
    /// Finished.
    Done,
    /// Abandoned.
    Canceled,
}

impl Status {
    /// Every status, in the order of the §7.1 table.
    pub const ALL: [Self; 7] = [
        Self::Backlog,
        Self::Todo,
        Self::InProgress,
        Self::InReview,
        Self::Blocked,
        Self::Done,
        Self::Canceled,
    ];

    /// The stored and API name (`in_progress`, …), as spelled in §7.1.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Backlog => "backlog",
            Self::Todo => "todo",
            Self::InProgress => "in_progress",
            Self::InReview => "in_review",
            Self::Blocked => "blocked",
            Self::Done => "done",
            Self::Canceled => "canceled",
        }
    }
}

/// Default start statuses: the first transition into one of them starts the cycle (§9.5).
/// Orgs may configure their own set, hence the functions take a slice.
pub const DEFAULT_START_STATUSES: [Status; 2] = [Status::InProgress, Status::InReview];

/// Default active statuses for flow efficiency; every other status counts as wait (§9.5).
pub const DEFAULT_ACTIVE_STATUSES: [Status; 2] = [Status::InProgress, Status::InReview];

/// Statuses that make an item count as work in progress at a day's end (§9.5). Blocked work is
/// still WIP: it occupies someone's attention and a slot on the board.
pub const WIP_STATUSES: [Status; 3] = [Status::InProgress, Status::InReview, Status::Blocked];

/// One status change of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Status before the change.
    pub from: Status,
    /// Status after the change.
    pub to: Status,
    /// When the change happened (UTC).
    pub at: DateTime<Utc>,
}

/// The timeline of one work item, as far as the metrics need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// When the item was created.
    pub created_at: DateTime<Utc>,
    /// The item's status now; it decides whether the item counts as completed or canceled.
    pub current: Status,
    /// Status changes in any order: providers page histories differently, so the functions
    /// sort by `at` themselves (stably, so changes at the same instant keep their given order).
    pub transitions: Vec<Transition>,
}

impl Item {
    /// The transitions in time order, without touching the stored order.
    fn timeline(&self) -> Vec<&Transition> {
        let mut sorted: Vec<&Transition> = self.transitions.iter().collect();
        sorted.sort_by_key(|t| t.at);
        sorted
    }
}

/// The status an item had just before `day_end` (§9.5).
///
/// It is the `to` of the last transition strictly before `day_end`, so a transition at exactly
/// midnight belongs to the next day. Before its first transition an item is in that
/// transition's `from` status; an item without transitions is in its current status.
pub fn status_at(item: &Item, day_end: DateTime<Utc>) -> Status {
    let timeline = item.timeline();
    match timeline.iter().rev().find(|t| t.at < day_end) {
        Some(t) => t.to,
        None => timeline.first().map_or(item.current, |t| t.from),
    }
}

/// When work started: the first transition into one of `start_statuses`
/// (usually [`DEFAULT_START_STATUSES`]). `None` when the item never entered one.
pub fn started_at(item: &Item, start_statuses: &[Status]) -> Option<DateTime<Utc>> {
    item.timeline()
        .into_iter()
        .find(|t| start_statuses.contains(&t.to))
        .map(|t| t.at)
}

/// The last transition into `status`, but only while the item is currently in it.
fn last_entry_while_current(item: &Item, status: Status) -> Option<DateTime<Utc>> {
    if item.current != status {
        return None;
    }
    item.timeline()
        .into_iter()
        .rev()
        .find(|t| t.to == status)
        .map(|t| t.at)
}

/// When the item was completed: the **last** transition into `Done`, and only while the item
/// is currently `Done`. Taking the last one makes reopened work include its rework; requiring
/// the current status keeps reopened, still-open items out of throughput.
pub fn completed_at(item: &Item) -> Option<DateTime<Utc>> {
    last_entry_while_current(item, Status::Done)
}

/// When the item was canceled: the last transition into `Canceled`, only while it is
/// currently `Canceled` (same rule as [`completed_at`]; canceled items are not throughput).
pub fn canceled_at(item: &Item) -> Option<DateTime<Utc>> {
    last_entry_while_current(item, Status::Canceled)
}

/// Seconds of a duration as `f64`, exact to the nanosecond as far as `f64` allows.
fn seconds(delta: TimeDelta) -> f64 {
    // Whole seconds and the sub-second part separately: `num_nanoseconds` would overflow
    // after ~292 years, and milliseconds would lose precision.
    delta.num_seconds() as f64 + f64::from(delta.subsec_nanos()) * 1e-9
}

/// Cycle time in seconds: `completed_at − started_at`. `None` when the item is not completed
/// or never started (such items are counted in `completed_without_start`, not here).
pub fn cycle_time(item: &Item, start_statuses: &[Status]) -> Option<f64> {
    Some(seconds(
        completed_at(item)? - started_at(item, start_statuses)?,
    ))
}

/// Lead time in seconds: `completed_at − created_at`. `None` when the item is not completed.
pub fn lead_time(item: &Item) -> Option<f64> {
    Some(seconds(completed_at(item)? - item.created_at))
}

/// Time spent in `active_statuses` and in every other status over
/// `[started_at, completed_at]`, as `(active_s, wait_s)` in seconds.
///
/// Everything that is not active is wait, including `Blocked`, a step back to `Todo`, and
/// the time spent `Done` before a reopen: that is waiting the customer saw. The two parts
/// always add up to the cycle time. `None` when the item is not completed, never started,
/// or (inconsistent data) completed before it started.
///
/// The start statuses are a parameter as well as the active ones because both are
/// configurable per org (§9.5) and the window starts at `started_at`.
pub fn flow(
    item: &Item,
    start_statuses: &[Status],
    active_statuses: &[Status],
) -> Option<(f64, f64)> {
    let start = started_at(item, start_statuses)?;
    let end = completed_at(item)?;
    if end < start {
        return None;
    }
    let timeline = item.timeline();
    // Sum whole `TimeDelta`s and convert once, so active + wait equals the cycle time exactly
    // before the conversion to seconds.
    let (mut active, mut wait) = (TimeDelta::zero(), TimeDelta::zero());
    for (i, t) in timeline.iter().enumerate() {
        let from = t.at.max(start);
        let to = timeline.get(i + 1).map_or(end, |next| next.at).min(end);
        if to <= from {
            continue;
        }
        if active_statuses.contains(&t.to) {
            active += to - from;
        } else {
            wait += to - from;
        }
    }
    Some((seconds(active), seconds(wait)))
}

/// Flow efficiency of one item: `active / (active + wait)` over its cycle (see [`flow`]).
/// `None` when [`flow`] is `None` or the cycle has zero length (no ratio to speak of).
///
/// Window statistics must be ratios of sums (§9.1): aggregate [`flow`] results, do not
/// average this per-item value.
pub fn flow_efficiency(
    item: &Item,
    start_statuses: &[Status],
    active_statuses: &[Status],
) -> Option<f64> {
    let (active, wait) = flow(item, start_statuses, active_statuses)?;
    let total = active + wait;
    (total > 0.0).then(|| active / total)
}

/// Whether the item counts as WIP at the end of a day (§9.5): created before `day_end` and
/// in one of [`WIP_STATUSES`] at `day_end` per [`status_at`]. Deleted items are the caller's
/// to leave out; this model has no deletion.
pub fn is_wip(item: &Item, day_end: DateTime<Utc>) -> bool {
    item.created_at < day_end && WIP_STATUSES.contains(&status_at(item, day_end))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    const H: f64 = 3600.0;

    /// 2024-03-`day` `hour`:00 UTC, the month of the §9.7 vectors.
    fn t(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0).unwrap()
    }

    /// End of the UTC day 2024-03-`day`: 00:00 of the next day.
    fn day_end(day: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2024, 3, day)
            .and_then(|d| d.succ_opt())
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn tr(from: Status, to: Status, at: DateTime<Utc>) -> Transition {
        Transition { from, to, at }
    }

    /// The §9.7 work item golden vector.
    fn golden() -> Item {
        use Status::*;
        Item {
            created_at: t(1, 0),
            current: Done,
            transitions: vec![
                tr(Todo, InProgress, t(2, 0)),
                tr(InProgress, Blocked, t(3, 0)),
                tr(Blocked, InProgress, t(4, 0)),
                tr(InProgress, InReview, t(5, 0)),
                tr(InReview, Done, t(5, 12)),
            ],
        }
    }

    /// The §9.7 reopen variant: back to in_progress on 03-06, done again at 06:00.
    fn golden_reopened() -> Item {
        let mut item = golden();
        item.transitions
            .push(tr(Status::Done, Status::InProgress, t(6, 0)));
        item.transitions
            .push(tr(Status::InProgress, Status::Done, t(6, 6)));
        item
    }

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} != {expected} (±{tolerance})"
        );
    }

    #[test]
    fn golden_work_item_times_and_flow() {
        let item = golden();
        assert_eq!(started_at(&item, &DEFAULT_START_STATUSES), Some(t(2, 0)));
        assert_eq!(completed_at(&item), Some(t(5, 12)));
        assert_eq!(canceled_at(&item), None);
        close(
            cycle_time(&item, &DEFAULT_START_STATUSES).unwrap(),
            84.0 * H,
            1e-9,
        );
        close(lead_time(&item).unwrap(), 108.0 * H, 1e-9);
        let (active, wait) =
            flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).unwrap();
        close(active, 60.0 * H, 1e-9);
        close(wait, 24.0 * H, 1e-9);
        let efficiency =
            flow_efficiency(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).unwrap();
        close(efficiency, 60.0 / 84.0, 1e-9);
        // The spec prints six decimals.
        close(efficiency, 0.714286, 1e-6);
    }

    #[test]
    fn golden_work_item_wip() {
        let item = golden();
        assert!(!is_wip(&item, day_end(1)), "03-01: still todo");
        assert!(is_wip(&item, day_end(2)), "03-02: in progress");
        assert!(is_wip(&item, day_end(3)), "03-03: blocked counts");
        assert_eq!(status_at(&item, day_end(3)), Status::Blocked);
        assert!(!is_wip(&item, day_end(5)), "03-05: done at noon");
    }

    #[test]
    fn golden_work_item_reopen_variant() {
        let item = golden_reopened();
        assert_eq!(completed_at(&item), Some(t(6, 6)));
        assert_eq!(
            completed_at(&item).map(|c| c.date_naive()),
            NaiveDate::from_ymd_opt(2024, 3, 6)
        );
        close(
            cycle_time(&item, &DEFAULT_START_STATUSES).unwrap(),
            102.0 * H,
            1e-9,
        );
        let (active, wait) =
            flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).unwrap();
        close(active, 66.0 * H, 1e-9);
        close(wait, 36.0 * H, 1e-9);
        let efficiency =
            flow_efficiency(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).unwrap();
        close(efficiency, 66.0 / 102.0, 1e-9);
        close(efficiency, 0.647059, 1e-6);
    }

    #[test]
    fn reopened_and_not_yet_done_is_not_completed() {
        let mut item = golden();
        item.transitions
            .push(tr(Status::Done, Status::InProgress, t(6, 0)));
        item.current = Status::InProgress;
        assert_eq!(completed_at(&item), None);
        assert_eq!(cycle_time(&item, &DEFAULT_START_STATUSES), None);
        assert_eq!(lead_time(&item), None);
        assert_eq!(
            flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES),
            None
        );
        assert!(is_wip(&item, day_end(6)));
    }

    #[test]
    fn transition_at_midnight_belongs_to_next_day() {
        let item = golden();
        // The move to in_progress at 03-02 00:00 is not part of 03-01 ...
        assert_eq!(status_at(&item, day_end(1)), Status::Todo);
        // ... but one nanosecond later it is in effect.
        let just_after = day_end(1) + TimeDelta::nanoseconds(1);
        assert_eq!(status_at(&item, just_after), Status::InProgress);
    }

    #[test]
    fn no_transitions_uses_current_status() {
        let item = Item {
            created_at: t(1, 0),
            current: Status::InReview,
            transitions: vec![],
        };
        assert_eq!(status_at(&item, day_end(1)), Status::InReview);
        assert!(is_wip(&item, day_end(1)));
        assert_eq!(started_at(&item, &DEFAULT_START_STATUSES), None);
        assert_eq!(cycle_time(&item, &DEFAULT_START_STATUSES), None);

        let done = Item {
            created_at: t(1, 0),
            current: Status::Done,
            transitions: vec![],
        };
        // Without transitions the native provider timestamps apply (§9.5), outside this module.
        assert_eq!(completed_at(&done), None);
        assert!(!is_wip(&done, day_end(1)));
    }

    #[test]
    fn not_wip_before_creation() {
        let item = Item {
            created_at: t(3, 0),
            current: Status::InProgress,
            transitions: vec![],
        };
        assert!(!is_wip(&item, day_end(1)));
        assert!(
            !is_wip(&item, t(3, 0)),
            "created exactly at day_end is the next day"
        );
        assert!(is_wip(&item, day_end(3)));
    }

    #[test]
    fn transitions_out_of_order_are_sorted() {
        let mut item = golden_reopened();
        item.transitions.reverse();
        item.transitions.swap(1, 4);
        assert_eq!(started_at(&item, &DEFAULT_START_STATUSES), Some(t(2, 0)));
        assert_eq!(completed_at(&item), Some(t(6, 6)));
        assert_eq!(status_at(&item, day_end(1)), Status::Todo);
        assert_eq!(status_at(&item, day_end(3)), Status::Blocked);
        close(
            cycle_time(&item, &DEFAULT_START_STATUSES).unwrap(),
            102.0 * H,
            1e-9,
        );
        let (active, wait) =
            flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).unwrap();
        close(active, 66.0 * H, 1e-9);
        close(wait, 36.0 * H, 1e-9);
    }

    #[test]
    fn canceled_is_not_completed() {
        let item = Item {
            created_at: t(1, 0),
            current: Status::Canceled,
            transitions: vec![
                tr(Status::Todo, Status::InProgress, t(2, 0)),
                tr(Status::InProgress, Status::Canceled, t(3, 0)),
            ],
        };
        assert_eq!(canceled_at(&item), Some(t(3, 0)));
        assert_eq!(completed_at(&item), None);
        assert_eq!(cycle_time(&item, &DEFAULT_START_STATUSES), None);
    }

    #[test]
    fn configurable_start_and_active_statuses() {
        let item = golden();
        // Counting review as the start and only in_progress as active.
        let start = [Status::InReview];
        let active = [Status::InProgress];
        close(cycle_time(&item, &start).unwrap(), 12.0 * H, 1e-9);
        let (a, w) = flow(&item, &start, &active).unwrap();
        close(a, 0.0, 1e-9);
        close(w, 12.0 * H, 1e-9);
    }

    #[test]
    fn zero_length_cycle_has_no_efficiency() {
        let item = Item {
            created_at: t(1, 0),
            current: Status::Done,
            transitions: vec![
                tr(Status::Todo, Status::InProgress, t(2, 0)),
                tr(Status::InProgress, Status::Done, t(2, 0)),
            ],
        };
        assert_eq!(
            flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES),
            Some((0.0, 0.0))
        );
        assert_eq!(
            flow_efficiency(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES),
            None
        );
    }

    #[test]
    fn status_names_follow_the_spec() {
        let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "backlog",
                "todo",
                "in_progress",
                "in_review",
                "blocked",
                "done",
                "canceled"
            ]
        );
    }

    fn any_status() -> impl Strategy<Value = Status> {
        proptest::sample::select(Status::ALL.to_vec())
    }

    /// A chained transition sequence that starts work somewhere and ends in `Done`, with gaps
    /// from 0 (ties) to ~12 days and sub-second parts, handed over in a shuffled order. The
    /// final `Done` comes strictly last, so it stays the completion whatever the shuffle.
    fn valid_item() -> impl Strategy<Value = Item> {
        (
            prop::collection::vec((any_status(), 0i64..1_000_000, 0i64..1_000_000_000), 0..12),
            any::<prop::sample::Index>(),
            any::<bool>(),
        )
            .prop_flat_map(|(mut steps, start_index, review_first)| {
                let start = if review_first {
                    Status::InReview
                } else {
                    Status::InProgress
                };
                steps.insert(start_index.index(steps.len() + 1), (start, 3600, 0));
                steps.push((Status::Done, 60, 0));
                let mut now = t(1, 0);
                let mut from = Status::Todo;
                let mut transitions = Vec::with_capacity(steps.len());
                for (to, secs, nanos) in steps {
                    now += TimeDelta::seconds(secs) + TimeDelta::nanoseconds(nanos);
                    transitions.push(tr(from, to, now));
                    from = to;
                }
                Just(transitions).prop_shuffle()
            })
            .prop_map(|transitions| Item {
                created_at: t(1, 0),
                current: Status::Done,
                transitions,
            })
    }

    proptest! {
        #[test]
        fn active_plus_wait_is_cycle_time(item in valid_item()) {
            let cycle = cycle_time(&item, &DEFAULT_START_STATUSES).expect("started and done");
            let (active, wait) =
                flow(&item, &DEFAULT_START_STATUSES, &DEFAULT_ACTIVE_STATUSES).expect("flow");
            prop_assert!(active >= 0.0 && wait >= 0.0);
            prop_assert!((active + wait - cycle).abs() <= 1e-6, "{active} + {wait} != {cycle}");
        }
    }
}
