//! The dashboard's filters, kept in the URL (web UI spec §3): `range` (a preset or `custom`),
//! `from`/`to`, `grain`, `repo`, `team`. Raw query strings in, a resolved window out, and the
//! same values written back as a query string, so every view has a link that reproduces it.
//!
//! Deviations from spec §3, decided in `docs/DASHBOARD.md`: a value that does not parse is a
//! 400 page naming the field (not silently dropped), and `from`/`to` apply when `range` is
//! `custom` or absent — an explicit preset wins, so picking a preset in a form that still
//! holds dates changes the view.

use app::analytics::MetricQuery;
use app::analytics::window::Grain;
use chrono::{Days, NaiveDate};
use domain::{RepoId, TeamId};
use serde::Deserialize;

/// The presets of the range select: key, days, label.
pub(crate) const PRESETS: &[(&str, u64, &str)] = &[
    ("7d", 7, "Last 7 days"),
    ("14d", 14, "Last 14 days"),
    ("30d", 30, "Last 30 days"),
    ("90d", 90, "Last 90 days"),
    ("180d", 180, "Last 180 days"),
    ("365d", 365, "Last 12 months"),
];

/// The preset used when the URL names none.
pub(crate) const DEFAULT_RANGE: &str = "30d";

/// The query string as sent; unknown parameters are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawFilters {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub grain: Option<String>,
    pub repo: Option<String>,
    pub team: Option<String>,
}

/// A filter value that does not parse: the field and a sentence saying what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterError {
    /// The query parameter (and the form field's name).
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> FilterError {
    FilterError {
        field,
        message: message.into(),
    }
}

/// Resolved filters: inclusive UTC days, a grain, and at most one repo and one team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filters {
    /// A preset key, or `custom`.
    pub range: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub grain: Grain,
    /// Whether the grain was chosen from the range (no `grain` in the URL).
    pub grain_auto: bool,
    pub repo: Option<RepoId>,
    pub team: Option<TeamId>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day(field: &'static str, raw: &str) -> Result<NaiveDate, FilterError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        bad(
            field,
            format!("{field} must be a date YYYY-MM-DD, not {raw:?}."),
        )
    })
}

fn id<T: std::str::FromStr>(field: &'static str, what: &str, raw: &str) -> Result<T, FilterError> {
    raw.parse().map_err(|_| {
        bad(
            field,
            format!("{field} must name a {what} of this organization."),
        )
    })
}

impl Filters {
    /// Resolves `raw` on `today` (UTC, from the app clock).
    pub(crate) fn parse(raw: &RawFilters, today: NaiveDate) -> Result<Filters, FilterError> {
        let (from_raw, to_raw) = (present(&raw.from), present(&raw.to));
        let range = match present(&raw.range) {
            None if from_raw.is_some() || to_raw.is_some() => "custom",
            None => DEFAULT_RANGE,
            Some("custom") => "custom",
            Some(r) => PRESETS
                .iter()
                .find(|p| p.0 == r)
                .map(|p| p.0)
                .ok_or_else(|| {
                    let keys: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                    bad(
                        "range",
                        format!(
                            "range must be one of {} or custom, not {r:?}.",
                            keys.join(", ")
                        ),
                    )
                })?,
        };
        let (from, to) = match PRESETS.iter().find(|p| p.0 == range) {
            Some((_, days, _)) => (today - Days::new(days - 1), today),
            None => {
                let to = to_raw.map(|r| day("to", r)).transpose()?.unwrap_or(today);
                // The spec caps `to` at today: the future has no data.
                let to = to.min(today);
                let from = match from_raw {
                    Some(r) => day("from", r)?,
                    None => to - Days::new(29),
                };
                if from > to {
                    return Err(bad(
                        "from",
                        format!("from ({from}) must not be after to ({to})."),
                    ));
                }
                (from, to)
            }
        };
        let days = (to - from).num_days() + 1;
        let (grain, grain_auto) = match present(&raw.grain) {
            None | Some("auto") => (if days <= 30 { Grain::Day } else { Grain::Week }, true),
            Some("day") => (Grain::Day, false),
            Some("week") => (Grain::Week, false),
            Some(other) => {
                return Err(bad(
                    "grain",
                    format!("grain must be day or week, not {other:?}."),
                ));
            }
        };
        if days > grain.max_days() {
            let (name, hint) = match grain {
                Grain::Day => ("day", "choose the week grain or a shorter range"),
                Grain::Week => ("week", "choose a shorter range"),
            };
            return Err(bad(
                "from",
                format!(
                    "The range from {from} to {to} is {days} days; the {name} grain shows at most {} days: {hint}.",
                    grain.max_days()
                ),
            ));
        }
        Ok(Filters {
            range: range.to_owned(),
            from,
            to,
            grain,
            grain_auto,
            repo: present(&raw.repo)
                .map(|r| id("repo", "repository", r))
                .transpose()?,
            team: present(&raw.team)
                .map(|r| id("team", "team", r))
                .transpose()?,
        })
    }

    /// The metric query for these filters (org scope, narrowed to the repo and team).
    pub(crate) fn metric_query(&self) -> MetricQuery {
        MetricQuery {
            from: Some(self.from.to_string()),
            to: Some(self.to.to_string()),
            grain: Some(grain_key(self.grain).to_owned()),
            repo_id: self.repo.map(|r| r.to_string()),
            team_id: self.team.map(|t| t.to_string()),
            ..MetricQuery::default()
        }
    }

    /// The query string that reproduces this view (`range=30d&repo=…`): the preset alone,
    /// or `range=custom&from&to`, plus an explicit grain and the repo and team.
    pub(crate) fn query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("range", self.range.clone())];
        if self.range == "custom" {
            pairs.push(("from", self.from.to_string()));
            pairs.push(("to", self.to.to_string()));
        }
        if !self.grain_auto {
            pairs.push(("grain", grain_key(self.grain).to_owned()));
        }
        if let Some(r) = self.repo {
            pairs.push(("repo", r.to_string()));
        }
        if let Some(t) = self.team {
            pairs.push(("team", t.to_string()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// `day` or `week`.
pub(crate) fn grain_key(g: Grain) -> &'static str {
    match g {
        Grain::Day => "day",
        Grain::Week => "week",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, day).unwrap()
    }

    fn raw(pairs: &[(&str, &str)]) -> RawFilters {
        serde_urlencoded::from_str(&serde_urlencoded::to_string(pairs).unwrap()).unwrap()
    }

    #[test]
    fn presets_end_today_and_pick_their_grain() {
        let today = d(3, 31);
        let f = Filters::parse(&raw(&[]), today).unwrap();
        assert_eq!((f.range.as_str(), f.from, f.to), ("30d", d(3, 2), today));
        assert_eq!((f.grain, f.grain_auto), (Grain::Day, true));
        let f = Filters::parse(&raw(&[("range", "90d")]), today).unwrap();
        assert_eq!((f.from, f.grain), (d(1, 2), Grain::Week));
        assert_eq!(f.query_string(), "range=90d");
        let f = Filters::parse(&raw(&[("range", "7d"), ("from", "2020-01-01")]), today).unwrap();
        assert_eq!(
            f.from,
            d(3, 25),
            "an explicit preset wins over leftover dates"
        );
    }

    #[test]
    fn custom_ranges_are_capped_at_today_and_round_trip() {
        let today = d(3, 31);
        let q = [
            ("from", "2024-03-01"),
            ("to", "2024-05-01"),
            ("grain", "week"),
        ];
        let f = Filters::parse(&raw(&q), today).unwrap();
        assert_eq!((f.range.as_str(), f.from, f.to), ("custom", d(3, 1), today));
        let again = Filters::parse(
            &serde_urlencoded::from_str(&f.query_string()).unwrap(),
            today,
        )
        .unwrap();
        assert_eq!(again, f);
    }

    #[test]
    fn bad_values_name_their_field() {
        let today = d(3, 31);
        let field = |q: &[(&str, &str)]| Filters::parse(&raw(q), today).unwrap_err().field;
        assert_eq!(field(&[("from", "yesterday")]), "from");
        assert_eq!(field(&[("range", "custom"), ("to", "2024-13-01")]), "to");
        assert_eq!(
            field(&[("from", "2024-03-10"), ("to", "2024-03-01")]),
            "from"
        );
        assert_eq!(field(&[("range", "3w")]), "range");
        assert_eq!(field(&[("grain", "month")]), "grain");
        assert_eq!(field(&[("repo", "nope")]), "repo");
        assert_eq!(field(&[("team", "42")]), "team");
        assert_eq!(
            field(&[("from", "2022-01-01"), ("grain", "day")]),
            "from",
            "too long for days"
        );
    }
}
