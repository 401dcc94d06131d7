//! PR statistics over a window (analytics spec §9.1, §9.4): every duration statistic is
//! computed from the per-PR values in the window — never by averaging daily percentiles —
//! counts add up, and a statistic over no PRs is null, never 0.

use std::collections::BTreeMap;

use crate::percentile::Summary;
use crate::pull_request::{Phases, SizeBucket, size_bucket};

/// One merged PR in the window: its phases and size (`None`: size unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedPr {
    /// Its phases.
    pub phases: Phases,
    /// `additions + deletions`, when known.
    pub size: Option<u64>,
}

/// The window's PR statistics (durations in hours).
#[derive(Debug, Clone, PartialEq)]
pub struct PrWindow {
    /// `pr_merged` (throughput).
    pub merged: u64,
    /// `pr_merged_without_review`.
    pub merged_without_review: u64,
    /// `pr_cycle_time`.
    pub cycle: Summary,
    /// `pr_lead_time` (PRs with a first commit).
    pub lead: Summary,
    /// `pr_coding_time`.
    pub coding: Summary,
    /// `pr_pickup_time` (reviewed before merge).
    pub pickup: Summary,
    /// `pr_review_time`.
    pub review: Summary,
    /// `pr_merge_time`.
    pub merge: Summary,
    /// `pr_size` over PRs whose size is known.
    pub size: Summary,
    /// PRs per size bucket.
    pub size_buckets: BTreeMap<SizeBucket, u64>,
    /// Timestamps clamped for clock skew (`data_quality.clamped`).
    pub clamped: u64,
}

fn hours(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 3_600_000.0
}

/// The statistics of the merged PRs of one window and scope.
pub fn pr_window(prs: &[MergedPr]) -> PrWindow {
    let of = |f: &dyn Fn(&Phases) -> Option<chrono::Duration>| {
        Summary::of(
            &prs.iter()
                .filter_map(|p| f(&p.phases))
                .map(hours)
                .collect::<Vec<_>>(),
        )
    };
    let mut size_buckets = BTreeMap::new();
    for s in prs.iter().filter_map(|p| p.size) {
        *size_buckets.entry(size_bucket(s)).or_insert(0) += 1;
    }
    PrWindow {
        merged: prs.len() as u64,
        merged_without_review: prs.iter().filter(|p| p.phases.without_review).count() as u64,
        cycle: of(&|p| Some(p.cycle)),
        lead: of(&|p| p.lead),
        coding: of(&|p| p.coding),
        pickup: of(&|p| p.pickup),
        review: of(&|p| p.review),
        merge: of(&|p| p.merge),
        size: Summary::of(
            &prs.iter()
                .filter_map(|p| p.size)
                .map(|s| s as f64)
                .collect::<Vec<_>>(),
        ),
        size_buckets,
        clamped: prs.iter().map(|p| u64::from(p.phases.clamped)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::pull_request::{PrTimes, phases};

    fn pr(cycle_h: i64, reviewed: bool, size: Option<u64>) -> MergedPr {
        let t1 = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).single().unwrap();
        let t4 = t1 + Duration::hours(cycle_h);
        let phases = phases(&PrTimes {
            first_commit_at: None,
            created_at: t1,
            first_review_at: reviewed.then_some(t1 + Duration::hours(1)),
            last_approval_at: None,
            merged_at: Some(t4),
        })
        .unwrap();
        MergedPr { phases, size }
    }

    #[test]
    fn percentiles_come_from_the_window_not_from_daily_percentiles() {
        // Two "days": {1 h, 2 h, 3 h} and {10 h}. Their daily medians average to 6 h; the
        // window's median over the four PRs is 2.5 h.
        let w = pr_window(&[
            pr(1, true, Some(5)),
            pr(2, true, Some(50)),
            pr(3, false, None),
            pr(10, true, Some(2000)),
        ]);
        assert_eq!((w.merged, w.merged_without_review), (4, 1));
        assert_eq!(w.cycle.count, 4);
        assert!((w.cycle.p50.unwrap() - 2.5).abs() < 1e-9);
        assert_eq!(w.pickup.count, 3, "reviewed PRs only");
        assert_eq!(w.size.count, 3, "unknown sizes are left out");
        let buckets: Vec<(SizeBucket, u64)> = w.size_buckets.into_iter().collect();
        assert_eq!(
            buckets,
            [(SizeBucket::Xs, 1), (SizeBucket::S, 1), (SizeBucket::Xl, 1)]
        );
    }

    #[test]
    fn an_empty_window_has_null_durations_and_zero_counts() {
        let w = pr_window(&[]);
        assert_eq!((w.merged, w.merged_without_review, w.clamped), (0, 0, 0));
        assert_eq!((w.cycle.p50, w.lead.mean, w.size.p90), (None, None, None));
    }
}
