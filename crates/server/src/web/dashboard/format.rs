//! The fixed number formats of the web UI (web UI spec §1 "Copy rules"): `1,234`, `12.5 h`,
//! `3.2 d`, and bucket labels in UTC. One place, so every chart, tile and table of the
//! dashboard writes a value the same way.

use chrono::NaiveDate;

/// Seconds per hour and per day.
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// A count or a whole number with thousands separators: `1,234`.
pub(crate) fn count(n: f64) -> String {
    let rounded = n.round();
    let negative = rounded < 0.0;
    // Counts on the dashboard are far below 2^53: the cast is exact.
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if negative && out != "0" {
        out.insert(0, '-');
    }
    out
}

/// How a chart of durations writes its axis: hours below three days, days above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// `h`.
    Hours,
    /// `d`.
    Days,
}

impl TimeUnit {
    /// The unit that keeps values up to `max_seconds` readable.
    pub(crate) fn for_max(max_seconds: f64) -> TimeUnit {
        if max_seconds >= 3.0 * DAY {
            TimeUnit::Days
        } else {
            TimeUnit::Hours
        }
    }

    /// Seconds in one unit.
    pub(crate) fn seconds(self) -> f64 {
        match self {
            TimeUnit::Hours => HOUR,
            TimeUnit::Days => DAY,
        }
    }

    /// `h` or `d`.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Hours => "h",
            TimeUnit::Days => "d",
        }
    }
}

/// A duration in seconds: `12.5 h` below two days, `3.2 d` from there.
pub(crate) fn duration(seconds: f64) -> String {
    if seconds < 2.0 * DAY {
        format!("{} h", one_decimal(seconds / HOUR))
    } else {
        format!("{} d", one_decimal(seconds / DAY))
    }
}

/// A number with at most one decimal (`12.5`, `3`, `1,234.5`).
pub(crate) fn one_decimal(x: f64) -> String {
    let tenths = (x * 10.0).round();
    if tenths % 10.0 == 0.0 {
        count(tenths / 10.0)
    } else {
        let whole = count((tenths / 10.0).trunc());
        let sign = if x < 0.0 && whole == "0" { "-" } else { "" };
        format!("{sign}{whole}.{}", (tenths.abs() % 10.0) as u8)
    }
}

/// A day as the charts label it: `3 Jan`.
pub(crate) fn short_day(d: NaiveDate) -> String {
    d.format("%-d %b").to_string()
}

/// A day with its year: `3 Jan 2024`.
pub(crate) fn long_day(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_the_fixed_formats() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1234.0), "1,234");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(one_decimal(12.5), "12.5");
        assert_eq!(one_decimal(3.0), "3");
        assert_eq!(one_decimal(1234.56), "1,234.6");
        assert_eq!(one_decimal(-0.5), "-0.5");
    }

    #[test]
    fn durations_are_hours_then_days() {
        assert_eq!(duration(45.0 * 60.0), "0.8 h");
        assert_eq!(duration(12.5 * 3600.0), "12.5 h");
        assert_eq!(duration(3.2 * 86_400.0), "3.2 d");
        assert_eq!(TimeUnit::for_max(3600.0), TimeUnit::Hours);
        assert_eq!(TimeUnit::for_max(4.0 * 86_400.0), TimeUnit::Days);
    }

    #[test]
    fn days_are_labelled_in_utc_words() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 3).unwrap_or_default();
        assert_eq!(short_day(d), "3 Jan");
        assert_eq!(long_day(d), "3 Jan 2024");
    }
}
