//! license-svc's private `/v1` API (billing spec §5, §6.1, §7.4, §8, §15.2 E12, E13): HMAC
//! service authentication with scopes and one-time nonces, Checkout with one trial per org
//! (against localstripe), the entitlement read, comp grants, admin license keys, and `/readyz`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::StatusCode;
use domain::Tier;
use serde_json::json;
use support::*;
use uuid::Uuid;

async fn harness() -> (Harness, String) {
    let team = stripe_price("month", "2900").await;
    let receiver = format!("{}/api/v1/license/webhook", closed_port());
    let h =
        Harness::with_prices(store::Backend::Sqlite, &localstripe(), &receiver, &team, "").await;
    let base = receiver
        .trim_end_matches("/api/v1/license/webhook")
        .to_owned();
    (h, base)
}

fn checkout(org: Uuid, base: &str, tier: &str) -> serde_json::Value {
    json!({"org_id": org, "tier": tier, "interval": "month", "customer_email": "owner@acme.example",
        "actor_user_id": "u1", "success_url": format!("{base}/settings/billing?checkout=success"),
        "cancel_url": format!("{base}/settings/billing?checkout=cancel")})
}

/// ops asks for Checkout of the team monthly plan for `org`.
async fn start_checkout(h: &Harness, org: Uuid, base: &str) -> (StatusCode, serde_json::Value) {
    let body = checkout(org, base, "team");
    h.signed("POST", "/v1/checkout-sessions", Some(body), OPS, None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_offers_one_trial_per_org_and_refuses_a_second_subscription() {
    let (h, base) = harness().await;
    let team = {
        let cfg = &h.svc.config.prices;
        cfg.iter()
            .find(|p| p.tier == Tier::Team && p.trial_days.is_some())
            .unwrap()
            .id
            .clone()
    };
    let org = Uuid::now_v7();
    let (status, body) = start_checkout(&h, org, &base).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["url"].as_str().unwrap().contains("/_checkout/cs_"),
        "{body}"
    );
    assert_eq!(body["trial_days"], 14);

    for (input, code) in [
        (checkout(org, "https://evil.example", "team"), "invalid_url"),
        (checkout(org, &base, "community"), "no_price"),
        (json!({"org_id": org}), "invalid_request"),
    ] {
        let (status, body) = h
            .signed("POST", "/v1/checkout-sessions", Some(input), OPS, None)
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code))
        );
    }

    // E13 (synth): the subscription starts trialing; the token ends with the trial, 1 day grace.
    let trial_end = h.now() + 14 * 86_400;
    let mut sub = subscription("sub_trial", org, "trialing", &team, trial_end);
    sub["trial_end"] = json!(trial_end);
    h.deliver(&event(
        "evt_trial",
        "customer.subscription.created",
        h.now(),
        &sub,
    ))
    .await;
    let e = h.entitlement(org).await.unwrap();
    assert_eq!((e.tier, e.exp, e.grace_days), (Tier::Team, trial_end, 1));
    let (status, body) = start_checkout(&h, org, &base).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("subscription_exists"))
    );

    // The trial ends unpaid: community; the next checkout has no trial.
    sub["status"] = json!("canceled");
    h.deliver(&event(
        "evt_end",
        "customer.subscription.deleted",
        h.now() + 1,
        &sub,
    ))
    .await;
    assert_eq!(h.entitlement(org).await.unwrap().tier, Tier::Community);
    let (status, body) = start_checkout(&h, org, &base).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["trial_days"].is_null(), "one trial per org: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_only_their_routes_and_a_nonce_works_once() {
    let (h, _) = harness().await;
    let org = Uuid::now_v7();
    let path = format!("/v1/entitlements/{org}");
    let comp_path = format!("{path}/comp");
    // No billing record yet.
    let (status, body) = h.signed("GET", &path, None, OPS, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_org"))
    );
    let unauthorized = (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
    assert_eq!(
        h.signed("GET", &path, None, OPS_COMP, None).await,
        unauthorized
    );
    assert_eq!(
        h.signed("GET", &path, None, ADMIN, None).await,
        unauthorized
    );
    assert_eq!(
        h.signed("DELETE", &comp_path, None, OPS, None).await,
        unauthorized
    );
    assert_eq!(
        h.signed("GET", "/v1/licenses", None, OPS, None).await,
        unauthorized
    );
    assert_eq!(
        h.signed(
            "GET",
            &path,
            None,
            ("ops-test-1", "wrong-secret-0123456789abcdef0123456789"),
            None
        )
        .await,
        unauthorized
    );
    // One nonce, twice: the replay is refused.
    let nonce = "AAECAwQFBgcICQoLDA0ODw";
    assert_eq!(
        h.signed("GET", "/v1/licenses", None, ADMIN, Some(nonce))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        h.signed("GET", "/v1/licenses", None, ADMIN, Some(nonce))
            .await,
        unauthorized
    );
    // Skew beyond 300 s.
    let req_ts_shift = {
        use base64::Engine;
        let fresh =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Uuid::now_v7().as_bytes());
        let auth = license::service_auth::authorization(
            OPS.0,
            OPS.1.as_bytes(),
            &license::service_auth::Request {
                method: "GET",
                path: &path,
                query: "",
                body: b"",
            },
            h.now() - 301,
            &fresh,
        );
        use tower::ServiceExt;
        let req = axum::http::Request::get(&path)
            .header("authorization", auth)
            .body(axum::body::Body::empty())
            .unwrap();
        h.router.clone().oneshot(req).await.unwrap().status()
    };
    assert_eq!(req_ts_shift, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comp_grant_is_bounded_audited_and_pushed_like_any_change() {
    let (h, _) = harness().await;
    let org = Uuid::now_v7();
    let comp_path = format!("/v1/entitlements/{org}/comp");
    let until = chrono::DateTime::from_timestamp(h.now() + 30 * 86_400, 0).unwrap();
    let too_late = chrono::DateTime::from_timestamp(h.now() + 367 * 86_400, 0).unwrap();
    let grant = |until: chrono::DateTime<chrono::Utc>, reason: &str| json!({"tier": "enterprise", "until": until, "reason": reason, "actor": "admin@dev-health.example"});
    for (body, code) in [
        (grant(too_late, "pilot"), "invalid_until"),
        (grant(until, " "), "reason_required"),
    ] {
        let (status, answer) = h
            .signed("PUT", &comp_path, Some(body), OPS_COMP, None)
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code))
        );
    }
    let (status, body) = h
        .signed(
            "PUT",
            &comp_path,
            Some(grant(until, "pilot")),
            OPS_COMP,
            None,
        )
        .await;
    assert_eq!(
        (status, body["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let e = h.entitlement(org).await.unwrap();
    assert_eq!(
        (e.tier, e.exp, e.grace_days),
        (Tier::Enterprise, until.timestamp(), 0)
    );
    let pushed = h.outbox().await;
    assert_eq!(claims(&pushed.last().unwrap().token)["tier"], "enterprise");

    // The pull repair returns the last push to the asking deployment.
    let other = format!("/v1/entitlements/{org}?deployment_id=elsewhere");
    assert!(h.signed("GET", &other, None, OPS, None).await.1["token"].is_null());
    let path = format!("/v1/entitlements/{org}?deployment_id={DEPLOYMENT}");
    let (status, body) = h.signed("GET", &path, None, OPS, None).await;
    assert_eq!(
        (status, body["tier"].as_str()),
        (StatusCode::OK, Some("enterprise"))
    );
    assert_eq!(
        body["token"].as_str(),
        Some(pushed.last().unwrap().token.as_str())
    );

    let (status, body) = h.signed("DELETE", &comp_path, None, OPS_COMP, None).await;
    assert_eq!(
        (status, body["version"].as_i64()),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(h.entitlement(org).await.unwrap().tier, Tier::Community);
    assert_eq!(h.outbox().await.len(), 2);
    let mut c = h.db.store.acquire().await.unwrap();
    let audit = license_service::db::audit::list(&mut c.conn())
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(actions, ["comp.grant", "comp.remove"]);
    assert!(audit[0].0.contains("admin@dev-health.example"), "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keys_issue_list_show_and_revoke_licenses() {
    let (h, _) = harness().await;
    let customer = Uuid::now_v7();
    let (status, body) = h
        .signed("POST", "/v1/licenses", Some(json!({"customer_id": customer, "tier": "team", "days": 30, "deployment_ids": ["prod"]})), ADMIN, None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_customer"))
    );
    {
        let mut c = h.db.store.acquire().await.unwrap();
        license_service::db::customers::insert(
            &mut c.conn(),
            &license_service::db::customers::Customer {
                id: customer,
                stripe_customer_id: None,
                kind: "self_hosted".into(),
                org_id: None,
                email: "it@acme.example".into(),
                name: "Acme".into(),
                deployment_ids: vec!["prod".into()],
                trial_used_at: None,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
    for (input, code) in [
        (
            json!({"customer_id": customer, "tier": "team", "days": 30, "deployment_ids": ["Prod East"]}),
            "invalid_deployment_ids",
        ),
        (
            json!({"customer_id": customer, "tier": "community", "days": 30, "deployment_ids": ["prod"]}),
            "invalid_tier",
        ),
        (
            json!({"customer_id": customer, "tier": "team", "deployment_ids": ["prod"]}),
            "invalid_exp",
        ),
        (
            json!({"customer_id": customer, "tier": "team", "days": 30, "deployment_ids": ["prod"], "features": {"telepathy": true}}),
            "invalid_feature",
        ),
    ] {
        let (status, body) = h
            .signed("POST", "/v1/licenses", Some(input), ADMIN, None)
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code))
        );
    }
    let (status, body) = h
        .signed("POST", "/v1/licenses", Some(json!({"customer_id": customer, "tier": "enterprise", "days": 30, "deployment_ids": ["prod"], "limits": {"users": 500}})), ADMIN, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let jti = body["jti"].as_str().unwrap().to_owned();
    let token = body["token"].as_str().unwrap().to_owned();
    let verified = license::verify(
        &token,
        &license::anchors::test_anchors(),
        &[],
        &license::Expect {
            purpose: license::Purpose::License,
            deployment_id: "prod",
            subject: None,
            at: h.now(),
        },
    )
    .unwrap();
    assert_eq!(
        (verified.claims.tier, verified.claims.limits["users"]),
        (Tier::Enterprise, 500)
    );

    let (_, list) = h
        .signed(
            "GET",
            &format!("/v1/licenses?customer_id={customer}"),
            None,
            ADMIN,
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(
        list["items"][0].get("token").is_none(),
        "lists omit tokens: {list}"
    );
    let (_, one) = h
        .signed("GET", &format!("/v1/licenses/{jti}"), None, ADMIN, None)
        .await;
    assert_eq!(one["token"].as_str(), Some(token.as_str()));
    let (status, body) = h
        .signed(
            "POST",
            &format!("/v1/licenses/{jti}/revoke"),
            Some(json!({"reason": "refund"})),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"jti": jti, "status": "revoked"}))
    );
    let (_, one) = h
        .signed("GET", &format!("/v1/licenses/{jti}"), None, ADMIN, None)
        .await;
    assert_eq!(one["status"], "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_counts_unhandled_events_and_the_outbox() {
    let h = Harness::new(
        store::Backend::Sqlite,
        &closed_port(),
        &format!("{}/api/v1/license/webhook", closed_port()),
    )
    .await;
    use tower::ServiceExt;
    let ready = || async {
        let req = axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = h.router.clone().oneshot(req).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let metrics = || async {
        let req = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = h.router.clone().oneshot(req).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    metrics().await; // installs the recorder
    let before = ready().await;
    assert_eq!(
        (
            before["status"].as_str(),
            before["unhandled_events_24h"].as_i64()
        ),
        (Some("ok"), Some(0))
    );
    h.deliver(&event(
        "evt_disc",
        "customer.discount.created",
        h.now(),
        &json!({"id": "di_1"}),
    ))
    .await;
    let org = Uuid::now_v7();
    h.deliver(&event(
        "evt_sub",
        "customer.subscription.created",
        h.now(),
        &subscription("sub_r", org, "active", TEAM, h.now() + 86_400),
    ))
    .await;
    let after = ready().await;
    assert_eq!(after["unhandled_events_24h"], 1);
    let text = metrics().await;
    assert!(
        text.contains(r#"stripe_unhandled_events_total{type="customer.discount.created"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"stripe_webhook_total{outcome="applied"} 1"#),
        "{text}"
    );
    assert_eq!(after["outbox"]["pending"], 1);
    // A push pending for more than 5 minutes makes the service degraded.
    h.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(ready().await["status"], "degraded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_applies_what_stripe_has_and_the_webhooks_missed() {
    let (h, base) = harness().await;
    let org = Uuid::now_v7();
    let (status, body) = start_checkout(&h, org, &base).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let session = body["id"].as_str().unwrap().to_owned();
    // Paid in Stripe; no webhook reaches this license-svc.
    let done = stripe(
        "POST",
        &format!("/_config/checkout/sessions/{session}/complete"),
        &[],
    )
    .await;
    let sub = done["subscription"].as_str().unwrap().to_owned();
    assert!(h.entitlement(org).await.is_none());

    let dry = h.svc.reconcile(true).await.unwrap();
    assert_eq!(dry.len(), 1, "{dry:?}");
    assert_eq!(
        (
            dry[0].stored.as_deref(),
            dry[0].stripe.as_str(),
            dry[0].outcome.as_deref()
        ),
        (None, "active", None)
    );
    assert!(
        h.entitlement(org).await.is_none(),
        "a dry run changes nothing"
    );
    let applied = h.svc.reconcile(false).await.unwrap();
    assert_eq!(applied[0].outcome.as_deref(), Some("applied"));
    assert_eq!(h.entitlement(org).await.unwrap().tier, Tier::Team);
    assert!(
        h.svc.reconcile(false).await.unwrap().is_empty(),
        "nothing left to correct"
    );

    stripe("DELETE", &format!("/v1/subscriptions/{sub}"), &[]).await;
    let canceled = h.svc.reconcile(false).await.unwrap();
    assert_eq!(
        (canceled[0].stored.as_deref(), canceled[0].stripe.as_str()),
        (Some("active"), "canceled")
    );
    assert_eq!(h.entitlement(org).await.unwrap().tier, Tier::Community);
}
