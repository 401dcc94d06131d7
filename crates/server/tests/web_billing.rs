//! The billing page `/settings/billing` (billing spec §11) end to end through the real router,
//! as a browser without JavaScript drives it, against a stand-in license-svc that verifies each
//! request's signature: owners see the plan, the status line, limits with usage, Upgrade
//! (team/enterprise × monthly/yearly) and Manage billing, and their forms go to Stripe with a
//! 303 (or `HX-Redirect` for htmx) only with the CSRF token; the UpgradeGate's
//! `?feature=` link lands on the Upgrade button that includes the feature; trial, past-due and
//! cancelling subscriptions have their lines and banners; admins read the page with the owners'
//! names and may Refresh; editors and viewers are refused; an unreachable license-svc leaves
//! the page usable; a self-hosted instance has no billing page.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use domain::{Clock, Role, Tier};
use serde_json::{Value, json};
use store::Backend;
use store::testing::TestDb;
use support::browser::{Browser, Page};
use support::license_svc::{Stub, summary};
use support::{
    Env, entitlement_claims, env_billing, next_iat, saas, self_hosted, set_tier, sign_entitlement,
};

const D: &str = "2026-03-12T00:00:00Z";

/// Signs `email` in through the sign-in form.
async fn signed_in<'a>(env: &'a Env, email: &str, n: u8) -> Browser<'a> {
    Browser::signed_in(&env.router, [10, 2, 0, n], email).await
}

/// The page, with its CSRF token, then a post of `fields` with it.
async fn submit(b: &mut Browser<'_>, action: &str, fields: &[(&str, &str)]) -> Page {
    let page = b.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csrf = page.csrf();
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

fn state(status: &str, cancel: bool) -> Value {
    json!({"status": status, "trial_end": D, "current_period_end": D, "cancel_at_period_end": cancel,
        "past_due_since": "2026-03-01T00:00:00Z", "dunning_ends_at": D})
}

#[tokio::test]
async fn owners_upgrade_through_forms_that_go_to_stripe() {
    let db = TestDb::new(Backend::Sqlite).await;
    let stub = Stub::start().await;
    let env = env_billing(&db, saas(), Some(stub.config()));
    let owner = env.setup("owner@example.com").await;
    env.add_member(&owner, "admin@example.com", Role::Admin)
        .await;
    let mut b = signed_in(&env, "owner@example.com", 1).await;

    let page = b.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(page.has(r#"data-tier="Community""#), "{}", page.html);
    assert!(page.has(r#"data-phase="none""#) && page.has("No subscription"));
    assert!(page.has("<li>users 2 / 3</li>"), "{}", page.html);
    assert!(
        page.has(r#"<a href="/settings/billing">Billing</a>"#),
        "navigation entry"
    );
    for tier in ["team", "enterprise"] {
        assert!(page.has(&format!(r#"data-offer="{tier}""#)), "{tier}");
        assert!(page.has(&format!(r#"name="tier" value="{tier}""#)));
    }
    assert!(page.has("Upgrade to Team — monthly") && page.has(r#"name="interval" value="year""#));
    assert!(
        !page.has(r#"action="/settings/billing/portal""#),
        "no account yet: no Manage billing"
    );

    // The UpgradeGate's link: the feature named, the plan that includes it marked.
    let asked = b.get("/settings/billing?feature=capacity_planning").await;
    assert!(
        asked.has(r#"data-feature="capacity_planning""#),
        "{}",
        asked.html
    );
    assert!(asked.has("Capacity forecast is part of the Team plan."));
    assert!(
        asked.has(r#"data-offer="team" aria-current="true""#)
            && asked.has("Includes Capacity forecast.")
    );
    assert!(
        asked.has(r#"action="/settings/billing/checkout""#),
        "the Upgrade button is there"
    );

    // Without the CSRF token nothing reaches license-svc.
    let forged = b
        .post(
            "/settings/billing/checkout",
            &[("tier", "team"), ("interval", "month")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        !stub
            .seen()
            .iter()
            .any(|s| s.path == "/v1/checkout-sessions")
    );

    let go = submit(
        &mut b,
        "/settings/billing/checkout",
        &[("tier", "team"), ("interval", "year")],
    )
    .await;
    // A page that navigates to Stripe (a 303 across origins would be blocked by the page's
    // `form-action 'self'`).
    assert_eq!(go.status, StatusCode::OK);
    assert!(
        go.html.contains(r#"<meta http-equiv="refresh" content="0; url=https://checkout.stripe.test/c/pay/cs_test_1">"#)
            && go.has("continue to Stripe"),
        "{}",
        go.html
    );
    let sent = stub
        .seen()
        .into_iter()
        .find(|s| s.path == "/v1/checkout-sessions")
        .unwrap();
    assert_eq!(
        (sent.body["tier"].as_str(), sent.body["interval"].as_str()),
        (Some("team"), Some("year"))
    );
    assert_eq!(
        sent.body["success_url"],
        "http://127.0.0.1:8000/settings/billing?checkout=success"
    );

    let page = b.get("/settings/billing").await;
    let csrf = page.csrf();
    let body = serde_urlencoded::to_string([
        ("csrf_token", csrf.as_str()),
        ("tier", "enterprise"),
        ("interval", "month"),
    ])
    .unwrap();
    let htmx = b
        .send_with(
            Method::POST,
            "/settings/billing/checkout",
            Some(body),
            Some(support::PUBLIC),
            &[("hx-request", "true")],
        )
        .await;
    assert_eq!(
        (htmx.status, htmx.header("hx-redirect")),
        (
            StatusCode::OK,
            "https://checkout.stripe.test/c/pay/cs_test_1"
        )
    );

    // Back from Stripe.
    let back = b.get("/settings/billing?checkout=success").await;
    assert!(back.has(r#"id="notice""#) && back.has("the payment went through"));
    let canceled = b.get("/settings/billing?checkout=cancel").await;
    assert!(canceled.has("Checkout was canceled; nothing was charged."));

    // A refusal shows the page again with what to do.
    stub.set_checkout(409, json!({"error": "subscription_exists"}));
    let exists = submit(
        &mut b,
        "/settings/billing/checkout",
        &[("tier", "team"), ("interval", "month")],
    )
    .await;
    assert_eq!(exists.status, StatusCode::CONFLICT);
    assert!(
        exists.has(r#"id="billing-error""#) && exists.has("Manage billing"),
        "{}",
        exists.html
    );
    assert_eq!(stub.refused(), 0);
}

#[tokio::test]
async fn subscriptions_show_their_status_line_banner_and_manage_billing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let stub = Stub::start().await;
    let env = env_billing(&db, saas(), Some(stub.config()));
    let owner = env.setup("owner@example.com").await;
    let org = owner.org_id.unwrap();
    set_tier(&env, org, Tier::Team).await;
    let mut b = signed_in(&env, "owner@example.com", 1).await;
    let cases = [
        (state("active", false), "renews", "Renews 12 Mar 2026", None),
        (
            state("active", true),
            "cancels",
            "Cancels 12 Mar 2026",
            Some("cancels"),
        ),
        (
            state("trialing", false),
            "trialing",
            "Trial ends 12 Mar 2026",
            Some("trial"),
        ),
        (
            state("past_due", false),
            "past_due",
            "Payment failed, update by 12 Mar 2026",
            Some("past_due"),
        ),
    ];
    for (billing, phase, line, banner) in cases {
        stub.set_entitlement(
            &org.to_string(),
            200,
            summary(&org.to_string(), "team", None, billing),
        );
        env.clock.advance(Duration::seconds(61));
        let page = b.get("/settings/billing").await;
        assert!(
            page.has(&format!(r#"data-phase="{phase}">{line}<"#)),
            "{phase}: {}",
            page.html
        );
        assert!(page.has(r#"data-tier="Team""#));
        assert!(
            page.has(r#"action="/settings/billing/portal""#),
            "Manage billing"
        );
        assert!(
            !page.has(r#"action="/settings/billing/checkout""#),
            "plan changes go through the portal"
        );
        match banner {
            Some(code) => assert!(
                page.has(&format!(r#"data-billing-banner="{code}""#)),
                "{phase}"
            ),
            None => assert!(!page.has("data-billing-banner")),
        }
    }
    let past_due = b.get("/settings/billing").await;
    assert!(past_due.has("Payment failed — update your payment method by 12 Mar 2026."));

    let portal = submit(&mut b, "/settings/billing/portal", &[]).await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(
        portal
            .html
            .contains(r#"url=https://billing.stripe.test/p/session/bps_1">"#),
        "{}",
        portal.html
    );
}

#[tokio::test]
async fn admins_read_and_refresh_others_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    let stub = Stub::start().await;
    let env = env_billing(&db, saas(), Some(stub.config()));
    let owner = env.setup("owner@example.com").await;
    let org = owner.org_id.unwrap().to_string();
    env.add_member(&owner, "admin@example.com", Role::Admin)
        .await;
    env.add_member(&owner, "viewer@example.com", Role::Viewer)
        .await;
    let mut admin = signed_in(&env, "admin@example.com", 2).await;
    let mut viewer = signed_in(&env, "viewer@example.com", 3).await;

    let page = admin.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has("Only owners can upgrade or manage billing."));
    assert!(
        page.has(r#"<span class="owner">Owner (owner@example.com)</span>"#),
        "{}",
        page.html
    );
    assert!(
        !page.has(r#"action="/settings/billing/checkout""#)
            && !page.has(r#"action="/settings/billing/portal""#)
    );
    assert!(page.has(r#"action="/settings/billing/refresh""#));
    let refused = submit(
        &mut admin,
        "/settings/billing/checkout",
        &[("tier", "team"), ("interval", "month")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Refresh repairs a lost push.
    let now = env.clock.now().timestamp();
    let token = sign_entitlement(&entitlement_claims(
        &org,
        Tier::Team,
        next_iat(&env),
        now + 30 * 86_400,
    ));
    stub.set_entitlement(
        &org,
        200,
        summary(&org, "team", Some(&token), state("active", false)),
    );
    let done = submit(&mut admin, "/settings/billing/refresh", &[]).await;
    assert_eq!(
        (done.status, done.location()),
        (StatusCode::SEE_OTHER, "/settings/billing?refreshed=applied")
    );
    let after = admin.get(done.location()).await;
    assert!(
        after.has(r#"data-tier="Team""#) && after.has("Refreshed: the latest plan"),
        "{}",
        after.html
    );

    let no = viewer.get("/settings/billing").await;
    assert_eq!(no.status, StatusCode::FORBIDDEN);
    assert!(
        no.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        !viewer
            .get("/")
            .await
            .has(r#"href="/settings/billing">Billing"#)
    );
}

#[tokio::test]
async fn an_unreachable_license_svc_leaves_the_page_usable() {
    let db = TestDb::new(Backend::Sqlite).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let config =
        app::billing::BillingConfig::new(&closed, "ops-test-1", support::license_svc::SECRET)
            .unwrap();
    let env = env_billing(&db, saas(), Some(config));
    env.setup("owner@example.com").await;
    let mut b = signed_in(&env, "owner@example.com", 1).await;
    let page = b.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.has(r#"id="billing-unavailable""#) && page.has("Billing is not reachable right now")
    );
    assert!(
        page.has(r#"action="/settings/billing/checkout""#),
        "Upgrade stays"
    );
    let failed = submit(
        &mut b,
        "/settings/billing/checkout",
        &[("tier", "team"), ("interval", "month")],
    )
    .await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(failed.has(r#"id="billing-error""#), "{}", failed.html);
}

#[tokio::test]
async fn a_self_hosted_instance_has_no_billing_page() {
    let db = TestDb::new(Backend::Sqlite).await;
    let stub = Stub::start().await;
    let env = env_billing(&db, self_hosted(None), Some(stub.config()));
    env.setup("owner@example.com").await;
    let mut b = signed_in(&env, "owner@example.com", 1).await;
    let page = b.get("/settings/billing").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!b.get("/").await.has(r#"href="/settings/billing">Billing"#));
    assert!(stub.seen().is_empty());
}
