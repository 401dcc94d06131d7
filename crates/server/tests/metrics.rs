//! The metric API over HTTP (analytics spec §9, §14): a viewer reads the catalog and a metric,
//! an API token with `analytics:read` reads the same, a repo of another org answers 404, and
//! bad parameters answer 400 naming the field.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use domain::{OrgId, RepoId, Role, Tier};
use store::testing::TestDb;
use store::{Id, Ts, backend_tests, on_conn, sqlx};
use support::{env, set_tier};

/// A repository with one commit (+10/−2 on one file) on 2024-03-01.
async fn repo_with_commit(db: &TestDb, org: OrgId, name: &str) -> RepoId {
    let id = RepoId::new();
    let at = Ts::new(Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap());
    let mut c = db.store.acquire().await.unwrap();
    let mut conn = c.conn();
    on_conn!(&mut conn, c => sqlx::query(
        "INSERT INTO repos (org_id, id, provider, full_name, is_active, excluded_paths, \
         created_at, updated_at) VALUES ($1, $2, 'github', $3, TRUE, '[]', $4, $4)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(name).bind(at)
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    on_conn!(&mut conn, c => sqlx::query(
        "INSERT INTO commits (org_id, repo_id, sha, author_name, author_email, authored_at, \
         committer_name, committer_email, committed_at, parent_count, subject, additions, \
         deletions, files_changed, stats_state) VALUES ($1, $2, 'abc', 'a', 'a@x', $3, 'a', \
         'a@x', $3, 1, 's', 10, 2, 1, 'complete')")
        .bind(Id::from(org)).bind(Id::from(id)).bind(at)
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    on_conn!(&mut conn, c => sqlx::query(
        "INSERT INTO commit_files (org_id, repo_id, sha, path, additions, deletions, is_binary, \
         change, is_excluded) VALUES ($1, $2, 'abc', 'src/a.rs', 10, 2, FALSE, 'M', FALSE)")
        .bind(Id::from(org)).bind(Id::from(id))
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    id
}

backend_tests! {
    async fn viewers_and_tokens_read_metrics_of_their_org_only(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let other = e.other_org_owner(db, "other@example.com").await;
        let mine = repo_with_commit(db, org, "acme/web").await;
        let theirs = repo_with_commit(db, other.org_id.unwrap(), "other/web").await;
        let v = Some(viewer.access.as_str());

        let catalog = e.get("/api/v1/metrics", v).await;
        assert_eq!(catalog.status, StatusCode::OK, "{catalog:?}");
        assert_eq!(catalog.body.as_array().unwrap().len(), 27);
        assert!(catalog.body.as_array().unwrap().iter().any(|m| m["key"] == "pr_cycle_time" && m["unit"] == "seconds"));

        let path = |q: &str| format!("/api/v1/metrics/churn?from=2024-03-01&to=2024-03-02{q}");
        let a = e.get(&path(""), v).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        assert_eq!((a.body["metric"].as_str(), a.body["unit"].as_str(), a.body["grain"].as_str(), a.body["scope"].as_str()), (Some("churn"), Some("lines"), Some("day"), Some("org")));
        assert_eq!(a.body["summary"]["value"], 12);
        assert_eq!(a.body["points"][0]["bucket_start"], "2024-03-01T00:00:00Z");
        assert_eq!(a.body["points"][1]["value"], 0);
        let a = e.get(&path(&format!("&scope=repo&scope_id={mine}&grain=week")), v).await;
        assert_eq!((a.status, a.body["summary"]["value"].as_i64()), (StatusCode::OK, Some(12)), "{a:?}");
        let a = e.get("/api/v1/metrics/pr_cycle_time?from=2024-03-01&to=2024-03-02&stats=p50,p95,count", v).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        assert_eq!((a.body["summary"]["count"].as_i64(), a.body["summary"]["p95"].is_null()), (Some(0), true));

        // Another org's repo is not found, whoever asks.
        let a = e.get(&path(&format!("&scope=repo&scope_id={theirs}")), v).await;
        assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"), "{a:?}");
        let a = e.get(&path(&format!("&repo_id={theirs}")), v).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(e.get("/api/v1/metrics/bogus", v).await.status, StatusCode::NOT_FOUND);

        for (q, field) in [("&grain=hour", "grain"), ("&scope=repo", "scope_id"), ("&scope=repo&scope_id=42", "scope_id"), ("&stats=p50", "stats")] {
            let a = e.get(&path(q), v).await;
            assert_eq!((a.status, a.code(), a.body["field"].as_str()), (StatusCode::BAD_REQUEST, "invalid_query", Some(field)), "{q}: {a:?}");
            assert!(a.body["message"].as_str().unwrap().contains(field), "{a:?}");
        }
        let a = e.get("/api/v1/metrics/churn?from=2024-03-03&to=2024-03-01", v).await;
        assert_eq!((a.status, a.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("from")));
        let a = e.get("/api/v1/metrics/churn?from=2023-01-01&to=2024-12-31", v).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "window_too_large"), "{a:?}");
        let a = e.get(&path("&colour=blue"), v).await;
        assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "invalid_query"));

        assert_eq!(e.get("/api/v1/metrics", None).await.status, StatusCode::UNAUTHORIZED);
        set_tier(&e, org, Tier::Team).await;
        let token = e.token(&owner, "dash", &["analytics:read"]).await;
        let a = e.get(&path(""), Some(&token)).await;
        assert_eq!((a.status, a.body["summary"]["value"].as_i64()), (StatusCode::OK, Some(12)), "{a:?}");
        let unscoped = e.token(&owner, "other", &["teams:read"]).await;
        assert_eq!(e.get(&path(""), Some(&unscoped)).await.status, StatusCode::FORBIDDEN);
    }
}
