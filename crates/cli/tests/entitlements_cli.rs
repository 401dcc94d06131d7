//! Licensing across real `serve` processes (entitlements spec §14, §5.6, §19.5–§19.9): a broken
//! license never stops startup; a license file replaced while serving applies without a
//! restart while a half-written one keeps the old license; an installed key and an override
//! set through one server change gating in a second server (PostgreSQL `LISTEN/NOTIFY`, or the
//! SQLite version poll).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::{Backend, backend_tests};
use support::{Server, eventually, issue_test_license, run};

const PASSWORD: &str = "correct horse battery staple";

/// A one-year `self-hosted` key of `tier`, signed with the test key.
fn issue(dir: &Path, tier: &str) -> String {
    issue_test_license(dir, tier, &["--days", "365"])
}

async fn call(
    method: reqwest::Method,
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = support::http().request(method, server.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn setup(server: &Server) -> (String, String) {
    let (status, body) = call(
        reqwest::Method::POST,
        server,
        "/api/v1/setup",
        None,
        Some(json!({
        "email": "owner@example.com", "password": PASSWORD, "name": "Owner", "org_name": "Acme"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["org"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn status(server: &Server, token: &str) -> Value {
    let (code, body) = call(
        reqwest::Method::GET,
        server,
        "/api/v1/license/status",
        Some(token),
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test]
async fn a_broken_license_starts_as_community_and_reports_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut key = issue(dir.path(), "enterprise");
    key.replace_range(key.len() - 3.., "AAA");
    let server = Server::start(dir.path(), &[], &[("DEV_HEALTH_LICENSE", key.as_str())]);
    let (token, _) = setup(&server).await;
    let s = status(&server, &token).await;
    assert_eq!(
        (
            s["state"].as_str(),
            s["effective_tier"].as_str(),
            s["error"]["code"].as_str(),
            s["source"].as_str()
        ),
        (
            Some("invalid"),
            Some("community"),
            Some("license_bad_signature"),
            Some("env")
        ),
        "{s}"
    );
    let missing = dir.path().join("no-such-license.jwt");
    drop(server);
    let server = Server::start(
        dir.path(),
        &[],
        &[("DEV_HEALTH_LICENSE", missing.to_str().unwrap())],
    );
    let (_, body) = call(
        reqwest::Method::POST,
        &server,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "owner@example.com", "password": PASSWORD})),
    )
    .await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let s = status(&server, &token).await;
    assert_eq!(
        (s["state"].as_str(), s["reload"]["error"]["code"].as_str()),
        (Some("none"), Some("license_unreadable")),
        "{s}"
    );
}

#[tokio::test]
async fn a_replaced_license_file_applies_without_restart_and_a_torn_write_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("license.jwt");
    std::fs::write(&file, format!("{}\n", issue(dir.path(), "team"))).unwrap();
    let server = Server::start(
        dir.path(),
        &[],
        &[("DEV_HEALTH_LICENSE", file.to_str().unwrap())],
    );
    let (token, _) = setup(&server).await;
    let s = status(&server, &token).await;
    assert_eq!(
        (s["effective_tier"].as_str(), s["source"].as_str()),
        (Some("team"), Some("file")),
        "{s}"
    );

    // Replace the file the way a secret mount does: write aside, rename over.
    let enterprise = issue(dir.path(), "enterprise");
    let aside = dir.path().join("license.jwt.new");
    std::fs::write(&aside, &enterprise).unwrap();
    let started = Instant::now();
    std::fs::rename(&aside, &file).unwrap();
    eventually(11, "the replaced license file to apply", || async {
        status(&server, &token).await["effective_tier"] == "enterprise"
    })
    .await;
    println!(
        "license file change applied after {} ms",
        started.elapsed().as_millis()
    );

    // A torn write: the old license stays and the status says why.
    std::fs::write(&file, &enterprise[..enterprise.len() / 2]).unwrap();
    eventually(11, "the torn write to be reported", || async {
        status(&server, &token).await["reload"]["error"]["code"].is_string()
    })
    .await;
    let s = status(&server, &token).await;
    assert_eq!(s["effective_tier"], "enterprise", "{s}");
    assert!(
        s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "license_reload_failed"),
        "{s}"
    );

    // `admin license reload` and SIGHUP re-read the (now repaired) file.
    std::fs::write(&file, issue(dir.path(), "team")).unwrap();
    let out = run(
        dir.path(),
        &["admin", "license", "reload"],
        &[("DEV_HEALTH_LICENSE", file.to_str().unwrap())],
    );
    assert!(out.status.success(), "{out:?}");
    std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    eventually(11, "the repaired file to apply", || async {
        status(&server, &token).await["effective_tier"] == "team"
    })
    .await;
    assert!(status(&server, &token).await["reload"]["error"].is_null());
    // A running server refuses installs while DEV_HEALTH_LICENSE is set.
    let (code, body) = call(
        reqwest::Method::POST,
        &server,
        "/api/v1/license",
        Some(&token),
        Some(json!({"token": enterprise})),
    )
    .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("license_managed_by_env"))
    );
}

backend_tests! {
    async fn installs_and_overrides_reach_a_second_server(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let data = data.to_str().unwrap();
        let env = [("DATABASE_URL", db.url()), ("DEV_HEALTH_DATA_DIR", data)];
        let a = Server::start(dir.path(), &[], &env);
        let b = Server::start(dir.path(), &[], &env);
        let (token, org) = setup(&a).await;
        let key = issue(dir.path(), "enterprise");

        let started = Instant::now();
        let (code, body) = call(reqwest::Method::POST, &a, "/api/v1/license", Some(&token), Some(json!({"token": key}))).await;
        assert_eq!(code, 200, "{body}");
        eventually(5, "the installed license on the second server", || async {
            status(&b, &token).await["effective_tier"] == "enterprise"
        })
        .await;
        let install_ms = started.elapsed().as_millis();

        let override_path = format!("/api/v1/platform/orgs/{org}/overrides/api_access");
        let mut flips = Vec::new();
        for i in 0..20 {
            let deny = i % 2 == 0;
            let started = Instant::now();
            let (code, body) = if deny {
                call(reqwest::Method::PUT, &a, &override_path, Some(&token), Some(json!({"enabled": false, "reason": "flip test"}))).await
            } else {
                call(reqwest::Method::DELETE, &a, &override_path, Some(&token), None).await
            };
            assert!(code == 200 || code == 204, "{code} {body}");
            let want = if deny { 403 } else { 201 };
            let mut n = 0;
            eventually(5, "the override on the second server", || {
                n += 1;
                let name = format!("flip-{i}-{n}");
                let (b, token) = (&b, &token);
                async move {
                    let (code, _) = call(reqwest::Method::POST, b, "/api/v1/org/api-tokens", Some(token), Some(json!({"name": name, "scopes": ["analytics:read"]}))).await;
                    code == want
                }
            })
            .await;
            flips.push(started.elapsed());
        }
        flips.sort();
        let worst = *flips.last().unwrap();
        println!(
            "{}: install visible on the second server after {install_ms} ms; 20 override flips: median {} ms, max {} ms",
            db.backend().as_str(),
            flips[10].as_millis(),
            worst.as_millis()
        );
        if db.backend() == Backend::Postgres {
            // Spec §5.6 / §19.9: LISTEN/NOTIFY makes every replica see a change within 1 s.
            assert!(worst < Duration::from_secs(1), "slowest flip {worst:?}");
        }
    }
}

#[tokio::test]
async fn the_cli_installs_and_explains_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[]);
    let (token, _) = setup(&server).await;
    let explain = |feature: &str| {
        let out = run(
            dir.path(),
            &[
                "admin",
                "entitlements",
                "explain",
                "--org",
                "acme",
                "--feature",
                feature,
                "--json",
            ],
            &[],
        );
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        explain("audit_log")["features"][0]["reason"],
        "not_licensed"
    );

    let key = issue(dir.path(), "enterprise");
    let out = run(dir.path(), &["admin", "license", "install", &key], &[]);
    assert!(out.status.success(), "{out:?}");
    let e = explain("audit_log");
    assert_eq!(
        (
            e["features"][0]["allowed"].as_bool(),
            e["tier"]["effective"].as_str()
        ),
        (Some(true), Some("enterprise"))
    );
    // The running server (another process on the same SQLite file) follows.
    eventually(5, "the server to apply the CLI install", || async {
        status(&server, &token).await["effective_tier"] == "enterprise"
    })
    .await;

    let text = run(
        dir.path(),
        &["admin", "entitlements", "explain", "--org", "acme"],
        &[],
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("effective tier enterprise")
            && text.contains("audit_log")
            && text.contains("limit users"),
        "{text}"
    );
    let unknown = run(
        dir.path(),
        &["admin", "entitlements", "explain", "--org", "nope"],
        &[],
    );
    assert_eq!(unknown.status.code(), Some(1));
    let no_confirm = run(dir.path(), &["admin", "license", "clock-reset"], &[]);
    assert_eq!(no_confirm.status.code(), Some(64));
    let bad_id = run(
        dir.path(),
        &["config", "show"],
        &[("DEV_HEALTH_DEPLOYMENT_ID", "Acme Prod")],
    );
    assert_eq!(bad_id.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&bad_id.stderr).contains("deployment_id"));
}
