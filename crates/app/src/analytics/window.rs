//! Metric windows and buckets (analytics spec §1, §9.1): UTC days `[00:00, 24:00)` and ISO
//! weeks from Monday 00:00 UTC; a window covers whole buckets and is at most 366 days (day
//! grain) or 731 days (week grain) long.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::Serialize;

/// The bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// One UTC day.
    Day,
    /// One ISO week (Monday to Sunday, UTC).
    Week,
}

impl Grain {
    /// Days per bucket.
    pub const fn days(self) -> u64 {
        match self {
            Grain::Day => 1,
            Grain::Week => 7,
        }
    }

    /// The longest window the grain allows, in days (§9.1).
    pub const fn max_days(self) -> i64 {
        match self {
            Grain::Day => 366,
            Grain::Week => 731,
        }
    }
}

/// A window of whole buckets: `[start, end)` with `end − start` a multiple of the grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The bucket size.
    pub grain: Grain,
    /// First day (a Monday for weeks).
    pub start: NaiveDate,
    /// The day after the last day.
    pub end: NaiveDate,
}

/// Midnight UTC of `d`.
pub fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

impl Window {
    /// The window of the days `from..=to`, widened to whole ISO weeks for the week grain.
    /// The caller has checked `from ≤ to` and the length.
    pub fn new(grain: Grain, from: NaiveDate, to: NaiveDate) -> Window {
        let (start, last) = match grain {
            Grain::Day => (from, to),
            Grain::Week => {
                let monday = from - Days::new(u64::from(from.weekday().num_days_from_monday()));
                let sunday = to + Days::new(u64::from(6 - to.weekday().num_days_from_monday()));
                (monday, sunday)
            }
        };
        Window {
            grain,
            start,
            end: last + Days::new(1),
        }
    }

    /// The window's first instant.
    pub fn from(&self) -> DateTime<Utc> {
        midnight(self.start)
    }

    /// The instant just after the window.
    pub fn to(&self) -> DateTime<Utc> {
        midnight(self.end)
    }

    /// The first day of every bucket.
    pub fn bucket_starts(&self) -> Vec<NaiveDate> {
        self.days()
            .into_iter()
            .step_by(self.grain.days() as usize)
            .collect()
    }

    /// Every day of the window.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.start
            .iter_days()
            .take_while(|d| *d < self.end)
            .collect()
    }

    /// The bucket of instant `t`, `None` outside the window.
    pub fn bucket_of(&self, t: DateTime<Utc>) -> Option<usize> {
        self.bucket_of_day(t.date_naive())
    }

    /// The bucket of day `d`, `None` outside the window.
    pub fn bucket_of_day(&self, d: NaiveDate) -> Option<usize> {
        if d < self.start || d >= self.end {
            return None;
        }
        let days = (d - self.start).num_days();
        usize::try_from(days / self.grain.days() as i64).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, d).unwrap()
    }

    #[test]
    fn weeks_are_whole_iso_weeks_and_days_are_half_open() {
        // 2024-03-06 is a Wednesday; 2024-03-13 another.
        let w = Window::new(Grain::Week, day(3, 6), day(3, 13));
        assert_eq!((w.start, w.end), (day(3, 4), day(3, 18)));
        assert_eq!(w.bucket_starts(), [day(3, 4), day(3, 11)]);
        let at = |d, h| Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap();
        assert_eq!(w.bucket_of(at(10, 23)), Some(0));
        assert_eq!(w.bucket_of(at(11, 0)), Some(1));
        assert_eq!(w.bucket_of(at(18, 0)), None);
        let d = Window::new(Grain::Day, day(3, 1), day(3, 3));
        assert_eq!(d.bucket_starts().len(), 3);
        assert_eq!(d.to(), at(4, 0));
        assert_eq!(d.bucket_of(at(3, 23)), Some(2));
    }
}
