//! Pull request cycle time and its phases (analytics spec §9.4): coding, pickup, review and
//! merge, with the clock-skew clamp that keeps `pickup + review + merge = cycle` and
//! `coding + cycle = lead` exact for every reviewed merged PR.

use chrono::{DateTime, Duration, Utc};

/// The timestamps of one PR (§9.4: `t0`…`t4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrTimes {
    /// `t0`: earliest `authored_at` of the PR's commits.
    pub first_commit_at: Option<DateTime<Utc>>,
    /// `t1`: opened.
    pub created_at: DateTime<Utc>,
    /// `t2`: first non-self review.
    pub first_review_at: Option<DateTime<Utc>>,
    /// `t3`: last approval (`t2` without one).
    pub last_approval_at: Option<DateTime<Utc>>,
    /// `t4`: merged.
    pub merged_at: Option<DateTime<Utc>>,
}

/// The phases of a merged PR; `None` where the PR is outside a metric's population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// `t1 − min(t0, t1)` (needs `t0`).
    pub coding: Option<Duration>,
    /// `t2 − t1` (reviewed before merge).
    pub pickup: Option<Duration>,
    /// `t3 − t2` (reviewed before merge).
    pub review: Option<Duration>,
    /// `t4 − t3` (reviewed before merge).
    pub merge: Option<Duration>,
    /// `t4 − t1`.
    pub cycle: Duration,
    /// `t4 − min(t0, t1)` (needs `t0`).
    pub lead: Option<Duration>,
    /// Merged with no non-self review before `t4` (`pr_merged_without_review`).
    pub without_review: bool,
    /// Timestamps raised to their predecessor because of clock skew (`data_quality.clamped`).
    pub clamped: u32,
}

/// The phases of a PR, `None` while it is not merged.
pub fn phases(t: &PrTimes) -> Option<Phases> {
    let t1 = t.created_at;
    let mut clamped = 0;
    let mut raise = |at: DateTime<Utc>, floor: DateTime<Utc>| {
        if at < floor {
            clamped += 1;
            floor
        } else {
            at
        }
    };
    let t4 = raise(t.merged_at?, t1);
    let start = t.first_commit_at.map(|t0| t0.min(t1));
    // Only a review before the merge counts (a later one leaves the PR "without review").
    let reviewed = t.first_review_at.filter(|t2| *t2 <= t4);
    let (pickup, review, merge) = match reviewed {
        Some(t2) => {
            let t2 = raise(t2, t1);
            let t3 = raise(t.last_approval_at.unwrap_or(t2).min(t4), t2);
            (Some(t2 - t1), Some(t3 - t2), Some(t4 - t3))
        }
        None => (None, None, None),
    };
    Some(Phases {
        coding: start.map(|s| t1 - s),
        pickup,
        review,
        merge,
        cycle: t4 - t1,
        lead: start.map(|s| t4 - s),
        without_review: reviewed.is_none(),
        clamped,
    })
}

/// `pr_size` buckets (§9.4) of `additions + deletions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SizeBucket {
    /// ≤ 10 lines.
    Xs,
    /// 11–100.
    S,
    /// 101–400.
    M,
    /// 401–1,000.
    L,
    /// More than 1,000.
    Xl,
}

/// The size bucket of a PR that changed `lines` lines.
pub fn size_bucket(lines: u64) -> SizeBucket {
    match lines {
        0..=10 => SizeBucket::Xs,
        11..=100 => SizeBucket::S,
        101..=400 => SizeBucket::M,
        401..=1000 => SizeBucket::L,
        _ => SizeBucket::Xl,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0)
            .single()
            .unwrap()
    }

    fn hours(h: i64) -> Option<Duration> {
        Some(Duration::hours(h))
    }

    fn golden() -> PrTimes {
        PrTimes {
            first_commit_at: Some(at(1, 9)),
            created_at: at(1, 15),
            first_review_at: Some(at(2, 10)),
            last_approval_at: Some(at(2, 16)),
            merged_at: Some(at(3, 9)),
        }
    }

    #[test]
    fn golden_vector_of_the_spec() {
        let p = phases(&golden()).unwrap();
        assert_eq!(
            (p.coding, p.pickup, p.review, p.merge, Some(p.cycle), p.lead),
            (
                hours(6),
                hours(19),
                hours(6),
                hours(17),
                hours(42),
                hours(48)
            )
        );
        assert!(!p.without_review);
        // A first commit after the PR was opened: coding 0, lead = cycle.
        let late = phases(&PrTimes {
            first_commit_at: Some(at(1, 16)),
            ..golden()
        })
        .unwrap();
        assert_eq!((late.coding, late.lead), (hours(0), hours(42)));
        // No review: the review phases are null, the PR counts as merged without review.
        let unreviewed = phases(&PrTimes {
            first_review_at: None,
            last_approval_at: None,
            ..golden()
        })
        .unwrap();
        assert_eq!(
            (unreviewed.pickup, unreviewed.review, unreviewed.merge),
            (None, None, None)
        );
        assert_eq!(
            (Some(unreviewed.cycle), unreviewed.without_review),
            (hours(42), true)
        );
        // Open PRs have no phases.
        assert_eq!(
            phases(&PrTimes {
                merged_at: None,
                ..golden()
            }),
            None
        );
    }

    #[test]
    fn a_review_after_the_merge_does_not_count_and_skew_is_clamped() {
        let after = phases(&PrTimes {
            first_review_at: Some(at(4, 0)),
            ..golden()
        })
        .unwrap();
        assert!(after.without_review && after.pickup.is_none());
        // An approval stamped before the first review is raised to it and counted.
        let skewed = phases(&PrTimes {
            last_approval_at: Some(at(2, 9)),
            ..golden()
        })
        .unwrap();
        assert_eq!((skewed.review, skewed.clamped), (hours(0), 1));
        assert_eq!(
            skewed.pickup.unwrap() + skewed.review.unwrap() + skewed.merge.unwrap(),
            skewed.cycle
        );
    }

    #[test]
    fn size_buckets_have_their_edges() {
        let got: Vec<SizeBucket> = [0, 10, 11, 100, 101, 400, 401, 1000, 1001]
            .map(size_bucket)
            .to_vec();
        use SizeBucket::*;
        assert_eq!(got, [Xs, Xs, S, S, M, M, L, L, Xl]);
    }

    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..30 * 86_400).prop_map(|s| at(1, 0) + Duration::seconds(s))
    }

    proptest! {
        /// §9.4's invariant, for any timestamps (skewed ones included): the phases of a
        /// reviewed merged PR add up to its cycle time, and coding + cycle = lead.
        #[test]
        fn phases_sum_to_the_cycle_time(
            t0 in prop::option::of(any_time()),
            t1 in any_time(),
            t2 in prop::option::of(any_time()),
            t3 in prop::option::of(any_time()),
            t4 in any_time(),
        ) {
            let p = phases(&PrTimes {
                first_commit_at: t0, created_at: t1, first_review_at: t2,
                last_approval_at: t3, merged_at: Some(t4),
            }).unwrap();
            prop_assert!(p.cycle >= Duration::zero());
            if let (Some(a), Some(b), Some(c)) = (p.pickup, p.review, p.merge) {
                prop_assert!(a >= Duration::zero() && b >= Duration::zero() && c >= Duration::zero());
                prop_assert_eq!(a + b + c, p.cycle);
            } else {
                prop_assert!(p.without_review);
            }
            if let (Some(coding), Some(lead)) = (p.coding, p.lead) {
                prop_assert!(coding >= Duration::zero());
                prop_assert_eq!(coding + p.cycle, lead);
            }
        }
    }
}
