//! `dev-health serve` as a user runs it: on an empty data dir (SQLite) and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use store::Backend;
use store::testing::TestDb;
use support::{Server, run};

/// Starts serve with a 4 KiB body limit, on `database_url` or the default SQLite file.
fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> Server {
    let mut env = vec![
        ("DEV_HEALTH_DATA_DIR", data_dir.to_str().unwrap()),
        ("DEV_HEALTH_SERVER__BODY_LIMIT_BYTES", "4096"),
    ];
    if let Some(url) = database_url {
        env.push(("DATABASE_URL", url));
    }
    Server::start(data_dir.parent().unwrap(), &[], &env)
}

async fn check_endpoints(server: &Server) {
    let client = support::http();
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));

    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"),
        "{metrics}"
    );

    let doc: Value = client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));

    let home = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(
        home.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(home.text().await.unwrap().contains("<html"));

    let missing = client.get(server.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers().contains_key("x-request-id"));
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].is_string());

    let big = client
        .post(server.url("/api/v1/anything"))
        .body(vec![b'x'; 8192])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(big.headers().contains_key("x-request-id"));
    assert_eq!(
        big.json::<Value>().await.unwrap()["error"],
        "payload_too_large"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_an_empty_data_dir_creates_the_sqlite_database_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    assert!(!data_dir.exists());
    let server = start(&data_dir, None);
    assert!(
        data_dir.join("dev-health.db").is_file(),
        "database created in the data dir"
    );
    check_endpoints(&server).await;
    let status = server.terminate();
    assert!(status.success(), "graceful exit: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_an_empty_postgres_database_migrates_and_answers() {
    let db = TestDb::empty(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), Some(db.url()));
    check_endpoints(&server).await;
    assert!(server.terminate().success());
    assert!(db.store.migration_status().await.unwrap().is_current());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_twice_is_a_no_op_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("x.db").display()),
            Backend::Postgres => db.url().to_owned(),
        };
        let env = [
            ("DATABASE_URL", url.as_str()),
            ("DEV_HEALTH_DATA_DIR", dir.path().to_str().unwrap()),
        ];
        let first = run(dir.path(), &["migrate"], &env);
        assert!(first.status.success(), "{first:?}");
        let applied = format!(
            "applied {} migration(s)",
            store::embedded_migrations(backend, store::Schema::Ops).len()
        );
        assert!(
            String::from_utf8_lossy(&first.stdout).contains(&applied),
            "{first:?}"
        );
        let second = run(dir.path(), &["migrate"], &env);
        assert!(second.status.success(), "{second:?}");
        assert!(
            String::from_utf8_lossy(&second.stdout).contains("nothing to apply"),
            "{second:?}"
        );
    }
}
