//! The dashboard page `/dashboard` through the real router on both backends, as a browser
//! without JavaScript sees it: after two local git syncs a viewer gets SVG charts with one bar
//! per bucket of the window (days, or ISO weeks for long ranges) whose values add up to the
//! synced commits, the repository filter narrows them, metrics without data say so per chart;
//! an org with nothing synced gets the "how to sync" state; a filter that does not parse is a
//! 400 page naming it; another org's repository is the 404 page; anonymous visitors are sent
//! to sign in and back (API tokens are refused: the authorization matrix).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use app::sync::GitSyncOptions;
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use domain::{OrgId, RepoId, Role};
use store::backend_tests;
use support::browser::{Browser, Page};
use support::{Env, env};
use sync::git::generate::{GenOptions, generate_repo};

/// "Today" for these tests: the generated commits start on 2024-01-01.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 20).unwrap()
}

/// Generates a repository of `commits` commits, registers it in `org` and syncs it; returns
/// its id and its non-merge commits.
async fn synced(
    e: &Env,
    org: OrgId,
    dir: &std::path::Path,
    commits: u32,
    seed: u64,
) -> (RepoId, u64) {
    let path = dir.join(format!("repo-{seed}.git"));
    let generated = generate_repo(&path, GenOptions { commits, seed }).unwrap();
    let repo = e.app.register_local_repo(org, &path).await.unwrap();
    e.app
        .sync_git_repo(org, repo, &GitSyncOptions::default(), &())
        .await
        .unwrap();
    (repo, u64::from(generated.commits - generated.merges))
}

/// The `<figure>` of chart `id`.
fn chart<'p>(page: &'p Page, id: &str) -> &'p str {
    let start = page
        .html
        .find(&format!(r#"<figure class="chart" id="chart-{id}""#))
        .unwrap_or_else(|| panic!("no chart {id} in {}", page.html));
    let end = page.html[start..].find("</figure>").unwrap() + start;
    &page.html[start..end]
}

/// The bars of a chart and the sum of their values.
fn bars(figure: &str) -> (usize, f64) {
    let values: Vec<f64> = figure
        .split(r#"<rect class="bar "#)
        .skip(1)
        .map(|rect| {
            let v = rect.split(r#"data-value=""#).nth(1).unwrap();
            v[..v.find('"').unwrap()].parse::<f64>().unwrap()
        })
        .collect();
    (values.len(), values.iter().sum())
}

/// The ISO weeks the week grain shows for the last `days` days up to `today`.
fn weeks(days: u64) -> usize {
    let from = today() - chrono::Days::new(days - 1);
    let monday = from - chrono::Days::new(u64::from(from.weekday().num_days_from_monday()));
    let after_sunday =
        today() + chrono::Days::new(u64::from(7 - today().weekday().num_days_from_monday()));
    usize::try_from((after_sunday - monday).num_days() / 7).unwrap()
}

backend_tests! {
    async fn members_see_charts_of_the_synced_data_and_filters_stay_in_the_url(db: &TestDb) {
        let e = env(db);
        e.clock.set(Utc.with_ymd_and_hms(2024, 1, 20, 12, 0, 0).unwrap());
        let owner = e.setup("owner@example.com").await;
        e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let org = owner.org_id.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (big, big_commits) = synced(&e, org, dir.path(), 120, 9).await;
        let (_small, small_commits) = synced(&e, org, dir.path(), 40, 4).await;

        let mut viewer = Browser::signed_in(&e.router, [10, 3, 0, 1], "viewer@example.com").await;
        let page = viewer.get("/dashboard?range=custom&from=2024-01-01&to=2024-01-14").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_eq!(page.header("cache-control"), "no-store");
        assert!(page.has(r#"<a href="/dashboard" aria-current="page">Dashboard</a>"#), "navigation");
        assert!(page.has("1 Jan 2024 – 14 Jan 2024, per day"), "{}", page.html);
        assert!(page.has(r#"href="/dashboard?range=custom&#38;from=2024-01-01&#38;to=2024-01-14" id="permalink""#));
        // One bar per day; together they are every non-merge commit of both repositories.
        let commits = chart(&page, "commits");
        assert!(commits.contains(r#"role="img""#) && commits.contains("<desc id="));
        assert!(commits.contains("<table class=\"data-table\">") && commits.contains("<title>"));
        assert_eq!(bars(commits), (14, (big_commits + small_commits) as f64));
        assert!(page.has(&format!(r#"data-tile="commits"><span class="tile-label">Commits</span> <strong class="tile-value">{}</strong>"#, big_commits + small_commits)));
        // Churn: an addition bar above and a deletion bar below the axis per day.
        assert_eq!(bars(chart(&page, "churn")).0, 28);
        // Local git has no pull requests or work items: those charts say so.
        assert!(chart(&page, "pr_merged").contains("No merged pull requests in this range."));
        assert!(chart(&page, "pr_cycle_time").contains("No merged pull requests in this range."));
        assert!(chart(&page, "pr_phases").contains("No reviewed, merged pull requests in this range."));
        assert!(chart(&page, "items_completed").contains("No completed work items in this range."));
        assert!(chart(&page, "wip").contains("No work in progress in this range."));
        assert!(chart(&page, "item_cycle_time").contains("in this range."));
        assert!(page.has(r#"<option value="custom" selected>Custom dates</option>"#));

        // The repository filter narrows every chart to that repository.
        let one = viewer
            .get(&format!("/dashboard?range=custom&from=2024-01-01&to=2024-01-14&repo={big}"))
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.html);
        assert_eq!(bars(chart(&one, "commits")), (14, big_commits as f64));
        assert!(one.has(&format!(r#"<option value="{big}" selected>"#)));

        // Presets end today; long ones are drawn per ISO week. The last week had no commits.
        let week = viewer.get("/dashboard?range=7d").await;
        assert!(week.has("14 Jan 2024 – 20 Jan 2024, per day"), "{}", week.html);
        assert!(chart(&week, "commits").contains("No commits in this range."));
        assert!(week.has(r#"<a href="/dashboard?range=90d">Show last 90 days</a>"#));
        let month = viewer.get("/dashboard").await;
        assert_eq!(bars(chart(&month, "commits")), (30, (big_commits + small_commits) as f64));
        assert!(month.has(r#"<option value="30d" selected>Last 30 days</option>"#));
        let quarter = viewer.get("/dashboard?range=90d").await;
        assert_eq!(quarter.status, StatusCode::OK);
        let (n, total) = bars(chart(&quarter, "commits"));
        assert_eq!((n, total), (weeks(90), (big_commits + small_commits) as f64));
        assert!(quarter.has("per week"));
        let daily = viewer.get("/dashboard?range=90d&grain=day").await;
        assert_eq!(bars(chart(&daily, "commits")).0, 90);

        // Filters that do not parse: the page with the problem and the form, 400.
        for (query, field) in [
            ("from=2024-02-30", "from"),
            ("range=custom&to=soon", "to"),
            ("range=fortnight", "range"),
            ("grain=month", "grain"),
            ("repo=not-an-id", "repo"),
            ("range=custom&from=2022-01-01&to=2024-01-01&grain=day", "from"),
        ] {
            let bad = viewer.get(&format!("/dashboard?{query}")).await;
            assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}: {}", bad.html);
            assert!(bad.has(&format!(r#"id="filter-error" data-field="{field}""#)), "{query}: {}", bad.html);
            assert!(bad.has(r#"aria-invalid="true""#) && bad.has(r#"<form method="get" action="/dashboard""#));
            assert!(!bad.has(r#"<figure class="chart""#));
        }

        // A repository or team id of no repository here: the 404 page.
        let nowhere = viewer.get(&format!("/dashboard?repo={}", RepoId::new())).await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND, "{}", nowhere.html);
        assert!(nowhere.has("No such repository in this organization."));
        let no_team = viewer.get(&format!("/dashboard?team={}", uuid::Uuid::now_v7())).await;
        assert_eq!(no_team.status, StatusCode::NOT_FOUND);

        // Anonymous visitors are sent to sign in and come back to the same view.
        let mut anon = Browser::new(&e.router, [10, 3, 0, 2]);
        let away = anon.get("/dashboard?range=7d&grain=day").await;
        assert_eq!(away.status, StatusCode::SEE_OTHER);
        assert_eq!(away.location(), "/signin?next=%2Fdashboard%3Frange%3D7d%26grain%3Dday");
    }

    async fn an_org_with_nothing_synced_is_told_how_to_sync_and_cannot_read_another_orgs_repo(db: &TestDb) {
        let e = env(db);
        e.clock.set(Utc.with_ymd_and_hms(2024, 1, 20, 12, 0, 0).unwrap());
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        e.other_org_owner(db, "other@example.com").await;
        let dir = tempfile::tempdir().unwrap();
        let (theirs, _) = synced(&e, org, dir.path(), 20, 5).await;

        let mut other = Browser::signed_in(&e.router, [10, 4, 0, 1], "other@example.com").await;
        let page = other.get("/dashboard").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.has(r#"id="nothing-synced""#), "{}", page.html);
        assert!(page.has("dev-health sync git PATH --org other-org"));
        assert!(page.has("/api/v1/repos") && page.has("/api/v1/sync-runs"));
        assert!(!page.has(r#"<figure class="chart""#));
        assert!(page.has(r#"<option value="" selected>All repositories</option>"#));

        // Acme's repository does not exist for the other org, even as a filter.
        let foreign = other.get(&format!("/dashboard?repo={theirs}")).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.html);
        assert!(!foreign.has("repo-5"));

        // The owner of Acme sees its charts.
        let mut acme = Browser::signed_in(&e.router, [10, 4, 0, 2], "owner@example.com").await;
        let mine = acme.get(&format!("/dashboard?repo={theirs}")).await;
        assert_eq!(mine.status, StatusCode::OK);
        assert!(mine.has(r#"<figure class="chart" id="chart-commits""#));
    }
}
