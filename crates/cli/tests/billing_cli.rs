//! The ops side of billing in the real binary: the `[billing]` settings (the key secret from
//! `DEV_HEALTH_BILLING_KEY_SECRET`, never shown; a short secret refused at start naming the
//! variable) and `dev-health admin billing resync --org`, which pulls the org's entitlement from
//! license-svc with a signed request and applies it like a push — visible to a running server
//! on the same database within a second.
//!
//! license-svc is a stand-in on a loopback port that checks each request's HMAC signature with
//! the real `license::service_auth::verify` and answers `GET /v1/entitlements/{org}` with a
//! team entitlement signed by the test entitlement key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use license::service_auth::{Keys, Scope};
use serde_json::{Value, json};
use support::{Server, eventually, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KID: &str = "ops-cli-1";
const SECRET: &str = "a cli test secret of at least 32 bytes!";
const DEPLOYMENT: &str = "saas-test";
const PASSWORD: &str = "correct horse battery staple";

/// The stand-in: `(url, refused requests)`.
async fn license_svc() -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let refused = Arc::new(AtomicU32::new(0));
    let counter = refused.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let refused = counter.clone();
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&raw).into_owned();
                let mut lines = head.lines();
                let mut first = lines.next().unwrap().split(' ');
                let (method, target) = (first.next().unwrap(), first.next().unwrap());
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let mut keys = Keys::default();
                keys.add(KID, SECRET.as_bytes(), Scope::Ops).unwrap();
                let verified = license::service_auth::verify(
                    &header("authorization"),
                    &license::service_auth::Request {
                        method,
                        path,
                        query,
                        body: b"",
                    },
                    &keys,
                    Scope::Ops,
                    chrono::Utc::now().timestamp(),
                );
                let (status, body) = match (verified, path.strip_prefix("/v1/entitlements/")) {
                    (Err(_), _) => {
                        refused.fetch_add(1, Ordering::SeqCst);
                        ("401 Unauthorized", json!({"error": "unauthorized"}))
                    }
                    (Ok(_), Some(org)) => ("200 OK", entitlement(org)),
                    (Ok(_), None) => ("404 Not Found", json!({"error": "not_found"})),
                };
                let body = body.to_string();
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
            });
        }
    });
    (url, refused)
}

/// license-svc's answer for `org`: a freshly signed team entitlement and its billing summary.
fn entitlement(org: &str) -> Value {
    let key = license::anchors::signing_key_from_hex(license::anchors::TEST_ENTITLEMENT_SEED_HEX)
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = license::sign::sign(
        &json!({
            "iss": license::claims::ISSUER, "sub": org, "jti": uuid::Uuid::now_v7().to_string(),
            "iat": now, "exp": now + 30 * 86_400, "tier": "team", "features": {}, "limits": {},
            "deployment_ids": [DEPLOYMENT], "grace_days": 14,
        }),
        "dh-test-entitlement-1",
        &key,
    );
    json!({"org_id": org, "tier": "team", "version": 1, "token": token,
        "billing": {"status": "active", "current_period_end": now + 30 * 86_400, "cancel_at_period_end": false}})
}

fn saas_env<'a>(url: &'a str, data: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DEV_HEALTH_DATA_DIR", data),
        ("DEV_HEALTH_MODE", "saas"),
        ("DEV_HEALTH_DEPLOYMENT_ID", DEPLOYMENT),
        ("DEV_HEALTH_BILLING__LICENSE_SVC_URL", url),
        ("DEV_HEALTH_BILLING__KEY_ID", KID),
        ("DEV_HEALTH_BILLING_KEY_SECRET", secret),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_pulls_and_applies_the_entitlement_and_a_running_server_follows() {
    let (url, refused) = license_svc().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_owned();
    let env = saas_env(&url, &data, SECRET);
    let server = Server::start(dir.path(), &[], &env);
    let http = support::http();
    let setup: Value = http
        .post(server.url("/api/v1/setup"))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD, "name": "Owner", "org_name": "Acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = setup["access_token"].as_str().unwrap().to_owned();
    let slug = setup["org"]["slug"].as_str().unwrap_or("acme").to_owned();
    let allowed = || {
        let http = http.clone();
        let url = server.url("/api/v1/entitlements/explain?feature=capacity_planning");
        let access = access.clone();
        async move {
            let v: Value = http
                .get(url)
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["features"][0]["allowed"] == true
        }
    };
    assert!(!allowed().await, "community before the resync");

    let out = run(
        dir.path(),
        &["admin", "billing", "resync", "--org", &slug, "--json"],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["entitlement"].as_str(), r["billing"]["tier"].as_str()),
        (Some("applied"), Some("team")),
        "{r}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(SECRET)
            && !String::from_utf8_lossy(&out.stdout).contains(SECRET)
    );
    eventually(
        1,
        "the running server to gate on the resynced entitlement",
        allowed,
    )
    .await;

    // The wrong secret is refused by license-svc and changes nothing.
    let wrong = saas_env(&url, &data, "a wrong secret that is long enough!!!");
    let out = run(
        dir.path(),
        &["admin", "billing", "resync", "--org", &slug],
        &wrong,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Billing is not reachable"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(refused.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(allowed().await);
    server.terminate();
}

#[test]
fn the_key_secret_comes_from_its_variable_is_never_shown_and_must_be_long() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_owned();
    let env = saas_env("http://127.0.0.1:9", &data, SECRET);
    let shown = run(dir.path(), &["config", "show"], &env);
    assert!(shown.status.success(), "{shown:?}");
    let text = String::from_utf8_lossy(&shown.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("billing.key_secret"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("[redacted]") && row.contains("DEV_HEALTH_BILLING_KEY_SECRET"),
        "{row}"
    );
    assert!(!text.contains(SECRET));
    assert!(text.contains("billing.license_svc_url") && text.contains("http://127.0.0.1:9"));

    let short = saas_env("http://127.0.0.1:9", &data, "too short");
    let refused = run(dir.path(), &["serve"], &short);
    assert_eq!(refused.status.code(), Some(78), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("billing.key_secret") && stderr.contains("DEV_HEALTH_BILLING_KEY_SECRET"),
        "{stderr}"
    );
    assert!(!stderr.contains("too short"), "{stderr}");
}
