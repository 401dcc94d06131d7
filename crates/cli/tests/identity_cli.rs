//! First run and scripted installs through the real binary: the generated key file, `POST
//! /api/v1/setup`, `admin users create`, `admin platform-admin`, and the PostgreSQL key rule.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::{Value, json};
use support::{Server, binary, run};

const PASSWORD: &str = "correct horse battery staple";

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let r = support::http()
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn setup_then_scripted_users_sign_in_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[]);
    let key_file = dir.path().join(".dev-health/secret.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the generated key file is private");

    let (status, body) = post(&server, "/api/v1/setup", json!({"email": "owner@example.com", "password": PASSWORD, "name": "Owner", "org_name": "Acme"})).await;
    assert_eq!(status, 201, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (again, body) = post(
        &server,
        "/api/v1/setup",
        json!({"email": "b@example.com", "password": PASSWORD, "name": "B", "org_name": "B"}),
    )
    .await;
    assert_eq!(
        (again, body["error"].as_str()),
        (409, Some("setup_complete"))
    );

    let out = run(
        dir.path(),
        &[
            "admin",
            "users",
            "create",
            "--email",
            "ops@example.com",
            "--org",
            "acme",
            "--role",
            "admin",
        ],
        &[("DEV_HEALTH_ADMIN_PASSWORD", PASSWORD)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let weak = run(
        dir.path(),
        &[
            "admin",
            "users",
            "create",
            "--email",
            "weak@example.com",
            "--password",
            "short",
        ],
        &[],
    );
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(
        stderr.contains("weak_password") || stderr.contains("password"),
        "{stderr}"
    );

    let (status, body) = post(
        &server,
        "/api/v1/auth/login",
        json!({"email": "ops@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["user"]["is_platform_admin"], false);
    let out = run(
        dir.path(),
        &["admin", "platform-admin", "grant", "ops@example.com"],
        &[],
    );
    assert!(out.status.success());

    // The key file is reused: a refresh token issued before the restart still works.
    server.terminate();
    let server = Server::start(dir.path(), &[], &[]);
    let (status, body) = post(
        &server,
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = post(
        &server,
        "/api/v1/auth/login",
        json!({"email": "ops@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(body["user"]["is_platform_admin"], true);
}

#[test]
fn postgres_installs_refuse_to_start_without_a_secrets_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = store::testing::postgres_admin_url();
    let out = binary()
        .current_dir(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DEV_HEALTH_SECRETS_KEY"), "{stderr}");
}
