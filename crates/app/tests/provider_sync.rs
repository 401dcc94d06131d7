//! Provider syncs as recorded runs, on SQLite and PostgreSQL (analytics spec §3, §5–§7.3),
//! driven by the fake provider server: GitHub and GitLab pull requests and Linear work items land in the
//! database with identities and facts; an unchanged source costs one list request (a `304` for
//! GitHub) and writes nothing; a deferred or failed run followed by the next run stores every
//! item exactly once (compared with an uninterrupted sync of a twin org); another org reads
//! none of it; tokens are sealed at rest.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use app::App;
use app::sync::providers::{SYNC_PROVIDER_KIND, SyncProviderHandler};
use app::sync::{IntegrationSettings, NewIntegration};
use app::worker::{JobContext, JobHandler};
use auth::secrets::SecretKeys;
use base64::Engine as _;
use chrono::{Duration, Utc};
use domain::IntegrationId;
use store::analytics::cursors::{self, CursorKey};
use store::analytics::metrics::Scope;
use store::analytics::metrics::items::{ItemPopulation, items as item_facts};
use store::analytics::{identities, integrations, pull_requests, sync_runs, work_items};
use store::backend_tests;
use store::testing::TestDb;
use support::env::*;
use support::fake::{Canned, Fake};
use tokio_util::sync::CancellationToken;

/// A full, uninterrupted PR sync of a twin org: what every other run must converge on.
async fn reference(db: &TestDb, app: &App) -> pull_requests::RowCounts {
    let fake = Fake::start("github").await;
    let twin = org(db, "twin").await;
    let (_, repo) = github_repo(app, twin, &fake).await;
    let s = app
        .sync_pull_requests(twin, repo, &opts(), &())
        .await
        .unwrap();
    assert_eq!(s.status, "succeeded");
    pr_rows(db, twin, repo).await
}

backend_tests! {
    async fn github_pull_requests_are_stored_and_an_unchanged_repository_costs_one_304(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;

        let s = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!((s.status.as_str(), s.written, s.dataset), ("succeeded", 3, "pull_requests"));
        assert!(fake.hits().iter().all(|h| h.authorization.as_deref() == Some("Bearer ghp_fixture0000token")));
        let rows = pr_rows(db, org, repo).await;
        assert_eq!(rows.pull_requests, 3);
        assert!(rows.commits > 0 && rows.reviews > 0, "{rows:?}");
        let numbers: Vec<i64> = pr_versions(db, org, repo).await.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1345, 1346, 1347]);

        // Authors and reviewers became identities by their GitHub logins.
        let mut c = db.store.acquire().await.unwrap();
        assert!(identities::by_alias(&mut c.conn(), org, "github", "octocat").await.unwrap().is_some());
        let run = sync_runs::get(&mut c.conn(), org, s.run_id).await.unwrap().unwrap();
        assert_eq!((run.status.as_str(), run.dataset.as_str()), ("succeeded", "pull_requests"));
        assert_eq!(run.counts.as_ref().unwrap()["written"], 3);
        drop(c);
        // `pr_metrics` was recomputed for the PRs written: the merged one has its phases.
        let facts = merged(db, org, repo).await;
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].merged_at, at("2024-03-03T09:00:00Z"));
        assert!(facts[0].cycle_s.is_some() && facts[0].reviewed_before_merge, "{facts:?}");
        let stored = cursor(db, org, repo.as_uuid(), "pull_requests").await;
        assert_eq!(stored.cursor.as_deref(), Some("2024-03-03T09:05:00.000000Z"));
        assert_eq!(stored.checkpoint, None);

        // Nothing changed: one conditional list request answered 304, nothing written.
        let before = pr_versions(db, org, repo).await;
        fake.clear_log();
        let again = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!((again.status.as_str(), again.written, again.requests), ("succeeded", 0, 1));
        let hits = fake.hits();
        assert_eq!((hits.len(), hits[0].status), (1, 304));
        assert!(hits[0].if_none_match.is_some());
        assert_eq!(again.counts.not_modified, 1);
        assert_eq!(pr_rows(db, org, repo).await, rows);
        assert_eq!(pr_versions(db, org, repo).await, before);
        assert_eq!(
            cursor(db, org, repo.as_uuid(), "pull_requests").await.cursor,
            stored.cursor,
            "the cursor only moves to observed values"
        );
    }

    async fn linear_work_items_are_stored_with_transitions_and_a_resync_reads_one_page(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("linear").await;
        let org = org(db, "acme").await;
        let i = app
            .create_integration(org, &new_integration("linear", format!("{}/graphql", fake.base), LINEAR_TOKEN))
            .await
            .unwrap();
        assert_eq!(i.auth_kind, "plain");

        let s = app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        assert_eq!((s.status.as_str(), s.written, s.dataset), ("succeeded", 3, "work_items"));
        assert!(fake.hits().iter().all(|h| h.authorization.as_deref() == Some(LINEAR_TOKEN)));
        let mut c = db.store.acquire().await.unwrap();
        let (items, transitions) =
            work_items::row_counts(&mut c.conn(), org, "linear", i.id).await.unwrap();
        assert_eq!(items, 3);
        assert!(transitions > 0);
        let keys: Vec<String> = work_items::updated_at_by_key(&mut c.conn(), org, "linear", i.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(keys.iter().all(|k| k.starts_with("ENG-")), "{keys:?}");
        // `work_item_facts` was recomputed: the done item has its completion.
        let done = item_facts(&mut c.conn(), org, &Scope::default(), ItemPopulation::Completed, at("2024-01-01T00:00:00Z"), t0())
            .await
            .unwrap();
        assert_eq!(done.len(), 1, "{done:?}");
        assert!(done[0].completed_at.is_some() && done[0].cycle_s.is_some(), "{done:?}");
        drop(c);
        let stored = cursor(db, org, i.id.as_uuid(), "work_items").await;
        assert_eq!(stored.cursor.as_deref(), Some("2024-03-07T09:00:00.000000Z"));

        // Nothing changed: one query from the cursor, no history calls, nothing written.
        fake.clear_log();
        let again = app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        assert_eq!((again.status.as_str(), again.written, again.requests), ("succeeded", 0, 1));
        assert!(fake.hits()[0].body.contains("2024-03-07T08:55:00.000Z"));
        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(
            work_items::row_counts(&mut c.conn(), org, "linear", i.id).await.unwrap(),
            (items, transitions)
        );
    }

    async fn a_deferred_sync_resumes_from_its_checkpoint_and_stores_every_pr_once(db: &TestDb) {
        let app = app(db);
        let want = reference(db, &app).await;

        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;
        let reset = (t0() + Duration::hours(2)).timestamp();
        fake.inject("GET", "/repos/octo-org/hello-world/pulls/1345", 1, Canned::github_exhausted(reset));
        let first = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!(first.status, "deferred");
        assert_eq!(first.resume_at, Some(t0() + Duration::seconds(7201)));
        let mut c = db.store.acquire().await.unwrap();
        let run = sync_runs::get(&mut c.conn(), org, first.run_id).await.unwrap().unwrap();
        assert_eq!((run.status.as_str(), run.resume_at), ("deferred", first.resume_at));
        drop(c);
        let stored = cursor(db, org, repo.as_uuid(), "pull_requests").await;
        assert_eq!(stored.cursor, None, "the cursor waits for a complete pass");
        let next = stored.checkpoint.as_ref().unwrap()["next"].as_str().unwrap().to_owned();
        assert!(next.contains("/repositories/1296269/pulls"), "{next}");
        assert!(pr_rows(db, org, repo).await.pull_requests < want.pull_requests);

        // The deferral queued its resumption for resume_at; the worker's job runs the sync,
        // which continues at the checkpoint and fetches only what is missing.
        let queued = db.store.jobs().list(store::jobs::JobStatus::Queued, 10).await.unwrap();
        assert_eq!(queued.len(), 1);
        let job = queued[0].clone();
        assert_eq!((job.kind.as_str(), Some(job.run_at)), (SYNC_PROVIDER_KIND, first.resume_at));
        let handler = SyncProviderHandler;
        let ctx = JobContext { app: app.clone(), job, shutdown: CancellationToken::new() };
        handler.run(ctx).await.unwrap();
        let mut c = db.store.acquire().await.unwrap();
        let resumed = sync_runs::list(&mut c.conn(), org, Some("succeeded"), None, 10).await.unwrap();
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0].trigger, "schedule");
        let second_written = resumed[0].counts.as_ref().unwrap()["written"].as_u64().unwrap();
        drop(c);
        assert_eq!(first.written + second_written, 3);
        for n in [1345, 1346, 1347] {
            let detail = format!("/repos/octo-org/hello-world/pulls/{n}");
            assert_eq!(fake.count(|h| h.path == detail && h.status == 200), 1, "PR {n} fetched once");
        }
        assert_eq!(pr_rows(db, org, repo).await, want);
        let stored = cursor(db, org, repo.as_uuid(), "pull_requests").await;
        assert_eq!(stored.cursor.as_deref(), Some("2024-03-03T09:05:00.000000Z"));
        assert_eq!(stored.checkpoint, None);
    }

    async fn a_failed_sync_keeps_the_cursor_and_the_next_run_stores_every_pr_once(db: &TestDb) {
        let app = app(db);
        let want = reference(db, &app).await;

        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;
        // Six 503s: every attempt of one request (§3.3), then the run gives up.
        fake.inject("GET", "/repos/octo-org/hello-world/pulls/1346", 6, Canned::server_error(503));
        let err = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap_err();
        assert_eq!(err.code, "provider_unavailable");
        assert!(!err.message.contains(GH_TOKEN));
        let mut c = db.store.acquire().await.unwrap();
        let runs = sync_runs::list(&mut c.conn(), org, Some("failed"), None, 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].error_code.as_deref(), Some("provider_unavailable"));
        let key = CursorKey { source_id: repo.as_uuid(), dataset: "pull_requests", key: "" };
        assert_eq!(cursors::get(&mut c.conn(), org, key).await.unwrap(), None, "no position stored");
        drop(c);

        // The storm is over (the six answers are used up): the next run completes and
        // converges on the uninterrupted result.
        let done = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!(done.status, "succeeded");
        assert_eq!(pr_rows(db, org, repo).await, want);
    }

    async fn another_org_reads_none_of_the_synced_rows(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("github").await;
        let acme = org(db, "acme").await;
        let other = org(db, "other").await;
        let (integration, repo) = github_repo(&app, acme, &fake).await;
        app.sync_pull_requests(acme, repo, &opts(), &()).await.unwrap();
        assert_eq!(pr_rows(db, acme, repo).await.pull_requests, 3);

        assert_eq!(pr_rows(db, other, repo).await, pull_requests::RowCounts::default());
        assert!(pr_versions(db, other, repo).await.is_empty());
        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(pull_requests::timeline(&mut c.conn(), other, repo, 1347).await.unwrap(), None);
        drop(c);
        assert_eq!(merged(db, acme, repo).await.len(), 1);
        assert!(merged(db, other, repo).await.is_empty(), "no PR metrics across orgs");
        let err = app.sync_pull_requests(other, repo, &opts(), &()).await.unwrap_err();
        assert_eq!(err.code, "not_found");
        assert_eq!(app.integration(other, integration).await.unwrap_err().code, "not_found");
        assert!(app.integrations(other).await.unwrap().is_empty());
    }

    async fn tokens_are_sealed_at_rest_and_open_only_for_their_row_and_org(db: &TestDb) {
        let app = app(db);
        let acme = org(db, "acme").await;
        let other = org(db, "other").await;
        let input = new_integration("github", "https://api.github.com".into(), GH_TOKEN);
        assert!(!format!("{input:?}").contains(GH_TOKEN), "Debug is redacted");
        let view = app.create_integration(acme, &input).await.unwrap();
        assert_eq!(view.token_hint.as_deref(), Some("oken"));
        assert!(!serde_json::to_string(&view).unwrap().contains(GH_TOKEN));

        let mut c = db.store.acquire().await.unwrap();
        let row = integrations::get(&mut c.conn(), acme, view.id).await.unwrap().unwrap();
        let sealed = row.secret_ct.clone().unwrap();
        assert!(!sealed.contains(GH_TOKEN) && !sealed.contains("fixture"));
        assert_eq!(row.secret_key_id.as_deref(), Some("env1"));
        assert_eq!(integrations::get(&mut c.conn(), other, view.id).await.unwrap(), None);

        let key = base64::engine::general_purpose::STANDARD.decode(KEY_B64).unwrap();
        let keys = SecretKeys::new("env1", &[("env1".into(), key)]).unwrap();
        let (id, acme_s, other_s) = (view.id.to_string(), acme.to_string(), other.to_string());
        assert_eq!(keys.decrypt(&sealed, &place(&id, &acme_s)).unwrap(), GH_TOKEN.as_bytes());
        assert!(keys.decrypt(&sealed, &place(&id, &other_s)).is_err(), "another org");
        let elsewhere = IntegrationId::new().to_string();
        assert!(keys.decrypt(&sealed, &place(&elsewhere, &acme_s)).is_err(), "another row");

        // A ciphertext copied into another org's row does not open there either: its run fails
        // before any request with a readable error.
        let stolen = IntegrationId::new();
        integrations::insert(
            &mut c.conn(),
            other,
            &integrations::NewIntegration {
                id: stolen,
                provider: "github",
                base_url: Some("http://127.0.0.1:9"),
                auth_kind: "bearer",
                secret_ct: &sealed,
                secret_key_id: Some("env1"),
                token_hint: "oken",
                settings: &serde_json::json!({}),
            },
            Utc::now(),
        )
        .await
        .unwrap();
        drop(c);
        let repo = app.add_hosted_repo(other, stolen, "octo-org/hello-world").await.unwrap();
        let err = app.sync_pull_requests(other, repo, &opts(), &()).await.unwrap_err();
        assert_eq!(err.code, "secret_unavailable");
    }
}

backend_tests! {
    async fn gitlab_merge_requests_are_stored_without_untimed_approvals(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("gitlab").await;
        let org = org(db, "acme").await;
        let (i, repo) = gitlab_repo(&app, org, &fake).await;
        assert_eq!(i.auth_kind, "private_token");
        let s = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!(s.status, "succeeded", "a collapsed diff makes a size partial, not the run");
        assert!(fake.hits().iter().all(|h| h.authorization.as_deref() == Some("glpat-fixture0000")));
        let rows = pr_rows(db, org, repo).await;
        assert_eq!(rows.pull_requests, 3);
        assert!(rows.commits > 0 && rows.reviews > 0, "{rows:?}");
        let mut c = db.store.acquire().await.unwrap();
        // Reviewers became identities by their GitLab usernames; carol's approval on !7 has no
        // note and so no time: it is not stored (reviews.submitted_at is required).
        assert!(identities::by_alias(&mut c.conn(), org, "gitlab", "ben").await.unwrap().is_some());
    }
}

backend_tests! {
    async fn jira_items_use_the_orgs_status_mappings_and_basic_auth(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("jira").await;
        let org = org(db, "acme").await;
        {
            let mut c = db.store.acquire().await.unwrap();
            let m = store::analytics::status_mappings::Mapping {
                provider: "jira".into(),
                match_kind: "status".into(),
                raw_value: "in progress".into(),
                status: "blocked".into(),
            };
            store::analytics::status_mappings::set(&mut c.conn(), org, &m).await.unwrap();
        }
        let input = NewIntegration {
            settings: IntegrationSettings {
                email: Some("ana@acme.example".into()),
                projects: vec!["DEV".into()],
                story_points_field: None,
            },
            ..new_integration("jira", fake.base.clone(), "atlassian-fixture0000")
        };
        let i = app.create_integration(org, &input).await.unwrap();
        assert_eq!(i.auth_kind, "basic");
        let tested = app.test_integration(org, i.id, &opts()).await.unwrap();
        assert_eq!(app.integration(org, i.id).await.unwrap().last_tested_at, Some(tested.tested_at));

        let s = app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        assert_eq!((s.status.as_str(), s.written), ("succeeded", 3));
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ana@acme.example:atlassian-fixture0000")
        );
        assert!(fake.hits().iter().all(|h| h.authorization.as_deref() == Some(basic.as_str())));
        assert!(fake.count(|h| h.path == "/rest/api/3/search/jql" && h.query.contains("DEV")) >= 1);

        let mut c = db.store.acquire().await.unwrap();
        let created = item_facts(&mut c.conn(), org, &Scope::default(), ItemPopulation::Created, at("2020-01-01T00:00:00Z"), t0())
            .await
            .unwrap();
        let mut statuses: Vec<&str> = created.iter().map(|r| r.status.as_str()).collect();
        statuses.sort_unstable();
        // DEV-2 is "In Progress": the org's mapping (blocked) wins over the built-in name.
        assert_eq!(statuses, ["blocked", "canceled", "done"]);
    }
}

backend_tests! {
    async fn a_source_deferred_ten_times_in_a_day_fails_rate_limited(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;
        let reset = (t0() + Duration::hours(2)).timestamp();
        fake.inject("GET", "/repos/octo-org/hello-world/pulls/1345", 11, Canned::github_exhausted(reset));
        for _ in 0..10 {
            let s = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
            assert_eq!(s.status, "deferred");
        }
        let queued = db.store.jobs().list(store::jobs::JobStatus::Queued, 20).await.unwrap();
        assert_eq!(queued.len(), 1, "one resumption queued per source and dataset");
        let err = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap_err();
        assert_eq!(err.code, "rate_limited");
        let stored = cursor(db, org, repo.as_uuid(), "pull_requests").await;
        assert!(stored.checkpoint.is_some(), "the checkpoint stays for the next run");
    }
}

backend_tests! {
    async fn unreadable_gitlab_notes_end_the_run_partial_and_the_next_run_completes(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("gitlab").await;
        let org = org(db, "acme").await;
        let (_, repo) = gitlab_repo(&app, org, &fake).await;
        fake.inject("GET", "/api/v4/projects/42/merge_requests/7/notes", 6, Canned::server_error(500));
        let first = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!((first.status.as_str(), first.written), ("partial", 2));
        let mut c = db.store.acquire().await.unwrap();
        let run = sync_runs::get(&mut c.conn(), org, first.run_id).await.unwrap().unwrap();
        assert_eq!(run.status, "partial");
        drop(c);
        assert_eq!(cursor(db, org, repo.as_uuid(), "pull_requests").await.cursor, None, "the MR cursor is held");
        let numbers: Vec<i64> = pr_versions(db, org, repo).await.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [8, 9]);

        let second = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!((second.status.as_str(), second.written), ("succeeded", 1));
        let numbers: Vec<i64> = pr_versions(db, org, repo).await.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [7, 8, 9]);
        assert!(cursor(db, org, repo.as_uuid(), "pull_requests").await.cursor.is_some());
    }
}

backend_tests! {
    async fn a_queued_run_is_taken_over_by_its_sync_not_duplicated(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;
        // "Sync now" queues the run; the sync.provider job then runs the sync.
        let new = sync_runs::NewRun {
            source_id: repo.as_uuid(),
            dataset: "pull_requests",
            trigger: "manual",
            status: "queued",
        };
        let mut c = db.store.acquire().await.unwrap();
        let (queued, created) = sync_runs::create_or_existing(&mut c.conn(), org, new, Utc::now()).await.unwrap();
        drop(c);
        assert!(created);
        let s = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert!(!s.already_running);
        assert_eq!((s.run_id, s.status.as_str()), (queued.id, "succeeded"));
        let mut c = db.store.acquire().await.unwrap();
        let runs = sync_runs::list(&mut c.conn(), org, None, None, 10).await.unwrap();
        assert_eq!(runs.len(), 1, "one run, started from the queued one");
        assert!(runs[0].started_at.is_some());
    }
}

/// What an editor of `org` may do here, as the API authorizes it: read analytics, configure sync.
fn editor_of(
    org: domain::OrgId,
) -> (
    app::authz::Authorized<domain::permission::marker::AnalyticsRead>,
    app::authz::Authorized<domain::permission::marker::SyncConfigure>,
) {
    let editor = app::authz::Principal {
        user_id: domain::UserId::new(),
        membership: Some((org, domain::Role::Editor)),
        platform_admin: false,
        credential: app::authz::Credential::Session,
        credential_id: uuid::Uuid::now_v7(),
    };
    (
        app::authz::authorize(Some(&editor)).unwrap(),
        app::authz::authorize(Some(&editor)).unwrap(),
    )
}

backend_tests! {
    async fn a_saved_status_mapping_re_reads_and_re_resolves_stored_items(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("jira").await;
        let org = org(db, "acme").await;
        let input = NewIntegration {
            settings: IntegrationSettings {
                email: Some("ana@acme.example".into()),
                projects: vec!["DEV".into()],
                story_points_field: None,
            },
            ..new_integration("jira", fake.base.clone(), "atlassian-fixture0000")
        };
        let i = app.create_integration(org, &input).await.unwrap();
        let first = app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        assert_eq!(first.written, 3);
        let (read, configure) = editor_of(org);
        let in_progress = |m: &app::sync::StatusMappings| {
            m.observed
                .iter()
                .find(|o| o.raw == "In Progress")
                .map(|o| (o.status.clone().unwrap(), o.source.clone().unwrap()))
        };
        // DEV-2 is "In Progress": the built-in name table says in_progress.
        let before = app.status_mappings(&read).await.unwrap();
        assert_eq!(in_progress(&before), Some(("in_progress".into(), "builtin_name".into())));
        let dev2 = |rows: &[store::analytics::metrics::items::ItemRow]| {
            rows.iter().find(|r| r.status != "done" && r.status != "canceled").cloned().unwrap()
        };
        let mut c = db.store.acquire().await.unwrap();
        let created = item_facts(&mut c.conn(), org, &Scope::default(), ItemPopulation::Created, at("2020-01-01T00:00:00Z"), t0())
            .await
            .unwrap();
        drop(c);
        let was = dev2(&created);
        assert!(was.started_at.is_some(), "To Do → In Progress started it");

        // The org maps "In Progress" to blocked: a re-read is queued; the next sync takes it over,
        // reads every item although none changed, and resolves the item and its transitions.
        let mapping = app::sync::StatusMappingView {
            provider: "jira".into(),
            match_kind: "status".into(),
            raw: "In Progress".into(),
            status: "blocked".into(),
        };
        let out = app.set_status_mapping(&configure, &mapping).await.unwrap();
        assert_eq!(out.runs.len(), 1);
        let s = app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        assert_eq!((s.run_id, s.written), (out.runs[0].id, 3));
        let after = app.status_mappings(&read).await.unwrap();
        assert_eq!(in_progress(&after), Some(("blocked".into(), "org_status".into())));
        let mut c = db.store.acquire().await.unwrap();
        let created = item_facts(&mut c.conn(), org, &Scope::default(), ItemPopulation::Created, at("2020-01-01T00:00:00Z"), t0())
            .await
            .unwrap();
        drop(c);
        let now = dev2(&created);
        assert_eq!(now.id, was.id, "the same row, re-resolved");
        assert_eq!(now.status, "blocked");
        let mut c = db.store.acquire().await.unwrap();
        let transitions = work_items::transitions_of(&mut c.conn(), org, now.id).await.unwrap();
        drop(c);
        let to: Vec<&str> = transitions.iter().map(|t| t.2.as_str()).collect();
        assert!(to.contains(&"blocked") && !to.contains(&"in_progress"), "{transitions:?}");
        assert_eq!(now.started_at, None, "blocked is not a start status");

        // With the position back, an unchanged site costs no re-read.
        let quiet = app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        assert_eq!(quiet.written, 0);

        // Removing the mapping brings the built-in name back the same way.
        let out = app.delete_status_mapping(&configure, "jira", "status", "in progress").await.unwrap();
        assert_eq!(out.runs.len(), 1);
        app.sync_work_items(org, i.id, &opts(), &()).await.unwrap();
        let back = app.status_mappings(&read).await.unwrap();
        assert_eq!(in_progress(&back), Some(("in_progress".into(), "builtin_name".into())));
    }
}

backend_tests! {
    async fn github_issues_resolve_by_labels_and_a_label_mapping_re_resolves_them(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;
        let s = app.sync_github_issues(org, repo, &opts(), &()).await.unwrap();
        // #1340 open, #1341 closed completed, #1342 closed not_planned; #1347 is a PR.
        assert_eq!((s.status.as_str(), s.written), ("succeeded", 3));
        let (read, configure) = editor_of(org);
        let open = |m: &app::sync::StatusMappings| {
            m.observed
                .iter()
                .find(|o| o.provider == "github" && o.match_kind == "status" && o.raw == "open")
                .map(|o| (o.status.clone().unwrap(), o.source.clone().unwrap()))
        };
        let view = app.status_mappings(&read).await.unwrap();
        assert_eq!(open(&view), Some(("in_progress".into(), "builtin_label".into())));
        let labels: Vec<&str> = view.observed.iter().filter(|o| o.match_kind == "label").map(|o| o.raw.as_str()).collect();
        assert_eq!(labels, ["bug", "in progress"], "the open issue's labels");

        // blocked > in_progress: mapping its "bug" label makes the open issue blocked.
        let mapping = app::sync::StatusMappingView {
            provider: "github".into(),
            match_kind: "label".into(),
            raw: "Bug".into(),
            status: "blocked".into(),
        };
        let out = app.set_status_mapping(&configure, &mapping).await.unwrap();
        assert_eq!(out.runs.len(), 1);
        assert_eq!((out.runs[0].source_id, out.runs[0].dataset.as_str()), (repo.as_uuid(), "work_items"));
        let again = app.sync_github_issues(org, repo, &opts(), &()).await.unwrap();
        assert_eq!((again.run_id, again.written), (out.runs[0].id, 3));
        let view = app.status_mappings(&read).await.unwrap();
        assert_eq!(open(&view), Some(("blocked".into(), "org_label".into())));
    }
}

backend_tests! {
    async fn the_schedule_queues_each_due_source_once_per_interval(db: &TestDb) {
        let app = app(db);
        let fake = Fake::start("github").await;
        let org = org(db, "acme").await;
        let (_, repo) = github_repo(&app, org, &fake).await;
        let now = Utc::now();
        // A new hosted repository is due at once: its pull requests (its issues were never
        // synced, so they are not scheduled).
        let queued = app.schedule_due_syncs(now).await.unwrap();
        let what: Vec<_> = queued.iter().map(|r| (r.source_id, r.dataset.as_str(), r.trigger.as_str(), r.status.as_str())).collect();
        assert_eq!(what, [(repo.as_uuid(), "pull_requests", "schedule", "queued")]);
        let jobs = db.store.jobs().list(store::jobs::JobStatus::Queued, 10).await.unwrap();
        assert_eq!(jobs.iter().filter(|j| j.kind == SYNC_PROVIDER_KIND).count(), 1, "with the job that runs it");
        assert!(app.schedule_due_syncs(now).await.unwrap().is_empty(), "a queued run is not queued twice");

        // The run happens; within the integration's 60 minutes nothing is due, after them it is.
        let s = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!((s.run_id, s.status.as_str()), (queued[0].id, "succeeded"));
        assert!(app.schedule_due_syncs(now + Duration::minutes(59)).await.unwrap().is_empty());
        let later = app.schedule_due_syncs(now + Duration::minutes(61)).await.unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].source_id, repo.as_uuid());

        // An inactive repository is not scheduled.
        let s = app.sync_pull_requests(org, repo, &opts(), &()).await.unwrap();
        assert_eq!(s.run_id, later[0].id);
        let mut c = db.store.acquire().await.unwrap();
        store::analytics::repos::set_active(&mut c.conn(), org, repo, false, Utc::now()).await.unwrap();
        drop(c);
        assert!(app.schedule_due_syncs(now + Duration::minutes(300)).await.unwrap().is_empty());
    }
}
