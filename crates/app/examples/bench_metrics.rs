//! Benchmark of metric computation over 1,000,000 pull requests (analytics spec §15), never a
//! timed test. On a fresh PostgreSQL database (TEST_POSTGRES_URL, dropped afterwards) it
//! generates 1,000,000 merged PRs with their `pr_metrics` across 10 repositories and one year,
//! then times, in the same run:
//!   - a plain scan: fetching `(repo_id, merged_at, cycle_s)` of every row to the client;
//!   - a bare `percentile_cont` query: weekly p50/p90 per repository in the database;
//!   - the product: `App::metric("pr_cycle_time", scope=repo, grain=week)` for each repository
//!     over the year (what the API and dashboard call),
//!
//! and prints each time with the ratios (spec target: ≤ 3× the bare `percentile_cont`).
//! Run: `cargo run --release -p app --example bench_metrics [-- --prs N]` (scripts/bench runs it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::type_complexity
)]

use std::sync::Arc;
use std::time::Instant;

use app::analytics::MetricQuery;
use app::authz::{Credential, Principal};
use domain::permission::marker::AnalyticsRead;
use domain::{OrgId, RepoId, Role, SystemClock, UserId};
use store::testing::TestDb;
use store::{Backend, Id, on_conn, sqlx};

mod support;
use support::arg;

const REPOS: usize = 10;

#[tokio::main]
async fn main() {
    let prs = i64::try_from(arg("--prs", 1_000_000)).unwrap();
    let db = TestDb::new(Backend::Postgres).await;
    let org = OrgId::new();
    let repos: Vec<RepoId> = (0..REPOS).map(|_| RepoId::new()).collect();
    {
        let mut c = db.store.acquire().await.unwrap();
        let mut conn = c.conn();
        store::identity::orgs::insert(&mut conn, org, "Bench", "bench", chrono::Utc::now())
            .await
            .unwrap();
        for (i, r) in repos.iter().enumerate() {
            on_conn!(&mut conn, c => sqlx::query(
                "INSERT INTO repos (org_id, id, provider, full_name, is_active, excluded_paths, \
                 created_at, updated_at) VALUES ($1, $2, 'github', $3, TRUE, '[]', now(), now())")
                .bind(Id::from(org)).bind(Id::from(*r)).bind(format!("bench/r{i}"))
                .execute(&mut *c).await.map(|_| ()))
            .unwrap();
        }
        let t = Instant::now();
        // One year of merged PRs, spread over the repositories, with a skewed cycle time.
        let per = prs / REPOS as i64;
        for (i, r) in repos.iter().enumerate() {
            on_conn!(&mut conn, c => sqlx::query(
                "INSERT INTO pull_requests (org_id, repo_id, number, provider, title, state, \
                 is_draft, labels, created_at, updated_at, merged_at, size_state) \
                 SELECT $1, $2, n, 'github', 'pr', 'merged', FALSE, '[]', \
                 timestamptz '2024-01-01' + (n * 31536000.0 / $3) * interval '1 second' - \
                 (((n * 7919) % 500000) + 60) * interval '1 second', \
                 timestamptz '2024-01-01' + (n * 31536000.0 / $3) * interval '1 second', \
                 timestamptz '2024-01-01' + (n * 31536000.0 / $3) * interval '1 second', \
                 'complete' FROM generate_series(1, $3::bigint) AS n")
                .bind(Id::from(org)).bind(Id::from(*r)).bind(per)
                .execute(&mut *c).await.map(|_| ()))
            .unwrap();
            println!("repo {i}: {per} PRs");
        }
        // Statistics before pr_metrics is filled: the foreign-key check's plan is made on first
        // use, and planned against an empty pull_requests it scans the table for every row.
        on_conn!(&mut conn, c => sqlx::query("ANALYZE pull_requests").execute(&mut *c).await.map(|_| ()))
            .unwrap();
        on_conn!(&mut conn, c => sqlx::query(
            "INSERT INTO pr_metrics (org_id, repo_id, number, cycle_s, lead_s, coding_s, \
             review_latency_s, size, size_bucket, reviewed_before_merge, merged_at) \
             SELECT p.org_id, p.repo_id, p.number, \
             EXTRACT(EPOCH FROM p.merged_at - p.created_at), \
             EXTRACT(EPOCH FROM p.merged_at - p.created_at), 0, NULL, 42, 'S', FALSE, \
             p.merged_at FROM pull_requests p WHERE p.org_id = $1")
            .bind(Id::from(org))
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
        on_conn!(&mut conn, c => sqlx::query("ANALYZE").execute(&mut *c).await.map(|_| ()))
            .unwrap();
        println!("generated {prs} PRs in {:.1} s", t.elapsed().as_secs_f64());
    }

    let app = app::App::new(
        db.store.clone(),
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    );
    let principal = Principal {
        user_id: UserId::new(),
        membership: Some((org, Role::Viewer)),
        platform_admin: false,
        credential: Credential::Session,
        credential_id: uuid::Uuid::now_v7(),
    };
    let a = app::authz::authorize::<AnalyticsRead>(Some(&principal)).unwrap();

    let mut scan_s = f64::MAX;
    let mut cont_s = f64::MAX;
    let mut app_s = f64::MAX;
    for round in 0..3 {
        let mut c = db.store.acquire().await.unwrap();
        let mut conn = c.conn();
        let t = Instant::now();
        let rows: Vec<(Id, chrono::DateTime<chrono::Utc>, Option<f64>)> =
            on_conn!(&mut conn, c => sqlx::query_as(
            "SELECT repo_id, merged_at, cycle_s FROM pr_metrics WHERE org_id = $1 \
             AND merged_at >= '2024-01-01' AND merged_at < '2025-01-01'")
            .bind(Id::from(org)).fetch_all(&mut *c).await)
            .unwrap();
        scan_s = scan_s.min(t.elapsed().as_secs_f64());
        let scanned = rows.len();
        drop(rows);

        let t = Instant::now();
        let weeks: Vec<(Id, chrono::DateTime<chrono::Utc>, Option<f64>, Option<f64>)> =
            on_conn!(&mut conn, c => sqlx::query_as(
            "SELECT repo_id, date_trunc('week', merged_at) AS w, \
             percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_s), \
             percentile_cont(0.9) WITHIN GROUP (ORDER BY cycle_s) \
             FROM pr_metrics WHERE org_id = $1 AND merged_at >= '2024-01-01' \
             AND merged_at < '2025-01-01' GROUP BY repo_id, w")
            .bind(Id::from(org)).fetch_all(&mut *c).await)
            .unwrap();
        cont_s = cont_s.min(t.elapsed().as_secs_f64());
        drop(c);

        let t = Instant::now();
        let mut points = 0;
        let mut count = 0.0;
        for r in &repos {
            let q = MetricQuery {
                scope: Some("repo".into()),
                scope_id: Some(r.to_string()),
                from: Some("2024-01-01".into()),
                to: Some("2024-12-31".into()),
                grain: Some("week".into()),
                stats: Some("count,p50,p90".into()),
                ..MetricQuery::default()
            };
            let answer = app.metric(&a, "pr_cycle_time", &q).await.unwrap();
            points += answer.points.len();
            count += answer
                .summary
                .get("count")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0);
        }
        app_s = app_s.min(t.elapsed().as_secs_f64());
        println!(
            "round {round}: scanned {scanned} rows; {} weekly percentile rows; metric API {points} \
             points over {count} PRs",
            weeks.len()
        );
    }
    println!(
        "plain scan {scan_s:.2} s; percentile_cont {cont_s:.2} s; pr_cycle_time weekly p50/p90 per \
         repo via App::metric {app_s:.2} s; ratio vs scan {:.2}, vs percentile_cont {:.2} (target <= 3)",
        app_s / scan_s,
        app_s / cont_s
    );
}
