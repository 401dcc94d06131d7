//! The percentile rule (analytics spec §9.2): linear interpolation between closest ranks,
//! identical to PostgreSQL `percentile_cont(p/100)`, Excel `PERCENTILE.INC` and numpy `linear`.
//! Percentiles over a window always come from the window's per-item values (§9.1), so this is
//! the only place they are computed.

/// The `p`th percentile (`p` in `[0, 100]`) of `values` in any order; `None` for no values.
/// Non-finite values and `p` outside `[0, 100]` are the caller's bug: `p` is clamped.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_sorted(&sorted, p)
}

/// [`percentile`] of values already sorted ascending (several percentiles of one population
/// sort once).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let r = (n - 1) as f64 * p.clamp(0.0, 100.0) / 100.0;
    let lo = r.floor() as usize;
    let hi = r.ceil() as usize;
    Some(sorted[lo] + (r - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// A duration statistic over one population (§9.2): `count`, `p50`, `p75`, `p90`, `p95`,
/// `mean`; every value is `None` over no items (never 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How many values.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 75th percentile.
    pub p75: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// Arithmetic mean.
    pub mean: Option<f64>,
}

impl Summary {
    /// Summarises `values` (any order).
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |p| percentile_sorted(&sorted, p);
        Summary {
            count: sorted.len(),
            p50: at(50.0),
            p75: at(75.0),
            p90: at(90.0),
            p95: at(95.0),
            mean: (!sorted.is_empty()).then(|| sorted.iter().sum::<f64>() / sorted.len() as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(got: Option<f64>, want: f64) {
        let got = got.unwrap_or(f64::NAN);
        assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    }

    #[test]
    fn golden_vectors_of_the_spec() {
        let seven = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        for (p, want) in [
            (0.0, 1.0),
            (5.0, 1.3),
            (15.0, 1.9),
            (50.0, 4.0),
            (85.0, 6.1),
            (95.0, 6.7),
            (100.0, 7.0),
        ] {
            close(percentile(&seven, p), want);
        }
        for (p, want) in [(50.0, 2.5), (75.0, 3.25), (90.0, 3.7)] {
            close(percentile(&[1.0, 2.0, 3.0, 4.0], p), want);
        }
        close(percentile(&[10.0, 20.0], 50.0), 15.0);
        close(percentile(&[10.0, 20.0], 90.0), 19.0);
        close(percentile(&[1.0, 1.0, 1.0, 100.0], 50.0), 1.0);
        close(percentile(&[1.0, 1.0, 1.0, 100.0], 90.0), 70.3);
        close(percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
        for p in [0.0, 37.0, 100.0] {
            close(percentile(&[2.5], p), 2.5);
            assert_eq!(percentile(&[], p), None);
        }
    }

    #[test]
    fn an_empty_population_summarises_to_nulls_not_zeros() {
        let s = Summary::of(&[]);
        assert_eq!((s.count, s.p50, s.p90, s.mean), (0, None, None, None));
        let s = Summary::of(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.count, 4);
        close(s.p50, 2.5);
        close(s.mean, 2.5);
    }

    proptest! {
        /// Order does not matter; the result lies between the extremes and grows with `p`.
        #[test]
        fn order_free_bounded_and_monotone(
            mut v in prop::collection::vec(-1e6f64..1e6, 1..60),
            p in 0f64..=100.0,
            q in 0f64..=100.0,
        ) {
            let a = percentile(&v, p).unwrap();
            v.reverse();
            prop_assert_eq!(percentile(&v, p).unwrap(), a);
            let (min, max) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            prop_assert!(min <= a && a <= max);
            let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
            prop_assert!(percentile(&v, lo).unwrap() <= percentile(&v, hi).unwrap());
        }
    }
}
