//! `/dashboard` (web UI spec §4, §9, §10): the delivery metrics of the caller's org — tiles,
//! then commits and churn, PR throughput, cycle time (p50/p90) and its phases, PR size, review
//! latency, work-item throughput, WIP and item cycle time — as server-drawn SVG with data
//! tables, under filters kept in the URL.
//!
//! Members holding `analytics:read`, by session (an anonymous visitor is sent to sign in and
//! back). The page reads the same services as `GET /api/v1/metrics/{key}`, so it can never
//! show what the API would refuse. States: nothing synced yet (how to sync), per chart "No …
//! in this range.", a filter that does not parse (the page with the problem, 400), another
//! org's repo or team (404 page). Decisions where the spec is silent: `docs/DASHBOARD.md`.

mod charts;
mod filters;
mod format;
mod summary;
mod svg;

use std::collections::HashMap;

use app::analytics::{MetricAnswer, TeamChoice};
use app::authz::Authorized;
use app::sync::RepoView;
use app::{AppError, ErrorKind};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use domain::permission::marker::AnalyticsRead;

use self::charts::{Chart, Measure, Span};
use self::filters::{FilterError, Filters, PRESETS, RawFilters, grain_key};
use self::summary::{Tile, TileInputs};
use super::page::{Shell, render, shell, show_time};
use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::{ApiError, AppState, Auth};

const PATH: &str = "/dashboard";

/// Every metric the page reads, once per view.
const METRICS: &[&str] = &[
    "commits",
    "additions",
    "deletions",
    "pr_merged",
    "pr_cycle_time",
    "pr_coding_time",
    "pr_pickup_time",
    "pr_review_time",
    "pr_merge_time",
    "pr_size",
    "review_latency",
    "items_completed",
    "wip",
    "item_cycle_time",
];

/// An option of a filter select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A group of charts under one heading.
struct Section {
    id: &'static str,
    title: &'static str,
    charts: Vec<Chart>,
}

#[derive(Template)]
#[template(path = "dashboard/page.html")]
struct DashboardPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    ranges: Vec<Choice>,
    grains: Vec<Choice>,
    repos: Vec<Choice>,
    teams: Vec<Choice>,
    /// The from/to fields as shown (the window's days, or what was sent when it failed).
    from: String,
    to: String,
    error: Option<FilterError>,
    /// The org has no repository and no sync run: show how to sync instead of charts.
    nothing_synced: bool,
    org_slug: String,
    /// "Last sync finished 3 Jan 2024, 10:00 UTC", or a running sync.
    freshness: Option<String>,
    /// "1 Jan 2024 – 30 Jan 2024, per day".
    window: String,
    /// `/dashboard?<the filters>`: the link that reproduces this view.
    permalink: String,
    /// The same filters with the last 90 days (the empty charts' way out).
    last_90: String,
    tiles: Vec<Tile>,
    sections: Vec<Section>,
}

impl DashboardPage {
    fn status(&self) -> StatusCode {
        if self.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }

    fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }
}

fn not_found(what: &str) -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "not_found",
        format!("No such {what} in this organization."),
    )
}

fn choices<T>(
    all: &[T],
    none: &str,
    selected: Option<String>,
    item: impl Fn(&T) -> (String, String),
) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: none.to_owned(),
        selected: selected.is_none(),
    }];
    out.extend(all.iter().map(|t| {
        let (value, label) = item(t);
        Choice {
            selected: selected.as_deref() == Some(value.as_str()),
            value,
            label,
        }
    }));
    out
}

fn freshness(repos: &[RepoView]) -> Option<String> {
    let runs = repos.iter().filter_map(|r| r.last_run.as_ref());
    if runs
        .clone()
        .any(|r| matches!(r.status.as_str(), "queued" | "running"))
    {
        return Some("A sync is running; metrics update when it finishes.".to_owned());
    }
    runs.filter(|r| matches!(r.status.as_str(), "succeeded" | "partial"))
        .filter_map(|r| r.finished_at)
        .max()
        .map(|t| format!("Last sync finished {}.", show_time(&t.to_rfc3339())))
}

/// Builds the page for `raw` filters: the services are called here, the drawing happens in
/// [`charts`] and [`summary`].
async fn build(
    state: &AppState,
    a: &Authorized<AnalyticsRead>,
    raw: &RawFilters,
) -> Result<DashboardPage, AppError> {
    let principal = a.principal();
    let org = principal.org()?;
    let me = state.app.me(principal).await?;
    let org_slug = me
        .memberships
        .iter()
        .find(|m| m.org_id == org)
        .map(|m| m.slug.clone())
        .unwrap_or_default();
    let repos = state.app.repos(a).await?;
    let teams: Vec<TeamChoice> = state.app.team_choices(a).await?;
    let nothing_synced =
        repos.is_empty() && state.app.sync_runs(a, None, None, 1).await?.is_empty();
    let today = state.app.clock().now().date_naive();
    let parsed = Filters::parse(raw, today);
    let (repo_sel, team_sel) = match &parsed {
        Ok(f) => (f.repo.map(|r| r.to_string()), f.team.map(|t| t.to_string())),
        Err(_) => (raw.repo.clone(), raw.team.clone()),
    };
    let range_sel = match &parsed {
        Ok(f) => f.range.clone(),
        Err(_) => raw.range.clone().unwrap_or_default(),
    };
    let grain_sel = match &parsed {
        Ok(f) if f.grain_auto => String::new(),
        Ok(f) => grain_key(f.grain).to_owned(),
        Err(_) => raw.grain.clone().unwrap_or_default(),
    };
    let mut ranges: Vec<Choice> = PRESETS
        .iter()
        .map(|(key, _, label)| Choice {
            value: (*key).to_owned(),
            label: (*label).to_owned(),
            selected: range_sel == *key,
        })
        .collect();
    ranges.push(Choice {
        value: "custom".to_owned(),
        label: "Custom dates".to_owned(),
        selected: range_sel == "custom",
    });
    let grains = [("", "Automatic"), ("day", "Per day"), ("week", "Per week")]
        .iter()
        .map(|(v, l)| Choice {
            value: (*v).to_owned(),
            label: (*l).to_owned(),
            selected: grain_sel == *v,
        })
        .collect();
    let mut page = DashboardPage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        shell: shell(state, Some(principal), PATH).await?,
        ranges,
        grains,
        repos: choices(&repos, "All repositories", repo_sel, |r| {
            (r.id.to_string(), r.full_name.clone())
        }),
        teams: choices(&teams, "All teams", team_sel, |t| {
            (t.id.to_string(), t.name.clone())
        }),
        from: raw.from.clone().unwrap_or_default(),
        to: raw.to.clone().unwrap_or_default(),
        error: None,
        nothing_synced,
        org_slug,
        freshness: freshness(&repos),
        window: String::new(),
        permalink: PATH.to_owned(),
        last_90: format!("{PATH}?range=90d"),
        tiles: Vec::new(),
        sections: Vec::new(),
    };
    let f = match parsed {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e);
            return Ok(page);
        }
    };
    // Another org's (or no) repository or team: the 404 page, as the API answers.
    if let Some(r) = f.repo
        && !repos.iter().any(|x| x.id == r)
    {
        return Err(not_found("repository"));
    }
    if let Some(t) = f.team
        && !teams.iter().any(|x| x.id == t)
    {
        return Err(not_found("team"));
    }
    page.from = f.from.to_string();
    page.to = f.to.to_string();
    page.window = format!(
        "{} – {}, per {}",
        format::long_day(f.from),
        format::long_day(f.to),
        grain_key(f.grain)
    );
    page.permalink = format!("{PATH}?{}", f.query_string());
    page.last_90 = format!(
        "{PATH}?{}",
        Filters {
            range: "90d".to_owned(),
            from: today - chrono::Days::new(89),
            to: today,
            grain_auto: true,
            grain: app::analytics::window::Grain::Week,
            ..f.clone()
        }
        .query_string()
    );
    if nothing_synced {
        return Ok(page);
    }
    let query = f.metric_query();
    let mut answers: HashMap<&str, MetricAnswer> = HashMap::new();
    for key in METRICS {
        answers.insert(key, state.app.metric(a, key, &query).await?);
    }
    let get = |k: &str| {
        answers
            .get(k)
            .ok_or_else(|| AppError::new(ErrorKind::Internal, "internal_error", "missing metric"))
    };
    let span = Span {
        from: f.from,
        to: f.to,
        grain: f.grain,
    };
    page.tiles = summary::tiles(&TileInputs {
        commits: get("commits")?,
        additions: get("additions")?,
        deletions: get("deletions")?,
        pr_merged: get("pr_merged")?,
        pr_cycle_time: get("pr_cycle_time")?,
        items_completed: get("items_completed")?,
        wip: get("wip")?,
    });
    let merged = "merged pull requests";
    page.sections = vec![
        Section {
            id: "code",
            title: "Code",
            charts: vec![
                charts::bars("commits", "Commits", "commits", get("commits")?, &span),
                charts::churn(get("additions")?, get("deletions")?, &span),
            ],
        },
        Section {
            id: "pull-requests",
            title: "Pull requests",
            charts: vec![
                charts::bars(
                    "pr_merged",
                    "Pull requests merged",
                    merged,
                    get("pr_merged")?,
                    &span,
                ),
                charts::percentiles(
                    "pr_cycle_time",
                    "PR cycle time",
                    merged,
                    Measure::Duration,
                    get("pr_cycle_time")?,
                    &span,
                ),
                summary::phases(
                    [
                        get("pr_coding_time")?,
                        get("pr_pickup_time")?,
                        get("pr_review_time")?,
                        get("pr_merge_time")?,
                    ],
                    &span,
                ),
                charts::percentiles(
                    "pr_size",
                    "PR size (lines changed)",
                    "merged pull requests with a known size",
                    Measure::Lines,
                    get("pr_size")?,
                    &span,
                ),
                charts::percentiles(
                    "review_latency",
                    "Review latency (to the first review)",
                    "reviewed pull requests",
                    Measure::Duration,
                    get("review_latency")?,
                    &span,
                ),
            ],
        },
        Section {
            id: "work-items",
            title: "Work items",
            charts: vec![
                charts::bars(
                    "items_completed",
                    "Work items completed",
                    "completed work items",
                    get("items_completed")?,
                    &span,
                ),
                charts::wip(get("wip")?, &span),
                charts::percentiles(
                    "item_cycle_time",
                    "Work item cycle time",
                    "completed work items with a start",
                    Measure::Duration,
                    get("item_cycle_time")?,
                    &span,
                ),
            ],
        },
    ];
    Ok(page)
}

/// `GET /dashboard`.
async fn show(
    State(s): State<AppState>,
    Auth(a): Auth<AnalyticsRead>,
    Query(raw): Query<RawFilters>,
) -> Result<Response, ApiError> {
    let page = build(&s, &a, &raw).await?;
    Ok(render(page.status(), &page))
}

/// Registers the dashboard page.
pub(crate) fn routes(r: Routes) -> Routes {
    r.route(
        Surface::Web,
        Method::GET,
        PATH,
        Access::page::<AnalyticsRead>(),
        get(show),
    )
}
