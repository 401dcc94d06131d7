//! Entitlements through the HTTP API (entitlements spec §5–§6, §13, §15): the refusal bodies of
//! gated routes, kill switches and overrides with their checks and expiry, explanations, the
//! license status of a self-hosted instance, clock-rollback reporting, and the storage fail-safe.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use domain::{Clock, Feature, Tier};
use serde_json::{Value, json};
use store::backend_tests;
use support::{Answer, Call, Env, env, env_with, self_hosted, set_tier, test_license};

async fn put(e: &Env, path: &str, bearer: &str, body: Value) -> Answer {
    e.call(
        Method::PUT,
        path,
        Call {
            bearer: Some(bearer),
            body: Some(body),
            ..Call::default()
        },
    )
    .await
}

backend_tests! {
    async fn gated_routes_answer_the_spec_bodies(db: &TestDb) {
        let e = env(db);
        // The owner made by setup is also the platform admin.
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let names = std::sync::atomic::AtomicU32::new(0);
        let create = || {
            let n = names.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            e.post("/api/v1/org/api-tokens", Some(&owner.access), json!({"name": format!("ci-{n}"), "scopes": ["analytics:read"]}))
        };

        let community = create().await;
        assert_eq!(community.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(community.header("cache-control"), "no-store");
        let b = &community.body;
        assert_eq!(
            (b["error"].as_str(), b["feature"].as_str(), b["required_tier"].as_str(), b["current_tier"].as_str(), b["reason"].as_str(), b["upgrade_url"].as_str()),
            (Some("feature_not_licensed"), Some("api_access"), Some("team"), Some("community"), Some("not_licensed"), Some("/settings/billing?feature=api_access"))
        );

        set_tier(&e, org, Tier::Team).await;
        assert_eq!(create().await.status, StatusCode::CREATED);
        let token = e.token(&owner, "reader", &["entitlements:read"]).await;
        assert_eq!(e.get("/api/v1/entitlements/explain?feature=api_access", Some(&token)).await.status, StatusCode::OK);

        // Kill switch: 403 feature_disabled for sessions and API tokens alike, at once.
        let off = put(&e, "/api/v1/platform/feature-flags/api_access", &owner.access, json!({"enabled": false, "reason": "incident 42"})).await;
        assert_eq!(off.status, StatusCode::NO_CONTENT, "{off:?}");
        let killed = create().await;
        assert_eq!((killed.status, killed.code(), killed.body["reason"].as_str()), (StatusCode::FORBIDDEN, "feature_disabled", Some("kill_switch")));
        let by_token = e.get("/api/v1/entitlements/explain", Some(&token)).await;
        assert_eq!((by_token.status, by_token.code()), (StatusCode::FORBIDDEN, "feature_disabled"));
        put(&e, "/api/v1/platform/feature-flags/api_access", &owner.access, json!({"enabled": true, "reason": "resolved"})).await;
        assert_eq!(create().await.status, StatusCode::CREATED);

        // A deny override with an expiry: 403 until it expires, then the license decides again.
        let until = e.clock.now() + Duration::minutes(10);
        let path = format!("/api/v1/platform/orgs/{org}/overrides/api_access");
        let set = put(&e, &path, &owner.access, json!({"enabled": false, "reason": "abuse review", "expires_at": until})).await;
        assert_eq!(set.status, StatusCode::OK, "{set:?}");
        let denied = create().await;
        assert_eq!((denied.status, denied.code(), denied.body["reason"].as_str()), (StatusCode::FORBIDDEN, "feature_disabled", Some("org_override")));
        e.clock.advance(Duration::minutes(10) + Duration::seconds(1));
        assert_eq!(create().await.status, StatusCode::CREATED, "an expired override no longer applies");

        // SaaS overrides may grant: audit_log for a team org.
        let explain = |f: &str| {
            let path = format!("/api/v1/entitlements/explain?feature={f}");
            let e = &e;
            let access = owner.access.clone();
            async move { e.get(&path, Some(&access)).await }
        };
        assert_eq!(explain("audit_log").await.body["features"][0]["reason"], "not_licensed");
        put(&e, &format!("/api/v1/platform/orgs/{org}/overrides/audit_log"), &owner.access, json!({"enabled": true, "reason": "trial"})).await;
        let granted = explain("audit_log").await;
        assert_eq!((granted.body["features"][0]["allowed"].as_bool(), granted.body["features"][0]["reason"].as_str()), (Some(true), Some("org_override")));
        let listed = e.get(&format!("/api/v1/platform/orgs/{org}/overrides"), Some(&owner.access)).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
        let gone = e.delete(&format!("/api/v1/platform/orgs/{org}/overrides/audit_log"), Some(&owner.access)).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
        assert_eq!(explain("audit_log").await.body["features"][0]["reason"], "not_licensed");
    }

    async fn override_and_kill_switch_writes_are_checked(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        let admin = e.add_member(&owner, "admin@example.com", domain::Role::Admin).await;
        let path = |f: &str| format!("/api/v1/platform/orgs/{org}/overrides/{f}");
        let cases = [
            (path("audit_log"), json!({"enabled": true}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (path("audit_log"), json!({"enabled": true, "reason": "  "}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (path("audit_log"), json!({"enabled": true, "reason": "x", "tier": "team"}), StatusCode::BAD_REQUEST, "unknown_field"),
            (path("no_such_feature"), json!({"enabled": true, "reason": "x"}), StatusCode::NOT_FOUND, "unknown_feature"),
            (path("basic_analytics"), json!({"enabled": false, "reason": "x"}), StatusCode::BAD_REQUEST, "override_not_allowed"),
            (path("audit_log"), json!({"enabled": false, "reason": "x", "expires_at": "2001-01-01T00:00:00Z"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (format!("/api/v1/platform/orgs/{}/overrides/audit_log", uuid::Uuid::now_v7()), json!({"enabled": true, "reason": "x"}), StatusCode::NOT_FOUND, "not_found"),
            ("/api/v1/platform/feature-flags/nope".to_owned(), json!({"enabled": false, "reason": "x"}), StatusCode::NOT_FOUND, "unknown_feature"),
            ("/api/v1/platform/feature-flags/audit_log".to_owned(), json!({"enabled": false}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ];
        for (p, body, status, code) in cases {
            let a = put(&e, &p, &owner.access, body.clone()).await;
            assert_eq!((a.status, a.code()), (status, code), "{p} {body}");
        }
        let not_platform = put(&e, &path("audit_log"), &admin.access, json!({"enabled": true, "reason": "x"})).await;
        assert_eq!(not_platform.status, StatusCode::FORBIDDEN);
        let listed = e.get(&format!("/api/v1/platform/orgs/{org}/overrides"), Some(&owner.access)).await;
        assert_eq!(listed.body["items"], json!([]), "nothing was written");
        let explained = e.get("/api/v1/entitlements/explain?feature=nope", Some(&owner.access)).await;
        assert_eq!((explained.status, explained.code()), (StatusCode::BAD_REQUEST, "invalid_query"));
    }

    async fn explain_covers_every_feature_and_limit_with_its_steps(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        let all = e.get("/api/v1/entitlements/explain", Some(&owner.access)).await;
        assert_eq!(all.status, StatusCode::OK);
        assert_eq!(all.body["features"].as_array().unwrap().len(), 16);
        assert_eq!(all.body["tier"]["effective"], "team");
        assert_eq!(all.body["limits"]["users"], json!({"maximum": -1, "current": 1, "source": "tier_default"}));
        assert_eq!(all.body["limits"]["api_rate"]["maximum"], 1000);
        let one = e.get("/api/v1/entitlements/explain?feature=capacity_planning", Some(&owner.access)).await;
        let f = &one.body["features"][0];
        assert_eq!((f["allowed"].as_bool(), f["reason"].as_str(), f["min_tier"].as_str()), (Some(true), Some("tier_default"), Some("team")));
        let outcomes: Vec<(&str, &str)> = f["steps"].as_array().unwrap().iter()
            .map(|s| (s["input"].as_str().unwrap(), s["outcome"].as_str().unwrap())).collect();
        assert_eq!(outcomes, [("kill_switch", "pass"), ("community_floor", "pass"), ("org_override", "pass"), ("license", "pass"), ("tier_default", "decided")]);
        let floor = e.get("/api/v1/entitlements/explain?feature=git_sync", Some(&owner.access)).await;
        let outcomes: Vec<&str> = floor.body["features"][0]["steps"].as_array().unwrap().iter().map(|s| s["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["pass", "decided", "not_reached", "not_reached", "not_reached"]);
    }

    async fn self_hosted_license_status_and_deny_only_overrides(db: &TestDb) {
        let now = chrono::Utc::now().timestamp();
        let key = test_license(Tier::Enterprise, now - 86_400, now + 20 * 86_400, 14, "self-hosted");
        let e = env_with(db, self_hosted(Some(key.clone())));
        let owner = e.setup("owner@example.com").await;
        let status = e.get("/api/v1/license/status", Some(&owner.access)).await;
        assert_eq!(status.status, StatusCode::OK, "{status:?}");
        let s = &status.body;
        assert_eq!((s["mode"].as_str(), s["state"].as_str(), s["effective_tier"].as_str(), s["source"].as_str()), (Some("self_hosted"), Some("expiring"), Some("enterprise"), Some("env")));
        assert_eq!(s["deployment_id"], "self-hosted");
        assert_eq!(s["license"]["deployment_ids"], json!(["self-hosted"]));
        assert_eq!(s["warnings"][0]["code"], "license_expiring");
        assert!(s["license"]["fingerprint"].as_str().unwrap().starts_with("sha256:"));
        assert!(!status.body.to_string().contains(key.split('.').nth(1).unwrap()), "the token itself is never returned");
        let org = owner.org_id.unwrap();
        let grant = put(&e, &format!("/api/v1/platform/orgs/{org}/overrides/audit_log"), &owner.access, json!({"enabled": true, "reason": "x"})).await;
        assert_eq!((grant.status, grant.code()), (StatusCode::BAD_REQUEST, "override_grant_not_allowed"));
        let deny = put(&e, &format!("/api/v1/platform/orgs/{org}/overrides/audit_log"), &owner.access, json!({"enabled": false, "reason": "not wanted"})).await;
        assert_eq!(deny.status, StatusCode::OK);
        let install = e.post("/api/v1/license", Some(&owner.access), json!({"token": "a.b.c"})).await;
        assert_eq!((install.status, install.code()), (StatusCode::CONFLICT, "license_managed_by_env"));
    }

    async fn a_broken_license_runs_as_community_and_says_why(db: &TestDb) {
        let now = chrono::Utc::now().timestamp();
        let mut key = test_license(Tier::Enterprise, now - 86_400, now + 365 * 86_400, 14, "self-hosted");
        key.push('=');
        let e = env_with(db, self_hosted(Some(key)));
        let owner = e.setup("owner@example.com").await;
        let s = e.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!((s["state"].as_str(), s["effective_tier"].as_str(), s["error"]["code"].as_str()), (Some("invalid"), Some("community"), Some("license_malformed")));
        let wrong_deployment = test_license(Tier::Team, now - 86_400, now + 365 * 86_400, 14, "acme-prod");
        let e2 = support::replica_with(&e, db, self_hosted(Some(wrong_deployment)));
        let s = e2.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!((s["state"].as_str(), s["error"]["code"].as_str()), (Some("invalid"), Some("license_wrong_deployment")));
        assert_eq!(s["license"]["deployment_ids"], json!(["acme-prod"]), "shown next to the instance id");
        let expired = test_license(Tier::Team, now - 90 * 86_400, now - 30 * 86_400, 7, "self-hosted");
        let e3 = support::replica_with(&e, db, self_hosted(Some(expired)));
        let s = e3.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!((s["state"].as_str(), s["effective_tier"].as_str(), s["error"].is_null()), (Some("expired"), Some("community"), true));
        let explained = e3.get("/api/v1/entitlements/explain?feature=capacity_planning", Some(&owner.access)).await;
        assert_eq!(explained.body["features"][0]["reason"], "license_expired");
    }

    async fn an_installed_license_applies_on_every_replica(db: &TestDb) {
        let e = env_with(db, self_hosted(None));
        let other = support::replica_with(&e, db, self_hosted(None));
        let owner = e.setup("owner@example.com").await;
        let status = || other.get("/api/v1/license/status", Some(&owner.access));
        assert_eq!(status().await.body["state"], "none");
        let now = e.clock.now().timestamp();
        let bad = e.post("/api/v1/license", Some(&owner.access), json!({"token": test_license(Tier::Team, now, now + 86_400, 0, "acme-prod")})).await;
        assert_eq!((bad.status, bad.code(), bad.body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "license_invalid", Some("license_wrong_deployment")));
        let ok = e.post("/api/v1/license", Some(&owner.access), json!({"token": test_license(Tier::Team, now, now + 365 * 86_400, 14, "self-hosted")})).await;
        assert_eq!((ok.status, ok.body["license"]["tier"].as_str()), (StatusCode::OK, Some("team")), "{ok:?}");
        // The replica has no notification loop in this test; its snapshot lives at most until
        // the version bump is seen, which the cross-process tests measure. Here: a fresh read.
        let replica = support::replica_with(&e, db, self_hosted(None));
        let s = replica.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!((s["state"].as_str(), s["source"].as_str(), s["effective_tier"].as_str()), (Some("active"), Some("admin"), Some("team")));
    }

    async fn rolling_the_clock_back_keeps_an_expired_license_expired(db: &TestDb) {
        // Expired two days ago (no grace); three days ago it was still in force.
        let t0 = chrono::Utc::now();
        let key = test_license(Tier::Enterprise, t0.timestamp() - 60 * 86_400, t0.timestamp() - 2 * 86_400, 0, "self-hosted");
        let e = env_with(db, self_hosted(Some(key)));
        let owner = e.setup("owner@example.com").await;
        let now = e.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!((now["state"].as_str(), now["clock"]["rollback_detected"].as_bool()), (Some("expired"), Some(false)));
        // The machine clock is set back three days: the high-water mark is now three days ahead.
        e.clock.set(t0 - Duration::days(3));
        let again = e.login("owner@example.com").await;
        let back = e.get("/api/v1/license/status", Some(&again.access)).await.body;
        assert_eq!((back["state"].as_str(), back["effective_tier"].as_str()), (Some("expired"), Some("community")), "{back}");
        assert_eq!(back["clock"]["rollback_detected"], true, "{back}");
        assert!(back["clock"]["behind_by_s"].as_i64().unwrap() >= 3 * 86_400 - 5);
        assert!(back["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "clock_rollback_suspected"), "{back}");
        let explained = e.get("/api/v1/entitlements/explain?feature=audit_log", Some(&again.access)).await;
        assert_eq!(explained.body["features"][0]["reason"], "license_expired");
    }

    async fn an_hour_of_skew_raises_no_report(db: &TestDb) {
        let t0 = chrono::Utc::now();
        let e = env_with(db, self_hosted(None));
        let owner = e.setup("owner@example.com").await;
        e.get("/api/v1/license/status", Some(&owner.access)).await;
        e.clock.set(t0 - Duration::hours(1));
        let again = e.login("owner@example.com").await;
        let s = e.get("/api/v1/license/status", Some(&again.access)).await.body;
        assert_eq!((s["clock"]["rollback_detected"].as_bool(), s["clock"]["watermark_tampered"].as_bool()), (Some(false), Some(false)));
    }

    async fn a_tampered_clock_mark_is_ignored_and_reported(db: &TestDb) {
        let e = env_with(db, self_hosted(None));
        let owner = e.setup("owner@example.com").await;
        e.get("/api/v1/license/status", Some(&owner.access)).await;
        {
            let mut c = db.store.acquire().await.unwrap();
            let far = e.clock.now() + Duration::days(400);
            store::clock_mark::reset(&mut c.conn(), far, "forged").await.unwrap();
        }
        let s = e.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!((s["clock"]["watermark_tampered"].as_bool(), s["clock"]["rollback_detected"].as_bool()), (Some(true), Some(false)), "{s}");
        assert!(s["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "clock_watermark_tampered"));
        e.app.reset_clock().await.unwrap();
        let s = e.get("/api/v1/license/status", Some(&owner.access)).await.body;
        assert_eq!(s["clock"]["watermark_tampered"], false);
    }

    async fn without_storage_paid_gates_answer_503_and_community_stays_on(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        set_tier(&e, org, Tier::Team).await;
        e.app.require(org, Feature::CapacityPlanning).await.unwrap();
        // A replica with nothing cached, after the database went away.
        let cold = support::replica(&e, db);
        db.store.close().await;
        let err = cold.app.require(org, Feature::CapacityPlanning).await.unwrap_err();
        assert_eq!((err.code, err.details["retry_after_s"].as_u64()), ("entitlements_unavailable", Some(5)));
        cold.app.require(org, Feature::BasicAnalytics).await.unwrap();
        // The warm replica keeps serving its still-valid snapshot (a correct earlier decision).
        e.app.require(org, Feature::CapacityPlanning).await.unwrap();
    }

    async fn a_downgrade_deletes_nothing_and_blocks_only_additions(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap();
        set_tier(&e, org, Tier::Enterprise).await;
        let mut members = Vec::new();
        for (i, role) in [domain::Role::Admin, domain::Role::Editor, domain::Role::Viewer, domain::Role::Viewer].into_iter().enumerate() {
            members.push(e.add_member(&owner, &format!("m{i}@example.com"), role).await);
        }
        let token = e.token(&owner, "ci", &["members:read"]).await;
        assert_eq!(e.get("/api/v1/org/members", Some(&token)).await.status, StatusCode::OK);
        let before = support::digest(db).await;

        set_tier(&e, org, Tier::Community).await;
        let after = support::digest(db).await;
        assert_eq!(before, after, "a downgrade deletes and revokes nothing");
        for m in &members {
            let listed = e.get("/api/v1/org/members", Some(&m.access)).await;
            assert_eq!((listed.status, listed.body["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(5)), "every member keeps access");
        }
        let invite = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "new@example.com", "role": "viewer"})).await;
        assert_eq!((invite.status, invite.code(), invite.body["current"].as_u64(), invite.body["maximum"].as_u64()), (StatusCode::PAYMENT_REQUIRED, "limit_exceeded", Some(5), Some(3)));
        let unusable = e.get("/api/v1/org/members", Some(&token)).await;
        assert_eq!((unusable.status, unusable.code()), (StatusCode::PAYMENT_REQUIRED, "feature_not_licensed"), "tokens are kept but not usable");
        let listed = e.get("/api/v1/org/api-tokens", Some(&owner.access)).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));

        set_tier(&e, org, Tier::Enterprise).await;
        assert_eq!(e.get("/api/v1/org/members", Some(&token)).await.status, StatusCode::OK, "the same token works again after the upgrade");
        assert_eq!(support::digest(db).await, before);
    }

    async fn self_hosted_sign_ups_respect_the_deployment_orgs_limit(db: &TestDb) {
        let e = env_with(db, self_hosted(None));
        e.setup("owner@example.com").await;
        let before = support::digest(db).await;
        let body = |email: &str| json!({"email": email, "password": support::PASSWORD, "name": "N", "org_name": "Second"});
        for email in ["new@example.com", "owner@example.com"] {
            let refused = e.post("/api/v1/auth/register", None, body(email)).await;
            assert_eq!(
                (refused.status, refused.code(), refused.body["limit"].as_str(), refused.body["current"].as_u64(), refused.body["maximum"].as_u64()),
                (StatusCode::PAYMENT_REQUIRED, "limit_exceeded", Some("orgs"), Some(1), Some(1)),
                "the same answer for a new and an existing address"
            );
        }
        assert_eq!(support::digest(db).await, before);
        let now = chrono::Utc::now().timestamp();
        let licensed = support::replica_with(&e, db, self_hosted(Some(test_license(Tier::Team, now - 60, now + 365 * 86_400, 7, "self-hosted"))));
        let ok = licensed.post("/api/v1/auth/register", None, body("new@example.com")).await;
        assert_eq!(ok.status, StatusCode::ACCEPTED, "{ok:?}");
    }
}
