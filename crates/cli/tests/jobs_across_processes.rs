//! The job queue across real processes: exactly-once execution with two servers, recovery of a
//! killed worker's job after its lease expires, and dead-lettering.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;

use store::jobs::JobStatus;
use store::testing::TestDb;
use store::{Backend, backend_tests, on_conn, sqlx};
use support::{Server, eventually, run};

fn env<'a>(db: &'a TestDb, data: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("DATABASE_URL", db.url()),
        ("DEV_HEALTH_DATA_DIR", data),
        ("DEV_HEALTH_WORKER__POLL_INTERVAL_MS", "50"),
        ("DEV_HEALTH_WORKER__LEASE_SECS", "2"),
        ("DEV_HEALTH_WORKER__BACKOFF_BASE_MS", "20"),
        ("DEV_HEALTH_WORKER__BACKOFF_MAX_MS", "100"),
    ]
}

async fn status_count(db: &TestDb, status: &str) -> i64 {
    db.store
        .jobs()
        .counts()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.count)
        .sum()
}

/// `(jobs with exactly one attempt, total attempts, distinct workers)`.
async fn attempt_stats(db: &TestDb) -> (i64, i64, i64) {
    let mut c = db.store.acquire().await.unwrap();
    on_conn!(&mut c.conn(), c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM (SELECT job_id FROM job_attempts GROUP BY job_id HAVING COUNT(*) = 1) AS once), \
                (SELECT COUNT(*) FROM job_attempts), \
                (SELECT COUNT(DISTINCT worker_id) FROM job_attempts)")
        .fetch_one(&mut *c).await).unwrap()
}

/// `(attempt, worker, outcome, error)` of every job that ran more than once (failure detail).
async fn repeated_attempts(db: &TestDb) -> Vec<(i32, String, Option<String>, Option<String>)> {
    let mut c = db.store.acquire().await.unwrap();
    on_conn!(&mut c.conn(), c => sqlx::query_as(
        "SELECT attempt, worker_id, outcome, error FROM job_attempts WHERE job_id IN \
           (SELECT job_id FROM job_attempts GROUP BY job_id HAVING COUNT(*) > 1) ORDER BY job_id, attempt")
        .fetch_all(&mut *c).await).unwrap()
}

fn probe(dir: &Path, env: &[(&str, &str)], args: &[&str]) {
    let mut all = vec!["jobs", "probe"];
    all.extend_from_slice(args);
    let out = run(dir, &all, env);
    assert!(out.status.success(), "{out:?}");
}

backend_tests! {
    async fn a_thousand_jobs_run_exactly_once_across_two_servers(db: &TestDb) {
        db.store.migrate().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut env = env(db, data.to_str().unwrap());
        // Claim exclusivity is the point here, not lease recovery (tested below): a lease long
        // enough that a worker starved by the rest of the suite on 2 cores keeps its jobs.
        env.push(("DEV_HEALTH_WORKER__LEASE_SECS", "60"));
        let a = Server::start(dir.path(), &[], &env);
        let b = Server::start(dir.path(), &[], &env);
        probe(dir.path(), &env, &["--count", "1000", "--sleep-ms", "2"]);
        eventually(120, "1000 jobs to succeed", || async { status_count(db, "succeeded").await == 1000 }).await;
        let (once, total, workers) = attempt_stats(db).await;
        assert_eq!((once, total), (1000, 1000), "every job ran exactly once; repeated attempts: {:?}", repeated_attempts(db).await);
        assert_eq!(workers, 2, "both servers ran jobs");
        assert!(a.terminate().success());
        assert!(b.terminate().success());
    }

    async fn a_killed_workers_job_runs_again_after_its_lease_expires(db: &TestDb) {
        db.store.migrate().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let env = env(db, data.to_str().unwrap());
        let doomed = Server::start(dir.path(), &[], &env);
        probe(dir.path(), &env, &["--sleep-ms", "3000"]);
        eventually(30, "the probe to be claimed", || async { status_count(db, "running").await == 1 }).await;
        doomed.kill();
        let job = db.store.jobs().list(JobStatus::Running, 1).await.unwrap().remove(0);
        let rescuer = Server::start(dir.path(), &[], &env);
        eventually(60, "the probe to succeed", || async { status_count(db, "succeeded").await == 1 }).await;
        let attempts = db.store.jobs().attempts(job.id).await.unwrap();
        let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.clone().unwrap_or_default()).collect();
        assert_eq!(outcomes, ["lease_expired", "succeeded"]);
        assert_ne!(attempts[0].worker_id, attempts[1].worker_id);
        assert!(rescuer.terminate().success());
    }

    async fn a_job_that_keeps_failing_ends_in_dead_letter_with_its_last_error(db: &TestDb) {
        db.store.migrate().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let env = env(db, data.to_str().unwrap());
        let server = Server::start(dir.path(), &[], &env);
        probe(dir.path(), &env, &["--fail", "remote said 500", "--max-attempts", "3"]);
        eventually(60, "the probe to be dead", || async { status_count(db, "dead").await == 1 }).await;
        let dead = db.store.jobs().list(JobStatus::Dead, 5).await.unwrap();
        assert_eq!(dead[0].last_error.as_deref(), Some("remote said 500"));
        assert_eq!(dead[0].attempts, 3);
        let listed = run(dir.path(), &["jobs", "list", "--status", "dead"], &env);
        assert!(String::from_utf8_lossy(&listed.stdout).contains("remote said 500"));
        assert!(server.terminate().success());
    }

    async fn sigterm_lets_a_running_job_finish(db: &TestDb) {
        db.store.migrate().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let env = env(db, data.to_str().unwrap());
        let server = Server::start(dir.path(), &[], &env);
        probe(dir.path(), &env, &["--sleep-ms", "1500"]);
        eventually(30, "the probe to be claimed", || async { status_count(db, "running").await == 1 }).await;
        assert!(server.terminate().success());
        assert_eq!(status_count(db, "succeeded").await, 1, "finished before the process exited");
    }
}

#[test]
fn sqlite_url_helper_is_a_file_url() {
    // TestDb URLs for SQLite are sqlite:// file URLs that a child process can open too.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::new(Backend::Sqlite));
    assert!(db.url().starts_with("sqlite://"));
}
