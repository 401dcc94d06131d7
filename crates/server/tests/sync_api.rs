//! Repositories and sync runs over HTTP (analytics spec §3.1, §14): after a local git sync, a
//! viewer reads the repository, its last run and the commit metric; a viewer cannot change the
//! sync configuration or start a run; an editor's "Sync now" queues one run (a second trigger
//! gets the same run back); another org's repository and run answer 404; bad input answers 4xx
//! and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use app::sync::GitSyncOptions;
use axum::http::StatusCode;
use domain::Role;
use serde_json::json;
use store::backend_tests;
use support::env;
use sync::git::generate::{GenOptions, generate_repo};

backend_tests! {
    async fn synced_repositories_and_runs_are_read_and_triggered_per_org(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let editor = e.add_member(&owner, "editor@example.com", Role::Editor).await;
        let other = e.other_org_owner(db, "other@example.com").await;
        let org = owner.org_id.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.git");
        let generated = generate_repo(&path, GenOptions { commits: 120, seed: 9 }).unwrap();
        let repo = e.app.register_local_repo(org, &path).await.unwrap();
        let synced = e.app.sync_git_repo(org, repo, &GitSyncOptions::default(), &()).await.unwrap();
        assert_eq!(synced.commits, u64::from(generated.commits));

        let v = Some(viewer.access.as_str());
        let list = e.get("/api/v1/repos", v).await;
        assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
        assert_eq!(list.body["data"][0]["id"], repo.to_string());
        assert_eq!(list.body["data"][0]["last_run"]["status"], "succeeded");
        assert_eq!(
            list.body["data"][0]["last_run"]["counts"]["commits"],
            u64::from(generated.commits)
        );
        let one = e.get(&format!("/api/v1/repos/{repo}"), v).await;
        assert_eq!(one.status, StatusCode::OK);
        let runs = e.get("/api/v1/sync-runs?status=succeeded", v).await;
        assert_eq!(runs.body["data"].as_array().unwrap().len(), 1);
        let run_id = runs.body["data"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(e.get(&format!("/api/v1/sync-runs/{run_id}"), v).await.status, StatusCode::OK);

        // The synced commits feed the commit metric (non-merge commits, by commit day).
        let m = e
            .get(&format!(
                "/api/v1/metrics/commits?scope=repo&scope_id={repo}&from=2024-01-01&to=2024-12-31&grain=week"
            ), v)
            .await;
        assert_eq!(m.status, StatusCode::OK, "{:?}", m.body);
        let total: f64 = m.body["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap_or(0.0))
            .sum();
        assert_eq!(total, f64::from(generated.commits - generated.merges));

        // A viewer can read but not configure or run.
        let patch = e.patch(&format!("/api/v1/repos/{repo}"), v, json!({"is_active": false})).await;
        assert_eq!(patch.status, StatusCode::FORBIDDEN);
        let body = json!({"source_id": repo, "dataset": "commits"});
        assert_eq!(e.post("/api/v1/sync-runs", v, body.clone()).await.status, StatusCode::FORBIDDEN);

        // Bad input: 4xx naming the problem, nothing changed.
        let ed = Some(editor.access.as_str());
        let bad = e
            .patch(&format!("/api/v1/repos/{repo}"), ed, json!({"excluded_paths": ["a/[b"]}))
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        assert_eq!(bad.body["field"], "excluded_paths");
        let bad = e.post("/api/v1/sync-runs", ed, json!({"source_id": repo, "dataset": "nope"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let bad = e.get("/api/v1/sync-runs?status=done", v).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.get("/api/v1/sync-runs", v).await.body["data"].as_array().unwrap().len(), 1);

        // An editor configures and triggers; a second trigger gets the same queued run.
        let ok = e
            .patch(&format!("/api/v1/repos/{repo}"), ed, json!({"excluded_paths": ["docs/**"]}))
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        assert_eq!(ok.body["excluded_paths"], json!(["docs/**"]));
        let first = e.post("/api/v1/sync-runs", ed, body.clone()).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
        assert_eq!(first.body["created"], true);
        assert_eq!(first.body["run"]["status"], "queued");
        let second = e.post("/api/v1/sync-runs", ed, body.clone()).await;
        assert_eq!(second.status, StatusCode::ACCEPTED);
        assert_eq!(second.body["created"], false);
        assert_eq!(second.body["run"]["id"], first.body["run"]["id"]);

        // Another org sees none of it.
        let o = Some(other.access.as_str());
        assert_eq!(e.get(&format!("/api/v1/repos/{repo}"), o).await.status, StatusCode::NOT_FOUND);
        assert_eq!(e.get(&format!("/api/v1/sync-runs/{run_id}"), o).await.status, StatusCode::NOT_FOUND);
        assert_eq!(e.get("/api/v1/repos", o).await.body["data"], json!([]));
        assert_eq!(e.post("/api/v1/sync-runs", o, body).await.status, StatusCode::NOT_FOUND);
        let m = e
            .get(&format!("/api/v1/metrics/commits?scope=repo&scope_id={repo}"), o)
            .await;
        assert_eq!(m.status, StatusCode::NOT_FOUND);
    }
}

backend_tests! {
    async fn the_repos_limit_counts_active_repositories(db: &TestDb) {
        let e = support::env_with(db, support::saas());
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        // A Team entitlement that allows one active repository.
        let now = domain::Clock::now(&*e.clock).timestamp();
        let mut claims = support::entitlement_claims(
            &org.to_string(),
            domain::Tier::Team,
            support::next_iat(&e),
            now + 86_400,
        );
        claims["limits"] = json!({"repos": 1});
        e.app.accept_entitlement(&support::sign_entitlement(&claims)).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.git"), dir.path().join("b.git"));
        generate_repo(&a, GenOptions { commits: 5, seed: 1 }).unwrap();
        generate_repo(&b, GenOptions { commits: 5, seed: 2 }).unwrap();
        let first = e.app.register_local_repo(org, &a).await.unwrap();
        let refused = e.app.register_local_repo(org, &b).await.unwrap_err();
        assert_eq!(refused.code, "limit_exceeded");

        let o = Some(owner.access.as_str());
        let off = e.patch(&format!("/api/v1/repos/{first}"), o, json!({"is_active": false})).await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        let second = e.app.register_local_repo(org, &b).await.unwrap();
        assert_ne!(second, first);
        let on = e.patch(&format!("/api/v1/repos/{first}"), o, json!({"is_active": true})).await;
        assert_eq!(on.status, StatusCode::PAYMENT_REQUIRED, "{:?}", on.body);
        assert_eq!(on.body["error"], "limit_exceeded");
        assert_eq!(on.body["current"], 1);
        assert_eq!(on.body["maximum"], 1);
        let still = e.get(&format!("/api/v1/repos/{first}"), o).await;
        assert_eq!(still.body["is_active"], false, "a refused change changes nothing");

        // A hosted repository over the limit is refused too, and nothing is added.
        let i = e
            .post("/api/v1/integrations", o, json!({"provider": "github", "token": "ghp_limit0000"}))
            .await;
        assert_eq!(i.status, StatusCode::CREATED, "{:?}", i.body);
        let body = json!({"integration_id": i.body["id"], "full_name": "octo-org/hello-world"});
        let over = e.post("/api/v1/repos", o, body).await;
        assert_eq!(over.status, StatusCode::PAYMENT_REQUIRED, "{:?}", over.body);
        assert_eq!(over.body["error"], "limit_exceeded");
        assert_eq!(e.get("/api/v1/repos", o).await.body["data"].as_array().unwrap().len(), 2);
    }
}

backend_tests! {
    async fn integrations_and_hosted_repositories_are_configured_per_org(db: &TestDb) {
        const TOKEN: &str = "ghp_secretFixtureToken1234";
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let editor = e.add_member(&owner, "editor@example.com", Role::Editor).await;
        let other = e.other_org_owner(db, "other@example.com").await;
        let (v, ed, o) = (
            Some(viewer.access.as_str()),
            Some(editor.access.as_str()),
            Some(other.access.as_str()),
        );

        // The token goes in once and never comes back; only its hint does.
        let body = json!({"provider": "github", "token": TOKEN});
        assert_eq!(e.post("/api/v1/integrations", v, body.clone()).await.status, StatusCode::FORBIDDEN);
        let missing = e.post("/api/v1/integrations", ed, json!({"provider": "github"})).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", missing.body);
        assert_eq!(missing.body["field"], "token");
        let created = e.post("/api/v1/integrations", ed, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert!(!created.body.to_string().contains(TOKEN));
        assert_eq!(created.body["token_hint"], "1234");
        let id = created.body["id"].as_str().unwrap().to_owned();
        let one = e.get(&format!("/api/v1/integrations/{id}"), v).await;
        assert_eq!(one.status, StatusCode::OK, "{:?}", one.body);
        assert!(!one.body.to_string().contains(TOKEN));
        assert_eq!(one.body["token_hint"], "1234");
        let list = e.get("/api/v1/integrations", v).await;
        assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
        assert!(!list.body.to_string().contains(TOKEN));

        // Repositories: a viewer cannot add one, bad names are refused naming the field.
        let repo_body = json!({"integration_id": id, "full_name": "octo-org/hello-world"});
        assert_eq!(e.post("/api/v1/repos", v, repo_body.clone()).await.status, StatusCode::FORBIDDEN);
        let bad = e.post("/api/v1/repos", ed, json!({"integration_id": id, "full_name": "nope"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        assert_eq!(bad.body["field"], "full_name");
        assert_eq!(e.get("/api/v1/repos", v).await.body["data"], json!([]));
        let added = e.post("/api/v1/repos", ed, repo_body.clone()).await;
        assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
        assert_eq!(added.body["provider"], "github");
        assert_eq!(added.body["full_name"], "octo-org/hello-world");
        let repo = added.body["id"].as_str().unwrap().to_owned();

        // "Sync now" queues one run (not run here: no network); a second trigger returns it.
        let run = json!({"source_id": repo, "dataset": "pull_requests"});
        let first = e.post("/api/v1/sync-runs", ed, run.clone()).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
        assert_eq!(first.body["created"], true);
        assert_eq!(first.body["run"]["status"], "queued");
        assert_eq!(first.body["run"]["dataset"], "pull_requests");
        let second = e.post("/api/v1/sync-runs", ed, run).await;
        assert_eq!(second.body["created"], false);
        assert_eq!(second.body["run"]["id"], first.body["run"]["id"]);
        // The repository shows that run as its last one.
        let shown = e.get(&format!("/api/v1/repos/{repo}"), v).await;
        assert_eq!(shown.body["last_run"]["id"], first.body["run"]["id"]);
        assert_eq!(shown.body["last_run"]["status"], "queued");
        let commits = json!({"source_id": repo, "dataset": "jira"});
        let bad = e.post("/api/v1/sync-runs", ed, commits).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        assert_eq!(bad.body["field"], "dataset");

        // Another org sees none of it and cannot bind a repository to it.
        assert_eq!(e.get(&format!("/api/v1/integrations/{id}"), o).await.status, StatusCode::NOT_FOUND);
        assert_eq!(e.get("/api/v1/integrations", o).await.body["data"], json!([]));
        assert_eq!(e.post("/api/v1/repos", o, repo_body).await.status, StatusCode::NOT_FOUND);
    }
    async fn status_mappings_are_read_by_viewers_and_saved_by_editors_per_org(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let editor = e.add_member(&owner, "editor@example.com", Role::Editor).await;
        let other = e.other_org_owner(db, "other@example.com").await;
        let org = owner.org_id.unwrap();
        let (v, ed, o) = (
            Some(viewer.access.as_str()),
            Some(editor.access.as_str()),
            Some(other.access.as_str()),
        );
        let body = json!({"provider": "jira", "base_url": "https://acme.atlassian.net", "token": "atlassian-token-0000",
            "settings": {"email": "ana@acme.example", "projects": ["DEV"]}});
        let created = e.post("/api/v1/integrations", ed, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let integration: domain::IntegrationId = created.body["id"].as_str().unwrap().parse().unwrap();
        // One synced item whose raw status no rule knows, and the position its sync left.
        {
            let mut c = db.store.acquire().await.unwrap();
            let item = store::analytics::work_items::WorkItem {
                provider: "jira".into(),
                external_key: "DEV-7".into(),
                integration_id: Some(integration),
                repo_id: None,
                project_key: Some("DEV".into()),
                title: "Ship it".into(),
                item_type: "task".into(),
                type_raw: Some("Task".into()),
                status: "todo".into(),
                status_raw: Some("Ready for QA".into()),
                status_source: Some("unmapped".into()),
                resolution_raw: None,
                labels: vec![],
                assignee_identity_id: None,
                reporter_identity_id: None,
                story_points: None,
                parent_key: None,
                url: None,
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
                deleted_at: None,
            };
            store::analytics::work_items::upsert(&mut c.conn(), org, &item).await.unwrap();
            let key = store::analytics::cursors::CursorKey { source_id: integration.as_uuid(), dataset: "work_items", key: "" };
            store::analytics::cursors::set(&mut c.conn(), org, key, Some("2024-03-07T09:00:00Z"), None, chrono::Utc::now())
                .await
                .unwrap();
        }
        let cursor = || async {
            let mut c = db.store.acquire().await.unwrap();
            let key = store::analytics::cursors::CursorKey { source_id: integration.as_uuid(), dataset: "work_items", key: "" };
            store::analytics::cursors::get(&mut c.conn(), org, key).await.unwrap()
        };

        // A viewer reads the raw value, flagged unmapped, but cannot map it.
        let seen = e.get("/api/v1/status-mappings", v).await;
        assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
        assert_eq!(seen.body["mappings"], json!([]));
        assert_eq!(
            seen.body["observed"],
            json!([{"provider": "jira", "match": "status", "raw": "Ready for QA", "status": "todo",
                "source": "unmapped", "unmapped": true, "items": 1}])
        );
        let map = json!({"provider": "jira", "match": "status", "raw": "  Ready   for QA ", "status": "in_review"});
        assert_eq!(e.put("/api/v1/status-mappings", v, map.clone()).await.status, StatusCode::FORBIDDEN);

        // Bad input: 422 naming the field, nothing saved, nothing queued.
        for (bad, field) in [
            (json!({"provider": "jira", "match": "status", "raw": "x", "status": "shipped"}), "status"),
            (json!({"provider": "asana", "match": "status", "raw": "x", "status": "done"}), "provider"),
            (json!({"provider": "jira", "match": "label", "raw": "x", "status": "done"}), "match"),
            (json!({"provider": "github", "match": "status", "raw": "open", "status": "done"}), "match"),
            (json!({"provider": "jira", "match": "status", "raw": "   ", "status": "done"}), "raw"),
        ] {
            let r = e.put("/api/v1/status-mappings", ed, bad).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
            assert_eq!(r.body["field"], field);
        }
        let r = e.put("/api/v1/status-mappings", ed, json!({"provider": "jira", "match": "status", "raw": "x", "status": "done", "extra": 1})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.to_string().contains("extra"), "{:?}", r.body);
        assert_eq!(e.get("/api/v1/status-mappings", v).await.body["mappings"], json!([]));
        assert!(cursor().await.is_some());
        assert_eq!(e.get("/api/v1/sync-runs", v).await.body["data"], json!([]));

        // Saved: stored normalised, the integration's position forgotten, a re-read queued.
        let saved = e.put("/api/v1/status-mappings", ed, map.clone()).await;
        assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
        assert_eq!(saved.body["mapping"], json!({"provider": "jira", "match": "status", "raw": "ready for qa", "status": "in_review"}));
        let runs = saved.body["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0]["status"].as_str(), runs[0]["dataset"].as_str()), (Some("queued"), Some("work_items")));
        assert_eq!(runs[0]["source_id"], integration.to_string());
        assert!(cursor().await.is_none());
        let again = e.put("/api/v1/status-mappings", ed, map).await;
        assert_eq!(again.body["runs"][0]["id"], runs[0]["id"], "the queued re-read is not doubled");
        let seen = e.get("/api/v1/status-mappings", v).await;
        assert_eq!(seen.body["mappings"], json!([{"provider": "jira", "match": "status", "raw": "ready for qa", "status": "in_review"}]));

        // Another org sees none of it and cannot remove it.
        let theirs = e.get("/api/v1/status-mappings", o).await;
        assert_eq!((theirs.body["mappings"].clone(), theirs.body["observed"].clone()), (json!([]), json!([])));
        let key = "/api/v1/status-mappings?provider=jira&match=status&raw=ready%20for%20qa";
        assert_eq!(e.delete(key, o).await.status, StatusCode::NOT_FOUND);
        assert_eq!(e.delete(key, v).await.status, StatusCode::FORBIDDEN);
        let gone = e.delete(key, ed).await;
        assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
        assert_eq!(gone.body["mapping"], json!(null));
        assert_eq!(e.delete(key, ed).await.status, StatusCode::NOT_FOUND);
        assert_eq!(e.get("/api/v1/status-mappings", v).await.body["mappings"], json!([]));
    }
}
