//! The metric query (`GET /api/v1/metrics/{key}?scope&scope_id&from&to&grain&stats`, plus the
//! `repo_id` and `team_id` filters): raw query strings in, a validated request out. Every
//! refusal is 400 naming the field, before any row is read.

use chrono::{NaiveDate, Utc};
use domain::{IdentityId, OrgId, RepoId, TeamId};
use serde::Deserialize;
use store::analytics::metrics::Scope;

use super::catalog::{self, MetricDef};
use super::window::{Grain, Window};
use crate::{AppError, ErrorKind, Result};

/// The query string of a metric request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    /// `org` (default), `repo`, `team` or `person`.
    #[serde(default)]
    pub scope: Option<String>,
    /// The repo, team or identity id; required unless the scope is `org`.
    #[serde(default)]
    pub scope_id: Option<String>,
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    #[serde(default)]
    pub from: Option<String>,
    /// Last day, inclusive, `YYYY-MM-DD` (default: today, UTC).
    #[serde(default)]
    pub to: Option<String>,
    /// `day` (default) or `week`.
    #[serde(default)]
    pub grain: Option<String>,
    /// Comma-separated statistics (default: the metric's default statistics).
    #[serde(default)]
    pub stats: Option<String>,
    /// Narrows any scope to one repository.
    #[serde(default)]
    pub repo_id: Option<String>,
    /// Narrows any scope to one team.
    #[serde(default)]
    pub team_id: Option<String>,
}

/// A validated metric request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) def: &'static MetricDef,
    pub(crate) scope_kind: &'static str,
    pub(crate) scope_id: Option<String>,
    pub(crate) scope: Scope,
    pub(crate) window: Window,
    pub(crate) stats: Vec<&'static str>,
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::new(ErrorKind::BadRequest, "invalid_query", message).with("field", field)
}

pub(crate) fn unknown_metric(key: &str) -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "metric_not_found",
        format!("There is no metric {key:?}; GET /api/v1/metrics lists them."),
    )
}

fn id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T> {
    raw.trim().parse().map_err(|_| {
        invalid(
            field,
            format!("{field} must be an id (a UUID), not {raw:?}."),
        )
    })
}

fn day(field: &str, raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            format!("{field} must be a date YYYY-MM-DD, not {raw:?}."),
        )
    })
}

fn narrow<T: PartialEq + Copy>(field: &str, slot: &mut Option<T>, value: T) -> Result<()> {
    match *slot {
        Some(existing) if existing != value => Err(invalid(
            field,
            format!("{field} names a different id than scope_id; use one of them."),
        )),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// Validates `q` for metric `key` on `today` (UTC). The org is the caller's; ids are checked
/// against it afterwards.
pub(crate) fn parse(key: &str, q: &MetricQuery, today: NaiveDate) -> Result<Request> {
    let def = catalog::find(key).ok_or_else(|| unknown_metric(key))?;
    let scope_kind = match q.scope.as_deref().map(str::trim).unwrap_or("org") {
        "org" => "org",
        "repo" => "repo",
        "team" => "team",
        "person" => "person",
        other => {
            return Err(invalid(
                "scope",
                format!("scope must be one of org, repo, team, person, not {other:?}."),
            ));
        }
    };
    let mut scope = Scope::default();
    let raw_id = q.scope_id.as_deref().filter(|s| !s.trim().is_empty());
    match (scope_kind, raw_id) {
        ("org", None) => {}
        ("org", Some(_)) => {
            return Err(invalid(
                "scope_id",
                "scope_id is not used with scope=org; name the scope.",
            ));
        }
        (kind, None) => {
            return Err(invalid(
                "scope_id",
                format!("scope={kind} needs a scope_id."),
            ));
        }
        ("repo", Some(raw)) => scope.repo = Some(id::<RepoId>("scope_id", raw)?),
        ("team", Some(raw)) => scope.team = Some(id::<TeamId>("scope_id", raw)?),
        (_, Some(raw)) => scope.person = Some(id::<IdentityId>("scope_id", raw)?),
    }
    if let Some(raw) = q.repo_id.as_deref() {
        narrow("repo_id", &mut scope.repo, id::<RepoId>("repo_id", raw)?)?;
    }
    if let Some(raw) = q.team_id.as_deref() {
        narrow("team_id", &mut scope.team, id::<TeamId>("team_id", raw)?)?;
    }
    let grain = match q.grain.as_deref().map(str::trim).unwrap_or("day") {
        "day" => Grain::Day,
        "week" => Grain::Week,
        other => {
            return Err(invalid(
                "grain",
                format!("grain must be day or week, not {other:?}."),
            ));
        }
    };
    let to =
        q.to.as_deref()
            .map(|r| day("to", r))
            .transpose()?
            .unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(r) => day("from", r)?,
        None => to - chrono::Days::new(29),
    };
    if from > to {
        return Err(invalid("from", "from must not be after to."));
    }
    let days = (to - from).num_days() + 1;
    if days > grain.max_days() {
        return Err(AppError::new(
            ErrorKind::BadRequest,
            "window_too_large",
            format!(
                "The window from {from} to {to} is {days} days; grain={} allows at most {} days. \
                 Shorten it or use a coarser grain.",
                match grain {
                    Grain::Day => "day",
                    Grain::Week => "week",
                },
                grain.max_days()
            ),
        )
        .with("field", "from")
        .with("max_days", grain.max_days()));
    }
    let allowed = def.kind.stats();
    let stats: Vec<&'static str> = match q.stats.as_deref().filter(|s| !s.trim().is_empty()) {
        None => def.kind.default_stats().to_vec(),
        Some(raw) => raw
            .split(',')
            .map(|s| {
                let s = s.trim();
                allowed.iter().copied().find(|a| *a == s).ok_or_else(|| {
                    invalid(
                        "stats",
                        format!(
                            "stats names {s:?}, which {} does not have; it has {}.",
                            def.key,
                            allowed.join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };
    Ok(Request {
        def,
        scope_kind,
        scope_id: raw_id.map(|s| s.trim().to_owned()),
        scope,
        window: Window::new(grain, from, to),
        stats,
    })
}

/// Today in UTC per the app clock.
pub(crate) fn today(now: chrono::DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

/// 404 for a scope id that is not in the caller's org (another org's id included).
pub(crate) fn scope_not_found(what: &str) -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "not_found",
        format!("No such {what} in this organization."),
    )
}

/// Checks that every id of `scope` exists in `org`.
pub(crate) async fn check_scope(
    conn: &mut store::Conn<'_>,
    org: OrgId,
    scope: &Scope,
) -> Result<()> {
    use store::analytics::metrics::{identity_exists, repo_exists, team_exists};
    if let Some(r) = scope.repo
        && !repo_exists(conn, org, r).await?
    {
        return Err(scope_not_found("repository"));
    }
    if let Some(t) = scope.team
        && !team_exists(conn, org, t).await?
    {
        return Err(scope_not_found("team"));
    }
    if let Some(p) = scope.person
        && !identity_exists(conn, org, p).await?
    {
        return Err(scope_not_found("person"));
    }
    Ok(())
}
