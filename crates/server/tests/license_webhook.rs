//! The entitlement receiver `POST /api/v1/license/webhook` (billing spec §10) through the real
//! router, on SQLite and PostgreSQL: a push is applied, mirrored, audited and gates at once on
//! this replica and within a second on another; duplicates, stale and older pushes change
//! nothing; a newer token that is already expired is stored and evaluates as expired; forged
//! pushes (a license-purpose key, an unknown kid, another deployment, a bad signature, a
//! subject that is not an org) are refused with their code and audited; unknown orgs, oversized
//! and mistyped bodies are refused; a self-hosted instance has no receiver. Every refusal
//! leaves the org, its entitlement and its version exactly as they were.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use domain::{Clock, Feature, OrgId, Tier};
use serde_json::{Value, json};
use store::backend_tests;
use store::testing::TestDb;
use support::{
    Answer, Call, Env, entitlement_claims, env, env_with, logs, next_iat, self_hosted,
    sign_entitlement,
};
use tokio_util::sync::CancellationToken;

const DAY: i64 = 86_400;
const PATH: &str = "/api/v1/license/webhook";

async fn push_as(e: &Env, content_type: &str, body: &str) -> Answer {
    e.call(
        Method::POST,
        PATH,
        Call {
            raw: Some((content_type, body)),
            ..Call::default()
        },
    )
    .await
}

async fn push(e: &Env, token: &str) -> Answer {
    push_as(e, "application/jwt", token).await
}

/// What a refusal must leave untouched: the stored jti, the org's version, the tier mirror and
/// every identity table.
async fn state(db: &TestDb, org: OrgId) -> (Option<String>, i64, Tier, Vec<(String, i64)>) {
    let mut c = db.store.acquire().await.unwrap();
    let jti = store::entitlements::org_entitlement(&mut c.conn(), org)
        .await
        .unwrap()
        .map(|e| e.jti);
    let version = store::entitlements::version(&mut c.conn(), &org.to_string())
        .await
        .unwrap();
    let tier = store::identity::orgs::by_id(&mut c.conn(), org)
        .await
        .unwrap()
        .unwrap()
        .tier;
    drop(c);
    (jti, version, tier, support::digest(db).await)
}

/// A signed push for `org`: `tier`, issued at `iat`, ending `exp`.
fn token(org: OrgId, tier: Tier, iat: i64, exp: i64) -> (String, String) {
    let claims = entitlement_claims(&org.to_string(), tier, iat, exp);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    (sign_entitlement(&claims), jti)
}

fn with(org: OrgId, iat: i64, f: impl FnOnce(&mut Value)) -> Value {
    let mut claims = entitlement_claims(&org.to_string(), Tier::Team, iat, iat + 365 * DAY);
    f(&mut claims);
    claims
}

/// Waits until `org` may use capacity planning on `e`; how long it took.
async fn until_gated(e: &Env, org: OrgId) -> Duration {
    let start = Instant::now();
    while e.app.require(org, Feature::CapacityPlanning).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the replica never gated on the push"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

backend_tests! {
    async fn a_push_is_applied_mirrored_audited_and_gates_on_every_replica_within_a_second(db: &TestDb) {
        logs::capture();
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        // A second replica with its invalidation loop, warmed with the community snapshot.
        let b = support::replica(&e, db);
        let stop = CancellationToken::new();
        let follow = {
            let app = b.app.clone();
            let stop = stop.clone();
            tokio::spawn(async move { app.run_entitlements(stop).await })
        };
        assert!(b.app.require(org, Feature::CapacityPlanning).await.is_err());
        let api_token = || e.post("/api/v1/org/api-tokens", Some(&owner.access), json!({"name": "ci", "scopes": ["analytics:read"]}));
        assert_eq!(api_token().await.status, StatusCode::PAYMENT_REQUIRED);
        // Give the replica's LISTEN (PostgreSQL) or first poll (SQLite) time to start.
        tokio::time::sleep(Duration::from_millis(600)).await;

        let now = e.clock.now().timestamp();
        let (t, jti) = token(org, Tier::Team, next_iat(&e), now + 365 * DAY);
        let applied = push(&e, &t).await;
        let answered = Instant::now();
        assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
        assert_eq!(applied.header("cache-control"), "no-store");
        let (stored_jti, version, mirror, _) = state(db, org).await;
        assert_eq!(
            (applied.body["status"].as_str(), applied.body["org_id"].as_str(), applied.body["tier"].as_str(), applied.body["version"].as_i64()),
            (Some("applied"), Some(org.to_string().as_str()), Some("team"), Some(version))
        );
        assert_eq!((stored_jti.as_deref(), mirror), (Some(jti.as_str()), Tier::Team), "stored and mirrored on organizations.tier");

        // This replica gates on it at once (HTTP and service gates alike) …
        e.app.require(org, Feature::CapacityPlanning).await.unwrap();
        assert_eq!(api_token().await.status, StatusCode::CREATED);
        // … and the other one within a second of the 200.
        until_gated(&b, org).await;
        let lag = answered.elapsed();
        println!("replica B gated {} ms after the 200", lag.as_millis());
        assert!(lag <= Duration::from_secs(1), "replica B took {lag:?}");
        stop.cancel();
        follow.await.unwrap();

        let audit = logs::lines_with(&["audit: entitlement.updated", &jti]);
        assert_eq!(audit.len(), 1, "one audit line: {}", logs::all());
        for field in ["actor=\"system:license-svc\"", "before_tier=community", "after_tier=team", "kid=dh-test-entitlement-1", "iat="] {
            assert!(audit[0].contains(field), "{field} in {}", audit[0]);
        }
        assert!(!logs::all().contains(&t), "the token is never logged");
    }

    async fn duplicates_stale_and_older_pushes_change_nothing(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let now = e.clock.now().timestamp();
        let iat = next_iat(&e);
        let (first, _) = token(org, Tier::Team, iat, now + 365 * DAY);
        assert_eq!(push(&e, &first).await.body["status"], "applied");
        let before = state(db, org).await;

        let again = push(&e, &first).await;
        assert_eq!((again.status, again.body.clone()), (StatusCode::OK, json!({"status": "duplicate"})));
        let (same_iat, _) = token(org, Tier::Enterprise, iat, now + 365 * DAY);
        let (older, _) = token(org, Tier::Enterprise, iat - 3600, now + 365 * DAY);
        for t in [same_iat, older] {
            let stale = push(&e, &t).await;
            assert_eq!(
                (stale.status, stale.code(), stale.body["stored_iat"].as_i64()),
                (StatusCode::CONFLICT, "stale_entitlement", Some(iat)),
                "{stale:?}"
            );
        }
        assert_eq!(state(db, org).await, before, "nothing changed");
        e.app.require(org, Feature::CapacityPlanning).await.unwrap();
        assert!(e.app.require(org, Feature::AuditLog).await.is_err(), "still team, not enterprise");

        // Any order of the same pushes ends with the newest one stored.
        let (newest, newest_jti) = token(org, Tier::Enterprise, next_iat(&e), now + 365 * DAY);
        assert_eq!(push(&e, &newest).await.body["status"], "applied");
        assert_eq!(push(&e, &first).await.status, StatusCode::CONFLICT);
        assert_eq!(state(db, org).await.0, Some(newest_jti));
    }

    async fn a_newer_token_that_already_expired_is_stored_and_evaluates_expired(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let now = e.clock.now().timestamp();
        let (generous, _) = token(org, Tier::Enterprise, next_iat(&e), now + 365 * DAY);
        assert_eq!(push(&e, &generous).await.body["status"], "applied");
        e.app.require(org, Feature::AuditLog).await.unwrap();

        // Issued now, ended 40 days ago with 7 days of grace: past its grace already.
        let (expired, jti) = token(org, Tier::Team, next_iat(&e), now - 40 * DAY);
        let applied = push(&e, &expired).await;
        assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
        assert_eq!((applied.body["tier"].as_str(), applied.body["effective_tier"].as_str()), (Some("team"), Some("community")));
        let (stored, _, mirror, _) = state(db, org).await;
        assert_eq!((stored.as_deref(), mirror), (Some(jti.as_str()), Tier::Community));
        let refused = e.app.require(org, Feature::CapacityPlanning).await.unwrap_err();
        assert_eq!((refused.code, refused.details["reason"].as_str()), ("feature_not_licensed", Some("license_expired")));
        assert!(e.app.require(org, Feature::AuditLog).await.is_err(), "the older, more generous token is gone");
        let explained = e.get("/api/v1/entitlements/explain?feature=capacity_planning", Some(&owner.access)).await;
        assert_eq!(explained.body["features"][0]["reason"], "license_expired");
        assert_eq!(explained.body["token"]["state"], "expired");
    }

    async fn forged_pushes_are_refused_with_their_code_audited_and_change_nothing(db: &TestDb) {
        logs::capture();
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let before = state(db, org).await;
        let iat = next_iat(&e);
        let license_key = license::anchors::signing_key_from_hex(license::anchors::TEST_LICENSE_SEED_HEX).unwrap();
        let rogue = license::anchors::signing_key_from_hex(&"11".repeat(32)).unwrap();
        let claims = with(org, iat, |_| {});
        let cases: Vec<(&str, String, &str)> = vec![
            ("license-purpose key", license::sign::sign(&claims, "dh-test-license-1", &license_key), "license_unknown_kid"),
            ("unknown kid", license::sign::sign(&claims, "dh-rogue-1", &rogue), "license_unknown_kid"),
            ("our kid, another key", license::sign::sign(&claims, "dh-test-entitlement-1", &rogue), "license_bad_signature"),
            ("another deployment", sign_entitlement(&with(org, iat, |c| c["deployment_ids"] = json!(["saas-other"]))), "license_wrong_deployment"),
            ("subject not an org", sign_entitlement(&with(org, iat, |c| c["sub"] = json!("cus_123"))), "entitlement_wrong_subject"),
            ("issued in the future", sign_entitlement(&with(org, iat + 3600, |_| {})), "license_issued_in_future"),
            ("not a token", "a.b.c".to_owned(), "license_malformed"),
        ];
        for (what, t, code) in cases {
            let refused = push(&e, &t).await;
            assert_eq!(
                (refused.status, refused.code(), refused.body["code"].as_str()),
                (StatusCode::UNAUTHORIZED, "invalid_entitlement", Some(code)),
                "{what}: {refused:?}"
            );
            let fingerprint = format!("sha256:{}", license::token::fingerprint(&t));
            let audit = logs::lines_with(&["audit: license.validation_failed", &fingerprint]);
            assert_eq!(audit.len(), 1, "{what}: {}", logs::all());
            assert!(audit[0].contains(code), "{what}: {}", audit[0]);
            assert_eq!(state(db, org).await, before, "{what} changed nothing");
        }
        assert!(e.app.require(org, Feature::CapacityPlanning).await.is_err());
    }

    async fn unknown_orgs_and_bad_envelopes_are_refused(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let before = state(db, org).await;
        let now = e.clock.now().timestamp();
        let (nobody, _) = token(OrgId::new(), Tier::Team, next_iat(&e), now + DAY);
        let unknown = push(&e, &nobody).await;
        assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "unknown_org"));

        let (good, _) = token(org, Tier::Team, next_iat(&e), now + DAY);
        let big = format!("{good}{}", " ".repeat(16 * 1024 + 1 - good.len()));
        let too_large = push(&e, &big).await;
        assert_eq!((too_large.status, too_large.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
        for content_type in ["application/json", "text/plain", "application/jwt-x"] {
            let wrong = push_as(&e, content_type, &good).await;
            assert_eq!((wrong.status, wrong.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"), "{content_type}");
        }
        let untyped = e.call(Method::POST, PATH, Call { headers: vec![], ..Call::default() }).await;
        assert_eq!(untyped.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(state(db, org).await, before, "nothing changed");
        // The same token, properly sent, is accepted (the refusals were about the envelope).
        assert_eq!(push_as(&e, "application/jwt; charset=utf-8", &good).await.body["status"], "applied");
    }

    async fn a_self_hosted_instance_has_no_receiver(db: &TestDb) {
        let e = env_with(db, self_hosted(None));
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let before = state(db, org).await;
        let now = e.clock.now().timestamp();
        let (t, _) = token(org, Tier::Team, next_iat(&e), now + DAY);
        for (content_type, body) in [("application/jwt", t.clone()), ("text/plain", t.clone()), ("application/jwt", "x".repeat(20_000))] {
            let a = push_as(&e, content_type, &body).await;
            assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"), "{content_type}");
        }
        assert_eq!(e.app.accept_entitlement(&t).await.unwrap_err().code, "not_found");
        assert_eq!(state(db, org).await, before);
    }
}
