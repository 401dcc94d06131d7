//! The job runner and system services against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use app::App;
use app::worker::probe::ProbeInput;
use app::worker::{Backoff, Registry, Worker, WorkerConfig};
use domain::SystemClock;
use store::jobs::JobStatus;
use store::testing::TestDb;
use store::{Backend, backend_tests};
use tokio_util::sync::CancellationToken;

fn app(db: &TestDb) -> App {
    App::new(
        db.store.clone(),
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    )
}

fn fast() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        },
        shutdown_grace: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// Polls until `check` holds, for at most 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn count(app: &App, status: &str) -> i64 {
    app.job_counts()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.count)
        .sum()
}

backend_tests! {
    async fn worker_runs_every_job_once(db: &TestDb) {
        let app = app(db);
        let ids = app.enqueue_probes(40, &ProbeInput { sleep_ms: 5, fail: None }, 3).await.unwrap();
        let stop = CancellationToken::new();
        let workers: Vec<_> = (0..2)
            .map(|_| tokio::spawn(Worker::new(app.clone(), Registry::builtin(), fast()).run(stop.clone())))
            .collect();
        eventually("all probes to succeed", || async { count(&app, "succeeded").await == 40 }).await;
        stop.cancel();
        for w in workers {
            w.await.unwrap();
        }
        for id in ids {
            let (job, attempts) = app.job(id).await.unwrap().unwrap();
            assert_eq!(job.status, JobStatus::Succeeded);
            assert_eq!(attempts.len(), 1, "ran exactly once");
        }
    }

    async fn failing_jobs_end_in_dead_letter_with_their_error(db: &TestDb) {
        let app = app(db);
        let input = ProbeInput { sleep_ms: 0, fail: Some("upstream said no".into()) };
        let ids = app.enqueue_probes(2, &input, 3).await.unwrap();
        let stop = CancellationToken::new();
        let worker = tokio::spawn(Worker::new(app.clone(), Registry::builtin(), fast()).run(stop.clone()));
        eventually("both probes to be dead", || async { count(&app, "dead").await == 2 }).await;
        stop.cancel();
        worker.await.unwrap();
        for id in ids {
            let (job, attempts) = app.job(id).await.unwrap().unwrap();
            assert_eq!(job.last_error.as_deref(), Some("upstream said no"));
            assert_eq!(attempts.len(), 3);
            assert!(attempts.iter().all(|a| a.outcome.as_deref() == Some("failed")));
        }
    }

    async fn shutdown_lets_running_jobs_finish(db: &TestDb) {
        let app = app(db);
        let ids = app.enqueue_probes(1, &ProbeInput { sleep_ms: 600, fail: None }, 1).await.unwrap();
        let stop = CancellationToken::new();
        let worker = tokio::spawn(Worker::new(app.clone(), Registry::builtin(), fast()).run(stop.clone()));
        eventually("the probe to start", || async { count(&app, "running").await == 1 }).await;
        stop.cancel();
        worker.await.unwrap();
        let (job, _) = app.job(ids[0]).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Succeeded, "finished within the grace period");
    }

    async fn shutdown_releases_jobs_that_outlive_the_grace_period(db: &TestDb) {
        let app = app(db);
        let ids = app.enqueue_probes(1, &ProbeInput { sleep_ms: 30_000, fail: None }, 1).await.unwrap();
        let stop = CancellationToken::new();
        let config = WorkerConfig { shutdown_grace: Duration::from_millis(200), ..fast() };
        let worker = tokio::spawn(Worker::new(app.clone(), Registry::builtin(), config).run(stop.clone()));
        eventually("the probe to start", || async { count(&app, "running").await == 1 }).await;
        stop.cancel();
        worker.await.unwrap();
        let (job, attempts) = app.job(ids[0]).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Queued, "released for another worker");
        assert_eq!(job.attempts, 0, "a released attempt does not count");
        assert_eq!(attempts[0].outcome.as_deref(), Some("released"));
    }

    async fn readiness_and_catalogue_hold_on_a_migrated_database(db: &TestDb) {
        let app = app(db);
        let ready = app.readiness().await;
        assert!(ready.ready, "{ready:?}");
        let report = app.check_catalogue().await.unwrap();
        assert!(report.errors.is_empty() && report.warnings.is_empty(), "{report:?}");
    }

    async fn a_changed_role_matrix_stops_startup(db: &TestDb) {
        let mut c = db.store.acquire().await.unwrap();
        store::on_conn!(&mut c.conn(), c => store::sqlx::query(
            "INSERT INTO role_permissions (role, permission) VALUES ('viewer', 'members:remove')")
            .execute(&mut *c).await.map(|_| ())).unwrap();
        store::on_conn!(&mut c.conn(), c => store::sqlx::query(
            "UPDATE feature_flags SET min_tier = 'community' WHERE name = 'audit_log'")
            .execute(&mut *c).await.map(|_| ())).unwrap();
        drop(c);
        let app = app(db);
        let report = app.check_catalogue().await.unwrap();
        assert_eq!(report.errors, vec!["role_permissions grants members:remove to viewer but the binary does not".to_owned()]);
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        let err = app.verify_catalogue().await.unwrap_err();
        assert_eq!(err.code, "catalogue_mismatch");
    }
}

#[tokio::test]
async fn readiness_reports_an_unmigrated_database() {
    let db = TestDb::empty(Backend::Sqlite).await;
    let ready = app(&db).readiness().await;
    assert!(!ready.ready);
    assert!(ready.database.ok);
    assert!(!ready.migrations.ok);
}
