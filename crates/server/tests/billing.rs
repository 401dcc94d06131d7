//! The billing API (billing spec §5 "related ops endpoints", §10 pull repair, §11) against a
//! stand-in license-svc that checks every request's HMAC signature for real: Checkout and the
//! portal for owners with the URLs built by ops and the request id passed on, license-svc's
//! refusals mapped, the summary for owners and admins reused for 60 s, Refresh applying the
//! pulled token through the receiver (and refusing a token for another org), an unreachable
//! license-svc or a wrong key as 503, and no billing at all on a self-hosted instance.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use domain::{Clock, Feature, Role, Tier};
use serde_json::{Value, json};
use store::backend_tests;
use support::license_svc::{Stub, summary};
use support::{
    Answer, Call, Env, PUBLIC, entitlement_claims, env_billing, next_iat, saas, self_hosted,
    sign_entitlement,
};

async fn post(e: &Env, path: &str, bearer: &str, body: Option<Value>, request_id: &str) -> Answer {
    e.call(
        Method::POST,
        path,
        Call {
            bearer: Some(bearer),
            body,
            headers: vec![("x-request-id", request_id.to_owned())],
            ..Call::default()
        },
    )
    .await
}

const ACTIVE: &str = "2026-03-12T00:00:00Z";

fn active() -> Value {
    json!({"status": "active", "trial_end": null, "current_period_end": ACTIVE,
        "cancel_at_period_end": false, "past_due_since": null, "dunning_ends_at": null})
}

backend_tests! {
    async fn checkout_and_portal_are_built_by_ops_and_answer_with_hx_redirect(db: &TestDb) {
        let stub = Stub::start().await;
        let e = env_billing(db, saas(), Some(stub.config()));
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap().to_string();
        let admin = e.add_member(&owner, "admin@example.com", Role::Admin).await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;

        let ok = post(&e, "/api/v1/billing/checkout", &owner.access, Some(json!({"tier": "team", "interval": "month"})), "req-checkout-1").await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        let url = "https://checkout.stripe.test/c/pay/cs_test_1";
        assert_eq!((ok.body.clone(), ok.header("hx-redirect"), ok.header("cache-control")), (json!({"url": url}), url, "no-store"));
        let seen = stub.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].method.as_str(), seen[0].path.as_str(), seen[0].request_id.as_deref()), ("POST", "/v1/checkout-sessions", Some("req-checkout-1")));
        assert_eq!(seen[0].body, json!({
            "org_id": org, "tier": "team", "interval": "month", "customer_email": "owner@example.com",
            "actor_user_id": owner.user_id.to_string(),
            "success_url": format!("{PUBLIC}/settings/billing?checkout=success"),
            "cancel_url": format!("{PUBLIC}/settings/billing?checkout=cancel"),
        }));

        // Bad input never reaches license-svc; nobody but owners may buy; URLs are never taken
        // from the client.
        let cases = [
            (json!({"tier": "community", "interval": "month"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (json!({"tier": "platinum", "interval": "month"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (json!({"tier": "team", "interval": "week"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (json!({"tier": "team"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (json!({"tier": "team", "interval": "month", "success_url": "https://evil.example/"}), StatusCode::BAD_REQUEST, "unknown_field"),
        ];
        for (body, status, code) in cases {
            let refused = post(&e, "/api/v1/billing/checkout", &owner.access, Some(body.clone()), "r").await;
            assert_eq!((refused.status, refused.code()), (status, code), "{body}");
        }
        for who in [&admin, &viewer] {
            let a = post(&e, "/api/v1/billing/checkout", &who.access, Some(json!({"tier": "team", "interval": "month"})), "r").await;
            assert_eq!(a.status, StatusCode::FORBIDDEN);
            assert_eq!(post(&e, "/api/v1/billing/portal", &who.access, None, "r").await.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(stub.seen().len(), 1, "nothing else reached license-svc");

        let portal = post(&e, "/api/v1/billing/portal", &owner.access, None, "req-portal-1").await;
        let portal_url = "https://billing.stripe.test/p/session/bps_1";
        assert_eq!((portal.status, portal.body.clone(), portal.header("hx-redirect")), (StatusCode::OK, json!({"url": portal_url}), portal_url));
        let seen = stub.seen();
        assert_eq!((seen[1].path.as_str(), seen[1].request_id.as_deref()), ("/v1/portal-sessions", Some("req-portal-1")));
        assert_eq!(seen[1].body, json!({"org_id": org, "return_url": format!("{PUBLIC}/settings/billing")}));
        assert_eq!(stub.refused(), 0, "every request verified, every nonce fresh");
    }

    async fn license_svc_refusals_are_mapped_to_what_an_owner_can_act_on(db: &TestDb) {
        let stub = Stub::start().await;
        let e = env_billing(db, saas(), Some(stub.config()));
        let owner = e.setup("owner@example.com").await;
        let buy = || post(&e, "/api/v1/billing/checkout", &owner.access, Some(json!({"tier": "enterprise", "interval": "year"})), "r");
        let cases = [
            (409, json!({"error": "subscription_exists"}), StatusCode::CONFLICT, "subscription_exists"),
            (422, json!({"error": "no_price"}), StatusCode::UNPROCESSABLE_ENTITY, "no_price"),
            (422, json!({"error": "invalid_url"}), StatusCode::SERVICE_UNAVAILABLE, "billing_unavailable"),
            (500, json!({"error": "internal_error"}), StatusCode::SERVICE_UNAVAILABLE, "billing_unavailable"),
            (201, json!({"id": "cs_1", "url": "javascript:alert(1)"}), StatusCode::SERVICE_UNAVAILABLE, "billing_unavailable"),
        ];
        for (status, body, expected, code) in cases {
            stub.set_checkout(status, body.clone());
            let a = buy().await;
            assert_eq!((a.status, a.code()), (expected, code), "{status} {body}: {a:?}");
            assert!(a.header("hx-redirect").is_empty());
        }
        assert_eq!(buy().await.header("retry-after"), "30");
        stub.set_portal(404, json!({"error": "no_billing_account"}));
        let none = post(&e, "/api/v1/billing/portal", &owner.access, None, "r").await;
        assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "no_billing_account"));
    }

    async fn the_summary_is_for_owners_and_admins_and_reused_for_a_minute(db: &TestDb) {
        let stub = Stub::start().await;
        let e = env_billing(db, saas(), Some(stub.config()));
        let owner = e.setup("owner@example.com").await;
        let org = owner.org_id.unwrap().to_string();
        let admin = e.add_member(&owner, "admin@example.com", Role::Admin).await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;

        let none = e.get("/api/v1/billing", Some(&owner.access)).await;
        assert_eq!(none.status, StatusCode::OK, "{none:?}");
        assert_eq!((none.body["account"].as_bool(), none.body["tier"].as_str(), none.body["phase"].clone()), (Some(false), Some("community"), json!({"kind": "none"})));

        stub.set_entitlement(&org, 200, summary(&org, "team", None, active()));
        e.clock.advance(Duration::seconds(61));
        let a = e.get("/api/v1/billing", Some(&owner.access)).await;
        let b = &a.body;
        assert_eq!((b["account"].as_bool(), b["billing_tier"].as_str(), b["billing_version"].as_i64()), (Some(true), Some("team"), Some(3)));
        assert_eq!(b["tier"], "community", "the plan gates only once its signed entitlement arrives");
        assert_eq!(b["phase"], json!({"kind": "renews", "at": "2026-03-12T00:00:00Z"}));
        assert_eq!(b["billing"]["status"], "active");
        assert!(b.get("token").is_none() && !a.body.to_string().contains("token\":"), "the token never leaves ops");
        let calls = stub.seen().len();
        assert_eq!(e.get("/api/v1/billing", Some(&admin.access)).await.status, StatusCode::OK);
        assert_eq!(stub.seen().len(), calls, "reused within 60 s");
        e.clock.advance(Duration::seconds(61));
        e.get("/api/v1/billing", Some(&admin.access)).await;
        assert_eq!(stub.seen().len(), calls + 1, "asked again after 60 s");
        assert_eq!(e.get("/api/v1/billing", Some(&viewer.access)).await.status, StatusCode::FORBIDDEN);
        support::set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        let token = e.token(&owner, "ci", &["entitlements:read"]).await;
        assert_eq!(e.get("/api/v1/billing", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "sessions only");
    }

    async fn refresh_pulls_the_token_and_applies_it_like_a_push(db: &TestDb) {
        let stub = Stub::start().await;
        let e = env_billing(db, saas(), Some(stub.config()));
        let owner = e.setup("owner@example.com").await;
        let org_id = owner.org_id.unwrap();
        let org = org_id.to_string();
        let admin = e.add_member(&owner, "admin@example.com", Role::Admin).await;
        let now = e.clock.now().timestamp();

        let nothing = post(&e, "/api/v1/billing/refresh", &admin.access, None, "r").await;
        assert_eq!((nothing.status, nothing.body["entitlement"].as_str()), (StatusCode::OK, Some("none")));

        let token = sign_entitlement(&entitlement_claims(&org, Tier::Team, next_iat(&e), now + 30 * 86_400));
        stub.set_entitlement(&org, 200, summary(&org, "team", Some(&token), active()));
        let applied = post(&e, "/api/v1/billing/refresh", &admin.access, None, "req-refresh-1").await;
        assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
        assert_eq!((applied.body["entitlement"].as_str(), applied.body["billing"]["tier"].as_str()), (Some("applied"), Some("team")));
        assert!(applied.body["version"].as_i64().unwrap() >= 1);
        e.app.require(org_id, Feature::CapacityPlanning).await.unwrap();
        assert_eq!(stub.seen().last().unwrap().request_id.as_deref(), Some("req-refresh-1"));
        let again = post(&e, "/api/v1/billing/refresh", &owner.access, None, "r").await;
        assert_eq!(again.body["entitlement"], "duplicate");

        // An older token than the one in force is stale: nothing changes.
        let older = sign_entitlement(&entitlement_claims(&org, Tier::Enterprise, now - 3600, now + 30 * 86_400));
        stub.set_entitlement(&org, 200, summary(&org, "enterprise", Some(&older), active()));
        let stale = post(&e, "/api/v1/billing/refresh", &owner.access, None, "r").await;
        assert_eq!(stale.body["entitlement"], "stale", "{stale:?}");
        assert!(e.app.require(org_id, Feature::AuditLog).await.is_err());

        // A token for another org is refused, whatever license-svc says.
        let before = support::digest(db).await;
        let other = sign_entitlement(&entitlement_claims(&domain::OrgId::new().to_string(), Tier::Enterprise, next_iat(&e), now + 30 * 86_400));
        stub.set_entitlement(&org, 200, summary(&org, "enterprise", Some(&other), active()));
        let refused = post(&e, "/api/v1/billing/refresh", &owner.access, None, "r").await;
        assert_eq!((refused.status, refused.code(), refused.body["code"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "invalid_entitlement", Some("entitlement_wrong_subject")));
        assert!(e.app.require(org_id, Feature::AuditLog).await.is_err());
        assert_eq!(support::digest(db).await, before);
    }

    async fn an_unreachable_license_svc_or_a_wrong_key_is_503(db: &TestDb) {
        let stub = Stub::start().await;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let down = app::billing::BillingConfig::new(&closed, "ops-test-1", support::license_svc::SECRET).unwrap();
        env_billing(db, saas(), None).setup("owner@example.com").await;
        for config in [down, stub.config_with(b"a wrong secret that is long enough!!")] {
            let e = env_billing(db, saas(), Some(config));
            let owner = e.login("owner@example.com").await;
            let a = e.get("/api/v1/billing", Some(&owner.access)).await;
            assert_eq!((a.status, a.code(), a.header("retry-after")), (StatusCode::SERVICE_UNAVAILABLE, "billing_unavailable", "30"), "{a:?}");
            let buy = post(&e, "/api/v1/billing/checkout", &owner.access, Some(json!({"tier": "team", "interval": "month"})), "r").await;
            assert_eq!(buy.code(), "billing_unavailable");
        }
        assert_eq!(stub.refused(), 2, "the wrong key was refused by license-svc");
    }

    async fn a_self_hosted_instance_has_no_billing_and_an_unconfigured_one_says_so(db: &TestDb) {
        let stub = Stub::start().await;
        let e = env_billing(db, self_hosted(None), Some(stub.config()));
        let owner = e.setup("owner@example.com").await;
        for (method, path, body) in [
            (Method::GET, "/api/v1/billing", None),
            (Method::POST, "/api/v1/billing/checkout", Some(json!({"tier": "team", "interval": "month"}))),
            (Method::POST, "/api/v1/billing/checkout", Some(json!({}))),
            (Method::POST, "/api/v1/billing/portal", None),
            (Method::POST, "/api/v1/billing/refresh", None),
        ] {
            let a = e.call(method, path, Call { bearer: Some(&owner.access), body, ..Call::default() }).await;
            assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
        }
        assert!(stub.seen().is_empty());
        let unconfigured = env_billing(db, saas(), None);
        let owner = unconfigured.login("owner@example.com").await;
        let a = unconfigured.get("/api/v1/billing", Some(&owner.access)).await;
        assert_eq!((a.status, a.code()), (StatusCode::SERVICE_UNAVAILABLE, "billing_not_configured"));
    }
}
