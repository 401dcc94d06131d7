//! The repository test suite, run against SQLite and PostgreSQL (`name::sqlite`, `name::postgres`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use store::jobs::{Claim, JobStatus, NewJob};
use store::testing::TestDb;
use store::{Backend, MigrationState, Schema, backend_tests, catalog, clock_mark};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
        .single()
        .unwrap()
}

fn claim<'a>(worker: &'a str, limit: u32, lease_s: u64) -> Claim<'a> {
    Claim {
        queue: "default",
        worker_id: worker,
        limit,
        lease: Duration::from_secs(lease_s),
    }
}

backend_tests! {
    async fn synced_rows_cannot_point_into_another_org(db: &TestDb) {
        use store::identity::orgs;
        use store::{Id, Ts, on_conn, sqlx};
        let mut c = db.store.acquire().await.unwrap();
        let (a, b) = (domain::ids::OrgId::new(), domain::ids::OrgId::new());
        orgs::insert(&mut c.conn(), a, "A", "a", Utc::now()).await.unwrap();
        orgs::insert(&mut c.conn(), b, "B", "b", Utc::now()).await.unwrap();
        let repo = uuid::Uuid::now_v7();
        on_conn!(&mut c.conn(), c => sqlx::query(
            "INSERT INTO repos (org_id, id, provider, full_name, is_active, excluded_paths, created_at, updated_at) \
             VALUES ($1, $2, 'local', 'acme/app', $3, '[]', $4, $4)")
            .bind(Id::from(a)).bind(Id(repo)).bind(true).bind(Ts::new(Utc::now()))
            .execute(&mut *c).await.map(|_| ())).unwrap();
        let commit = |org| async move {
            let mut c = db.store.acquire().await.unwrap();
            on_conn!(&mut c.conn(), c => sqlx::query(
                "INSERT INTO commits (org_id, repo_id, sha, author_name, author_email, authored_at, committer_name, \
                 committer_email, committed_at, parent_count, subject, additions, deletions, files_changed, stats_state) \
                 VALUES ($1, $2, 'abc', 'a', 'a@x', $3, 'a', 'a@x', $3, 1, 's', 0, 0, 0, 'complete')")
                .bind(Id::from(org)).bind(Id(repo)).bind(Ts::new(Utc::now()))
                .execute(&mut *c).await.map(|_| ()))
        };
        assert!(commit(b).await.is_err(), "org B cannot hold a commit of org A's repo");
        commit(a).await.unwrap();
    }

    async fn migrations_run_once_and_report_current(db: &TestDb) {
        let status = db.store.migration_status().await.unwrap();
        assert_eq!(status.state, MigrationState::Current, "{status:?}");
        assert_eq!(status.applied, status.embedded);
        assert_eq!(db.store.migrate().await.unwrap(), 0, "a second run applies nothing");
        assert!(db.store.migration_status().await.unwrap().is_current());
    }

    async fn catalogue_is_seeded(db: &TestDb) {
        let mut c = db.store.acquire().await.unwrap();
        let perms = catalog::permissions(&mut c.conn()).await.unwrap();
        assert_eq!(perms.len(), 43);
        assert_eq!(perms.iter().filter(|p| p.platform_only).count(), 6);
        let pairs = catalog::role_permissions(&mut c.conn()).await.unwrap();
        assert_eq!(pairs.len(), 37 + 32 + 12 + 8);
        let flags = catalog::feature_flags(&mut c.conn()).await.unwrap();
        assert_eq!(flags.len(), 16);
        assert!(flags.iter().all(|f| f.is_enabled));
    }

    async fn enqueue_claim_complete_records_one_attempt(db: &TestDb) {
        let q = db.store.jobs();
        let job = q.enqueue(&NewJob::new("test.echo", json!({"n": 1})), t0()).await.unwrap();
        assert!(job.created);
        let claimed = q.claim(&claim("w1", 10, 30), t0()).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].payload, json!({"n": 1}));
        assert_eq!(claimed[0].attempts, 1);
        assert_eq!(claimed[0].status, JobStatus::Running);
        assert!(q.claim(&claim("w2", 10, 30), t0()).await.unwrap().is_empty(), "leased");
        assert!(q.complete(job.id, "w1", t0()).await.unwrap());
        let stored = q.get(job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Succeeded);
        assert_eq!(stored.finished_at, Some(t0()));
        let attempts = q.attempts(job.id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome.as_deref(), Some("succeeded"));
        assert_eq!(attempts[0].worker_id, "w1");
    }

    async fn jobs_wait_for_run_at_and_honour_priority(db: &TestDb) {
        let q = db.store.jobs();
        let mut later = NewJob::new("k", json!({}));
        later.run_at = Some(t0() + chrono::Duration::seconds(60));
        let later = q.enqueue(&later, t0()).await.unwrap();
        let low = q.enqueue(&NewJob::new("k", json!({"p": "low"})), t0()).await.unwrap();
        let mut high = NewJob::new("k", json!({"p": "high"}));
        high.priority = 10;
        let high = q.enqueue(&high, t0()).await.unwrap();
        let first = q.claim(&claim("w", 1, 30), t0()).await.unwrap();
        assert_eq!(first[0].id, high.id);
        let second = q.claim(&claim("w", 5, 30), t0()).await.unwrap();
        assert_eq!(second.iter().map(|j| j.id).collect::<Vec<_>>(), vec![low.id]);
        assert!(q.complete(high.id, "w", t0()).await.unwrap());
        assert!(q.complete(low.id, "w", t0()).await.unwrap());
        let third = q.claim(&claim("w", 5, 30), t0() + chrono::Duration::seconds(61)).await.unwrap();
        assert_eq!(third.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id]);
    }

    async fn concurrent_claimers_never_share_a_job(db: &TestDb) {
        let q = db.store.jobs();
        let mut ids = BTreeSet::new();
        for n in 0..200 {
            ids.insert(q.enqueue(&NewJob::new("k", json!({"n": n})), t0()).await.unwrap().id);
        }
        let mut tasks = Vec::new();
        for w in 0..8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut mine = Vec::new();
                for _ in 0..200 {
                    let batch = store.jobs().claim(&claim(&worker, 5, 60), t0()).await.unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for job in batch {
                        assert!(store.jobs().complete(job.id, &worker, t0()).await.unwrap());
                        mine.push(job.id);
                    }
                }
                mine
            }));
        }
        let mut seen = Vec::new();
        for t in tasks {
            seen.extend(t.await.unwrap());
        }
        assert_eq!(seen.len(), 200, "every job claimed exactly once");
        assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), ids);
        for id in ids.iter().take(20) {
            assert_eq!(q.attempts(*id).await.unwrap().len(), 1);
        }
    }

    async fn expired_lease_is_reclaimed_and_the_lost_attempt_recorded(db: &TestDb) {
        let q = db.store.jobs();
        let job = q.enqueue(&NewJob::new("k", json!({})), t0()).await.unwrap();
        assert_eq!(q.claim(&claim("dead-worker", 1, 10), t0()).await.unwrap().len(), 1);
        let before_expiry = t0() + chrono::Duration::seconds(9);
        assert!(q.claim(&claim("w2", 1, 10), before_expiry).await.unwrap().is_empty());
        let after_expiry = t0() + chrono::Duration::seconds(11);
        let again = q.claim(&claim("w2", 1, 10), after_expiry).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert!(!q.complete(job.id, "dead-worker", after_expiry).await.unwrap(), "fenced");
        assert!(q.complete(job.id, "w2", after_expiry).await.unwrap());
        let outcomes: Vec<_> = q.attempts(job.id).await.unwrap().into_iter()
            .map(|a| (a.worker_id, a.outcome.unwrap_or_default())).collect();
        assert_eq!(outcomes, vec![
            ("dead-worker".to_owned(), "lease_expired".to_owned()),
            ("w2".to_owned(), "succeeded".to_owned()),
        ]);
    }

    async fn heartbeats_extend_the_lease(db: &TestDb) {
        let q = db.store.jobs();
        let job = q.enqueue(&NewJob::new("k", json!({})), t0()).await.unwrap();
        q.claim(&claim("w1", 1, 10), t0()).await.unwrap();
        let t8 = t0() + chrono::Duration::seconds(8);
        assert!(q.heartbeat(job.id, "w1", Duration::from_secs(10), t8).await.unwrap());
        assert!(!q.heartbeat(job.id, "w2", Duration::from_secs(10), t8).await.unwrap());
        let t15 = t0() + chrono::Duration::seconds(15);
        assert!(q.claim(&claim("w2", 1, 10), t15).await.unwrap().is_empty(), "still leased");
    }

    async fn failing_job_retries_then_dead_letters_with_its_last_error(db: &TestDb) {
        let q = db.store.jobs();
        let mut new = NewJob::new("k", json!({}));
        new.max_attempts = 3;
        let job = q.enqueue(&new, t0()).await.unwrap();
        let mut now = t0();
        for attempt in 1..=3 {
            let claimed = q.claim(&claim("w", 1, 30), now).await.unwrap();
            assert_eq!(claimed.len(), 1, "attempt {attempt}");
            let retry_at = now + chrono::Duration::seconds(5);
            let status = q.fail(job.id, "w", &format!("boom {attempt}"), retry_at, now).await.unwrap();
            let expected = if attempt < 3 { JobStatus::Queued } else { JobStatus::Dead };
            assert_eq!(status, Some(expected));
            assert!(q.claim(&claim("w", 1, 30), now).await.unwrap().is_empty(), "backoff");
            now = retry_at;
        }
        let stored = q.get(job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Dead);
        assert_eq!(stored.last_error.as_deref(), Some("boom 3"));
        assert_eq!(stored.attempts, 3);
        assert!(q.claim(&claim("w", 1, 30), now + chrono::Duration::days(1)).await.unwrap().is_empty());
        assert_eq!(q.list(JobStatus::Dead, 10).await.unwrap().len(), 1);
    }

    async fn worker_lost_on_last_attempt_dead_letters(db: &TestDb) {
        let q = db.store.jobs();
        let mut new = NewJob::new("k", json!({}));
        new.max_attempts = 1;
        let job = q.enqueue(&new, t0()).await.unwrap();
        q.claim(&claim("lost", 1, 10), t0()).await.unwrap();
        let later = t0() + chrono::Duration::seconds(30);
        assert!(q.claim(&claim("w", 1, 10), later).await.unwrap().is_empty());
        let stored = q.get(job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Dead);
        assert!(stored.last_error.unwrap().contains("lease expired"));
        assert_eq!(q.attempts(job.id).await.unwrap()[0].outcome.as_deref(), Some("lease_expired"));
    }

    async fn released_jobs_run_again_without_using_an_attempt(db: &TestDb) {
        let q = db.store.jobs();
        let mut new = NewJob::new("k", json!({}));
        new.max_attempts = 1;
        let job = q.enqueue(&new, t0()).await.unwrap();
        q.claim(&claim("w1", 1, 30), t0()).await.unwrap();
        assert!(q.release(job.id, "w1", t0()).await.unwrap());
        let again = q.claim(&claim("w2", 1, 30), t0()).await.unwrap();
        assert_eq!(again[0].attempts, 1);
        let outcomes: Vec<_> = q.attempts(job.id).await.unwrap().into_iter().map(|a| a.outcome).collect();
        assert_eq!(outcomes, vec![Some("released".to_owned()), None]);
    }

    async fn dedupe_key_returns_the_pending_job(db: &TestDb) {
        let q = db.store.jobs();
        let mut new = NewJob::new("sync.git", json!({}));
        new.dedupe_key = Some("repo-1".into());
        let a = q.enqueue(&new, t0()).await.unwrap();
        let b = q.enqueue(&new, t0()).await.unwrap();
        assert!(a.created && !b.created);
        assert_eq!(a.id, b.id);
        q.claim(&claim("w", 1, 30), t0()).await.unwrap();
        q.complete(a.id, "w", t0()).await.unwrap();
        let c = q.enqueue(&new, t0()).await.unwrap();
        assert!(c.created, "a finished job no longer blocks its key");
    }

    async fn enqueue_is_part_of_the_callers_transaction(db: &TestDb) {
        let mut tx = db.store.begin().await.unwrap();
        store::jobs::enqueue(&mut tx.conn(), &NewJob::new("k", json!({})), t0()).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(db.store.jobs().counts().await.unwrap().is_empty(), "rolled back with the tx");
        let mut tx = db.store.begin().await.unwrap();
        store::jobs::enqueue(&mut tx.conn(), &NewJob::new("k", json!({})), t0()).await.unwrap();
        tx.commit().await.unwrap();
        let counts = db.store.jobs().counts().await.unwrap();
        assert_eq!((counts[0].status.as_str(), counts[0].count), ("queued", 1));
    }

    async fn clock_mark_only_moves_forward(db: &TestDb) {
        let mut c = db.store.acquire().await.unwrap();
        let mark = |t, mac: &str| clock_mark::Mark {
            high_water_at: t,
            mac: Some(mac.to_owned()),
        };
        assert_eq!(clock_mark::get(&mut c.conn()).await.unwrap(), None);
        assert!(clock_mark::advance(&mut c.conn(), t0(), "m0").await.unwrap());
        let earlier = t0() - chrono::Duration::days(3);
        assert!(!clock_mark::advance(&mut c.conn(), earlier, "m1").await.unwrap());
        assert_eq!(clock_mark::get(&mut c.conn()).await.unwrap(), Some(mark(t0(), "m0")));
        let later = t0() + chrono::Duration::microseconds(1);
        assert!(clock_mark::advance(&mut c.conn(), later, "m2").await.unwrap());
        assert_eq!(clock_mark::get(&mut c.conn()).await.unwrap(), Some(mark(later, "m2")));
        clock_mark::reset(&mut c.conn(), earlier, "m3").await.unwrap();
        assert_eq!(clock_mark::get(&mut c.conn()).await.unwrap(), Some(mark(earlier, "m3")));
    }

    async fn entitlement_versions_count_up_per_scope(db: &TestDb) {
        use store::entitlements::{GLOBAL, bump, version, versions};
        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(version(&mut c.conn(), GLOBAL).await.unwrap(), 1);
        assert_eq!(version(&mut c.conn(), "org-a").await.unwrap(), 0);
        assert_eq!(bump(&mut c.conn(), "org-a").await.unwrap(), 1);
        assert_eq!(bump(&mut c.conn(), "org-a").await.unwrap(), 2);
        assert_eq!(bump(&mut c.conn(), GLOBAL).await.unwrap(), 2);
        let mut all = versions(&mut c.conn()).await.unwrap();
        all.sort();
        assert_eq!(all, vec![(GLOBAL.into(), 2), ("org-a".into(), 2)]);
    }
}

/// Table and column names after migrating must be the same on both backends: the two migration
/// folders of each schema are kept in step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_folders_are_in_step() {
    for schema in [Schema::Ops, Schema::LicenseSvc] {
        let pg: Vec<_> = store::embedded_migrations(Backend::Postgres, schema);
        let lite: Vec<_> = store::embedded_migrations(Backend::Sqlite, schema);
        assert_eq!(pg, lite, "same versions and descriptions in both folders");

        let sqlite = TestDb::empty(Backend::Sqlite).await;
        sqlite.store.migrate_schema(schema).await.unwrap();
        let postgres = TestDb::empty(Backend::Postgres).await;
        postgres.store.migrate_schema(schema).await.unwrap();
        let mut c = sqlite.store.acquire().await.unwrap();
        let lite_cols: BTreeSet<(String, String)> = match c.conn() {
            store::Conn::Sqlite(c) => store::sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
            )
            .fetch_all(&mut *c)
            .await
            .unwrap()
            .into_iter()
            .collect(),
            store::Conn::Postgres(_) => unreachable!(),
        };
        let mut c = postgres.store.acquire().await.unwrap();
        let pg_cols: BTreeSet<(String, String)> = match c.conn() {
            store::Conn::Postgres(c) => store::sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
            )
            .fetch_all(&mut *c)
            .await
            .unwrap()
            .into_iter()
            .collect(),
            store::Conn::Sqlite(_) => unreachable!(),
        };
        assert!(!pg_cols.is_empty());
        assert_eq!(lite_cols, pg_cols, "{schema:?}");
    }
}

/// A database of one service is never migrated as the other's: the unknown versions stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_services_database_is_refused_by_the_other() {
    let db = TestDb::license_svc(Backend::Sqlite).await;
    let err = db.store.migrate().await.unwrap_err().to_string();
    assert!(err.contains("other service's database"), "{err}");
    assert_eq!(
        db.store.migration_status().await.unwrap().state,
        MigrationState::Ahead
    );
}

/// Timestamps read back identically on both backends (microsecond precision).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_round_trip_identically_on_both_backends() {
    let t = Utc
        .timestamp_opt(1_767_225_600, 123_456_789)
        .single()
        .unwrap();
    let mut seen = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let mut c = db.store.acquire().await.unwrap();
        clock_mark::advance(&mut c.conn(), t, "m").await.unwrap();
        seen.push(
            clock_mark::get(&mut c.conn())
                .await
                .unwrap()
                .unwrap()
                .high_water_at,
        );
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].timestamp_subsec_nanos(), 123_456_000);
}
