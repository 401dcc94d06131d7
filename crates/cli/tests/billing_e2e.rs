//! The SaaS entitlement flow with real processes (billing spec §1, §15.2 E1, E3, E8): localstripe
//! → `dev-health license-svc serve` → `dev-health serve` in SaaS mode. An owner starts Checkout
//! through ops, the test completes it in localstripe, localstripe's signed webhooks reach
//! license-svc, the signed entitlement reaches ops, and a Team feature that answered 402 answers
//! 201 — also when ops was down while it all happened.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use license_service::testing::{free_port, stripe, stripe_price};
use serde_json::{Value, json};
use support::license_svc::{LicenseSvc, PASSWORD, saas_ops as ops, setup_owner};
use support::webdriver::Browser;
use support::{Server, eventually};

async fn call(
    method: reqwest::Method,
    server: &Server,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = support::http()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The owner asks ops for Checkout of the team monthly plan.
async fn checkout_team(server: &Server, token: &str) -> (u16, Value) {
    let body = json!({"tier": "team", "interval": "month"});
    call(
        reqwest::Method::POST,
        server,
        "/api/v1/billing/checkout",
        token,
        Some(body),
    )
    .await
}

/// Team-gated: API token creation (`api_access`).
async fn create_token(server: &Server, token: &str, name: &str) -> u16 {
    let body = json!({"name": name, "scopes": ["analytics:read"]});
    call(
        reqwest::Method::POST,
        server,
        "/api/v1/org/api-tokens",
        token,
        Some(body),
    )
    .await
    .0
}

/// Registers license-svc's webhook endpoint in localstripe (secret `whsec_test`).
async fn register_webhook(svc_port: u16) {
    let id = format!("e2e{svc_port}");
    let url = format!("http://127.0.0.1:{svc_port}/webhooks/stripe");
    stripe(
        "POST",
        &format!("/_config/webhooks/{id}"),
        &[
            ("url", url.as_str()),
            ("secret", license_service::testing::WHSEC),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_upgrades_through_checkout_and_the_team_feature_opens() {
    let dir = tempfile::tempdir().unwrap();
    let svc_dir = tempfile::tempdir().unwrap();
    let team = stripe_price("month", "2900").await;
    let svc_port = free_port();
    let ops = ops(dir.path(), free_port(), svc_port);
    let (token, _) = setup_owner(&ops).await;
    assert_eq!(
        create_token(&ops, &token, "before").await,
        402,
        "community has no API access"
    );

    let db = format!("sqlite://{}/license-svc.db", svc_dir.path().display());
    let svc = LicenseSvc::start(svc_dir.path(), svc_port, &ops.base, &db, &team);
    register_webhook(svc_port).await;

    let (status, body) = checkout_team(&ops, &token).await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    let session = url.rsplit('/').next().unwrap();
    assert!(session.starts_with("cs_"), "{url}");

    let paid = stripe(
        "POST",
        &format!("/_config/checkout/sessions/{session}/complete"),
        &[],
    )
    .await;
    let sub = paid["subscription"].as_str().unwrap().to_owned();

    // localstripe delivers about 1 s later; then license-svc pushes; ops gates at once.
    let started = Instant::now();
    let mut opened = None;
    for _ in 0..600 {
        if create_token(&ops, &token, "after").await == 201 {
            opened = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opened = opened.expect("the team feature opened within 30 s of payment");
    eprintln!(
        "payment completed → feature open on ops: {} ms",
        opened.as_millis()
    );

    // The push that did it: delivered by the outbox, applied by ops.
    let out = svc.run(svc_dir.path(), &db, &["outbox", "list"]);
    let rows = String::from_utf8_lossy(&out.stdout);
    assert!(rows.contains("\"status\":\"delivered\""), "{rows}");
    let (_, billing) = call(reqwest::Method::GET, &ops, "/api/v1/billing", &token, None).await;
    assert_eq!(billing["tier"], "team", "{billing}");
    let events = svc.run(svc_dir.path(), &db, &["events", "list"]);
    let events = String::from_utf8_lossy(&events.stdout);
    assert!(events.contains("checkout.session.completed"), "{events}");
    assert!(events.contains("\"outcome\":\"applied\""), "{events}");

    // A second checkout for the same org is refused: the subscription exists.
    let (status, body) = checkout_team(&ops, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("subscription_exists")),
        "{body}"
    );

    // Cancel now (E3): community again, existing rows kept.
    stripe("DELETE", &format!("/v1/subscriptions/{sub}"), &[]).await;
    eventually(30, "community after the cancel", || async {
        create_token(&ops, &token, "after-cancel").await == 402
    })
    .await;
    let (_, list) = call(
        reqwest::Method::GET,
        &ops,
        "/api/v1/org/api-tokens",
        &token,
        None,
    )
    .await;
    assert!(
        list.to_string().contains("after"),
        "the token made while paid is kept: {list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_down_during_the_upgrade_converges_when_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let svc_dir = tempfile::tempdir().unwrap();
    let team = stripe_price("month", "2900").await;
    let svc_port = free_port();
    let ops_port = free_port();
    let first = ops(dir.path(), ops_port, svc_port);
    let (token, _) = setup_owner(&first).await;
    let ops_base = first.base.clone();
    let (status, body) = checkout_team(&first, &token).await;
    // license-svc is not running yet: ops says so and changes nothing.
    assert_eq!(status, 503, "{body}");

    let db = format!("sqlite://{}/license-svc.db", svc_dir.path().display());
    let svc = LicenseSvc::start(svc_dir.path(), svc_port, &ops_base, &db, &team);
    register_webhook(svc_port).await;
    let (status, body) = checkout_team(&first, &token).await;
    assert_eq!(status, 200, "{body}");
    let session = body["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    // ops goes down; the customer pays; license-svc keeps retrying the push.
    first.terminate();
    stripe(
        "POST",
        &format!("/_config/checkout/sessions/{session}/complete"),
        &[],
    )
    .await;
    eventually(30, "license-svc retries the push", || async {
        let out = svc.run(
            svc_dir.path(),
            &db,
            &["outbox", "list", "--status", "pending"],
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|r| r["attempts"].as_i64().unwrap_or(0) >= 2)
    })
    .await;

    // ops comes back on the same address: the pending push lands, nothing is lost.
    let back = ops(dir.path(), ops_port, svc_port);
    let token = login(&back).await;
    let started = Instant::now();
    eventually(30, "the tier converges after ops restarts", || async {
        create_token(&back, &token, "after-outage").await == 201
    })
    .await;
    eprintln!(
        "ops restart → converged: {} ms",
        started.elapsed().as_millis()
    );
    let out = svc.run(svc_dir.path(), &db, &["outbox", "list", "--status", "dead"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "no dead rows"
    );
}

async fn login(server: &Server) -> String {
    let r = support::http()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The delivered push's `delivered_at` (license-svc's outbox, newest delivered row).
fn delivered_at(svc: &LicenseSvc, dir: &Path, db: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let out = svc.run(dir, db, &["outbox", "list", "--status", "delivered"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["delivered_at"].as_str().and_then(|t| t.parse().ok()))
        .max()
}

/// Spec §15.2 E1 with the browser: the owner follows the UpgradeGate's link to billing and
/// clicks Upgrade; Checkout opens in localstripe; the test pays; the feature opens on ops within
/// 1 s of license-svc's push, and the page says Team.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_clicks_upgrade_in_chromium_and_the_feature_opens_within_a_second_of_the_push() {
    const WAIT: Duration = Duration::from_secs(30);
    let dir = tempfile::tempdir().unwrap();
    let svc_dir = tempfile::tempdir().unwrap();
    let team = stripe_price("month", "2900").await;
    let svc_port = free_port();
    let ops = ops(dir.path(), free_port(), svc_port);
    let (token, _) = setup_owner(&ops).await;
    let db = format!("sqlite://{}/license-svc.db", svc_dir.path().display());
    let svc = LicenseSvc::start(svc_dir.path(), svc_port, &ops.base, &db, &team);
    register_webhook(svc_port).await;
    assert_eq!(create_token(&ops, &token, "before").await, 402);

    let browser = Browser::start().await;
    let _shot = browser.screenshot_on_failure("billing-upgrade");
    browser
        .goto(&ops.url("/signin?next=/settings/billing%3Ffeature%3Dapi_access"))
        .await;
    browser
        .wait_for("#email", WAIT)
        .await
        .fill("owner@example.com")
        .await;
    browser.find("#password").await.fill(PASSWORD).await;
    browser
        .find(r#"form[action="/signin"] button[type="submit"]"#)
        .await
        .click()
        .await;
    browser
        .wait_for_url("/settings/billing", WAIT, |u| {
            u.contains("/settings/billing")
        })
        .await;
    browser
        .wait_for(r#"li[data-offer="team"] button[value="month"]"#, WAIT)
        .await
        .click()
        .await;
    // Checkout in localstripe (its hosted page does not exist: the URL is what matters).
    let url = browser
        .wait_for_url("Stripe Checkout", WAIT, |u| u.contains("/_checkout/cs_"))
        .await;
    let session = url.rsplit('/').next().unwrap().to_owned();
    stripe(
        "POST",
        &format!("/_config/checkout/sessions/{session}/complete"),
        &[],
    )
    .await;

    let mut opened_at = None;
    for _ in 0..1_500 {
        if create_token(&ops, &token, "after").await == 201 {
            opened_at = Some(chrono::Utc::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let opened_at = opened_at.expect("the team feature opened within 30 s");
    let pushed_at = delivered_at(&svc, svc_dir.path(), &db).expect("a delivered push");
    let lag = (opened_at - pushed_at).num_milliseconds();
    eprintln!("push acknowledged → feature open on ops: {lag} ms");
    assert!(lag < 1_000, "gated within 1 s of the push ({lag} ms)");

    // Stripe sends the browser back to the billing page, which now shows the plan.
    browser
        .goto(&ops.url("/settings/billing?checkout=success"))
        .await;
    browser.wait_for_text("main", "Team", WAIT).await;
    assert!(
        browser.find_all("#upgrade").await.is_empty(),
        "no Upgrade once subscribed"
    );
}
