//! The Stripe client against the real localstripe peer (with the checkout shim): product →
//! price → customer → checkout session → "the customer paid" → the subscription as the webhook
//! code will fetch it. Start the peer with `scripts/peers start`; `STRIPE_API_BASE` overrides
//! its address (default http://127.0.0.1:8420). These tests fail, never skip, without it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;

use license_service::config::Secret;
use license_service::stripe_api::{CheckoutParams, StripeClient, StripeError};
use reqwest::Url;
use serde_json::Value;

const KEY: &str = "sk_test_license_svc";

fn base() -> Url {
    let raw = std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| "http://127.0.0.1:8420".into());
    Url::parse(&raw).expect("STRIPE_API_BASE is a URL")
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

/// Panics with the way out when localstripe is not running.
async fn localstripe() -> StripeClient {
    let url = base().join("v1/customers?limit=1").unwrap();
    let reachable = {
        license_service::install_tls_provider();
        reqwest::Client::new()
    }
    .get(url)
    .bearer_auth(KEY)
    .send()
    .await
    .map(|r| r.status().is_success());
    match reachable {
        Ok(true) => {}
        other => panic!(
            "localstripe is not reachable at {} ({other:?}): run `scripts/peers start` \
             (or set STRIPE_API_BASE)",
            base()
        ),
    }
    StripeClient::new(base(), Secret::new(KEY)).unwrap()
}

/// What the service never creates itself (prices live in the Stripe dashboard): made directly.
async fn raw_post(path: &str, form: &[(&str, &str)]) -> Value {
    let response = {
        license_service::install_tls_provider();
        reqwest::Client::new()
    }
    .post(base().join(path).unwrap())
    .bearer_auth(KEY)
    .header("Content-Type", "application/x-www-form-urlencoded")
    .body(serde_urlencoded::to_string(form).unwrap())
    .send()
    .await
    .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn monthly_price() -> String {
    let product = raw_post("v1/products", &[("name", &unique("Team"))]).await;
    let price = raw_post(
        "v1/prices",
        &[
            ("product", product["id"].as_str().unwrap()),
            ("unit_amount", "1500"),
            ("currency", "usd"),
            ("recurring[interval]", "month"),
        ],
    )
    .await;
    price["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn checkout_to_an_active_subscription_with_its_metadata() {
    let stripe = localstripe().await;
    let price = monthly_price().await;
    let org_id = unique("org");
    let meta = BTreeMap::from([
        ("org_id".to_owned(), org_id.clone()),
        ("kind".to_owned(), "saas".to_owned()),
    ]);

    let email = format!("{}@example.com", unique("owner"));
    let customer = stripe
        .create_customer(&email, Some("Acme"), &meta, Some(&unique("idem-cus")))
        .await
        .unwrap();
    assert!(customer.starts_with("cus_"), "{customer}");

    let params = CheckoutParams {
        customer: customer.clone(),
        price: price.clone(),
        quantity: 1,
        client_reference_id: Some(org_id.clone()),
        success_url: "http://127.0.0.1:8000/settings/billing?checkout=success".into(),
        cancel_url: "http://127.0.0.1:8000/settings/billing?checkout=cancel".into(),
        metadata: meta.clone(),
        trial_period_days: Some(14),
        idempotency_key: unique("idem-cs"),
    };
    let session = stripe.create_checkout_session(&params).await.unwrap();
    assert!(session.id.starts_with("cs_"), "{}", session.id);
    assert!(session.url.starts_with("http"), "{}", session.url);

    let open = stripe.get_checkout_session(&session.id).await.unwrap();
    assert_eq!(open["status"], "open");
    assert_eq!(open["customer"], customer.as_str());
    assert_eq!(open["client_reference_id"], org_id.as_str());
    assert_eq!(open["metadata"]["org_id"], org_id.as_str());

    // The test hook: the customer paid on the hosted page.
    let done = raw_post(
        &format!("_config/checkout/sessions/{}/complete", session.id),
        &[],
    )
    .await;
    let sub_id = done["subscription"].as_str().unwrap().to_owned();
    assert_eq!(
        stripe.get_checkout_session(&session.id).await.unwrap()["status"],
        "complete"
    );

    let sub = stripe.get_subscription(&sub_id).await.unwrap();
    assert_eq!(sub["id"], sub_id.as_str());
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer"], customer.as_str());
    assert_eq!(sub["metadata"]["org_id"], org_id.as_str());
    assert_eq!(sub["metadata"]["kind"], "saas");
    // localstripe speaks the 2017 API: the price is the item's plan.
    assert_eq!(sub["items"]["data"][0]["plan"]["id"], price.as_str());

    let listed = stripe.list_subscriptions(&customer).await.unwrap();
    let ids: Vec<&str> = listed.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, [sub_id.as_str()]);

    let invoice_id = sub["latest_invoice"].as_str().expect("latest_invoice");
    let invoice = stripe.get_invoice(invoice_id).await.unwrap();
    assert_eq!(invoice["subscription"], sub_id.as_str());
    assert_eq!(invoice["status"], "paid");
}

#[tokio::test]
async fn a_customer_without_subscriptions_lists_none() {
    let stripe = localstripe().await;
    let customer = stripe
        .create_customer("nobody@example.com", None, &BTreeMap::new(), None)
        .await
        .unwrap();
    assert!(
        stripe
            .list_subscriptions(&customer)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn refusals_are_permanent_and_carry_stripes_message() {
    let stripe = localstripe().await;
    let e = stripe
        .get_subscription("sub_does_not_exist")
        .await
        .unwrap_err();
    assert!(!e.is_transient() && e.is_not_found(), "{e:?}");
    assert!(e.to_string().contains("Not Found"), "{e}");

    let params = CheckoutParams {
        customer: "cus_missing".into(),
        price: "price_missing".into(),
        quantity: 1,
        client_reference_id: None,
        success_url: "http://127.0.0.1:8000/ok".into(),
        cancel_url: "http://127.0.0.1:8000/cancel".into(),
        metadata: BTreeMap::new(),
        trial_period_days: None,
        idempotency_key: unique("idem"),
    };
    let e = stripe.create_checkout_session(&params).await.unwrap_err();
    assert!(
        matches!(e, StripeError::Rejected { status: 404, .. }),
        "{e:?}"
    );

    // A key localstripe does not accept (not sk_…): 401, permanent, and the key is not echoed.
    let wrong = StripeClient::new(base(), Secret::new("pk_test_wrong_kind")).unwrap();
    let e = wrong.get_invoice("in_x").await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    assert!(!e.is_transient());
    assert!(!format!("{e} {e:?}").contains("pk_test_wrong_kind"));
}

#[tokio::test]
async fn an_unreachable_stripe_is_transient() {
    // Port 9 (discard) is closed on loopback: connection refused.
    let stripe =
        StripeClient::new(Url::parse("http://127.0.0.1:9").unwrap(), Secret::new(KEY)).unwrap();
    let e = stripe.get_subscription("sub_x").await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(e.status(), None);
    assert!(!e.to_string().contains(KEY));
}
