//! The dashboard in a real headless Chromium (SQLite): the server runs on a loopback port over
//! two synced generated repositories with the app clock on 5 Jan 2024 (the generated commits
//! start on 1 Jan 2024). Opening `/dashboard` signed out leads through the sign-in form back
//! to it; the SVG charts are drawn with non-empty bars; choosing the "Last 7 days" preset and
//! then one repository navigates to URLs carrying exactly those filters (the page's script
//! submits the GET form on change and leaves unused fields out), and the charts follow: 30
//! daily bars become 7, and the commit total shrinks to that repository's.
//!
//! Uses the WebDriver client of `crates/cli/tests/support/webdriver.rs` (included by path, so
//! both browser suites share one client). Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`
//! (`scripts/ensure-chromium`). Everything stays on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

/// The cli suite's support folder, for its WebDriver client (`webdriver.rs` and
/// `webdriver/wire.rs`), which asks its parent module for the HTTP client.
#[allow(dead_code)]
#[path = "../../cli/tests/support"]
mod cli_support {
    pub mod webdriver;

    /// The HTTP client the WebDriver client uses (rustls with ring, installed once).
    pub fn http() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::sync::GitSyncOptions;
use chrono::{TimeZone, Utc};
use cli_support::http;
use cli_support::webdriver::Browser;
use domain::ManualClock;
use serde_json::json;
use store::Backend;
use store::testing::TestDb;
use sync::git::generate::{GenOptions, generate_repo};

const WAIT: Duration = Duration::from_secs(30);

/// The query string of a URL (`http://h/p?a=1` → `a=1`).
fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

/// The bars of chart `id` as (count, how many are taller than zero, sum of their values).
async fn bars(b: &Browser, id: &str) -> (usize, usize, f64) {
    let rects = b.find_all(&format!("#chart-{id} svg rect.bar")).await;
    let (mut tall, mut sum) = (0, 0.0);
    for r in &rects {
        let h: f64 = r.attribute("height").await.unwrap().parse().unwrap();
        if h > 0.0 {
            tall += 1;
        }
        sum += r
            .attribute("data-value")
            .await
            .unwrap()
            .parse::<f64>()
            .unwrap();
    }
    (rects.len(), tall, sum)
}

/// The commit tile's number.
async fn commit_tile(b: &Browser) -> f64 {
    let text = b
        .find(r#"[data-tile="commits"] .tile-value"#)
        .await
        .text()
        .await;
    text.replace(',', "").parse().unwrap()
}

#[tokio::test]
async fn the_dashboard_draws_charts_and_its_filters_navigate_to_shareable_urls() {
    let db = TestDb::new(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 1, 5, 12, 0, 0).unwrap(),
    ));
    let app = app::App::new(
        db.store.clone(),
        clock,
        app::identity::IdentityConfig::ephemeral(&base),
    )
    .with_entitlements(support::saas());
    let router = server::build(app.clone(), server::ServerConfig::default()).0;
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    // The first owner and two synced repositories.
    let setup = http()
        .post(format!("{base}/api/v1/setup"))
        .json(
            &json!({"email": "owner@example.com", "password": support::PASSWORD,
            "name": "Olive Owner", "org_name": "Acme"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), 201);
    let body: serde_json::Value = setup.json().await.unwrap();
    let org = body["org"]["id"].as_str().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut repos = Vec::new();
    for (name, commits, seed) in [("big", 120, 9), ("small", 40, 4)] {
        let path = dir.path().join(format!("{name}.git"));
        generate_repo(&path, GenOptions { commits, seed }).unwrap();
        let repo = app.register_local_repo(org, &path).await.unwrap();
        app.sync_git_repo(org, repo, &GitSyncOptions::default(), &())
            .await
            .unwrap();
        repos.push(repo);
    }
    let small = repos[1];

    let b = Browser::start().await;
    let _shot = b.screenshot_on_failure("web_dashboard_browser");
    // Signed out, the dashboard sends the visitor to sign in and then back.
    b.goto(&format!("{base}/dashboard")).await;
    b.wait_for("#password", WAIT).await;
    assert!(b.current_url().await.contains("next=%2Fdashboard"));
    b.find("#email").await.fill("owner@example.com").await;
    b.find("#password").await.fill(support::PASSWORD).await;
    b.find("form:has(#password) button[type=\"submit\"]")
        .await
        .click()
        .await;
    b.wait_for("#chart-commits svg rect.bar", WAIT).await;
    assert!(b.current_url().await.ends_with("/dashboard"));
    assert_eq!(
        b.find(r#"nav a[aria-current="page"]"#).await.text().await,
        "Dashboard"
    );

    // Last 30 days by default: one bar per day, some of them tall, adding up to the tile.
    let (n, tall, sum) = bars(&b, "commits").await;
    assert_eq!(n, 30);
    assert!(tall > 0, "bars with commits are drawn");
    let all_repos = commit_tile(&b).await;
    assert_eq!(sum, all_repos);
    assert!(
        b.find("#chart-churn svg.plot")
            .await
            .attribute("role")
            .await
            .as_deref()
            == Some("img")
    );
    b.wait_for_text(
        "#chart-pr_merged",
        "No merged pull requests in this range.",
        WAIT,
    )
    .await;

    // A preset: the form submits itself, and the URL carries just the range.
    b.find(r#"#f-range option[value="7d"]"#).await.click().await;
    let url = b
        .wait_for_url("with range=7d", WAIT, |u| u.contains("range=7d"))
        .await;
    assert_eq!(query_of(&url), "range=7d");
    b.wait_for("#chart-commits svg rect.bar", WAIT).await;
    let (n, tall, _) = bars(&b, "commits").await;
    assert_eq!(n, 7);
    assert!(tall > 0);
    b.wait_for_text("#window", "30 Dec 2023 – 5 Jan 2024, per day", WAIT)
        .await;

    // A repository: the range stays, the repo joins it, the totals become that repository's.
    b.find(&format!(r#"#f-repo option[value="{small}"]"#))
        .await
        .click()
        .await;
    let url = b
        .wait_for_url("with repo", WAIT, |u| u.contains("repo="))
        .await;
    assert_eq!(query_of(&url), format!("range=7d&repo={small}"));
    b.wait_for("#chart-commits svg rect.bar", WAIT).await;
    let one_repo = commit_tile(&b).await;
    let (n, tall, sum) = bars(&b, "commits").await;
    assert_eq!((n, sum), (7, one_repo));
    assert!(tall > 0);
    assert!(
        one_repo > 0.0 && one_repo < all_repos,
        "{one_repo} of {all_repos}"
    );
    let selected = b.find("#f-repo").await.property("value").await;
    assert_eq!(selected.as_str(), Some(small.to_string().as_str()));

    // The link reproduces the view.
    let link = b.find("#permalink").await.attribute("href").await.unwrap();
    assert_eq!(link, format!("/dashboard?range=7d&repo={small}"));
}
