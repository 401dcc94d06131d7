//! The self-hosted purchase path against localstripe (billing spec §12, §15.2 E14): portal
//! checkout, the browser binding, the key on the success page (before any webhook), and the
//! key's offline validity for its deployment ids only.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use license::{Expect, Purpose};
use support::*;
use tower::ServiceExt;

async fn send(h: &Harness, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = h.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn key_from(page: &str) -> String {
    let start = page.find("<textarea id=\"license-key\"").unwrap();
    let after = &page[start..];
    let open = after.find('>').unwrap() + 1;
    let close = after.find("</textarea>").unwrap();
    after[open..close].trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_purchase_shows_a_key_for_the_purchased_deployments_only() {
    let price = stripe_price("year", "90000").await;
    let extra = format!(
        "[[price]]\nid = \"{price}\"\ntier = \"enterprise\"\nkind = \"self_hosted\"\ninterval = \"year\"\n"
    );
    let h = Harness::with_prices(
        store::Backend::Sqlite,
        &localstripe(),
        &format!("{}/api/v1/license/webhook", closed_port()),
        TEAM,
        &extra,
    )
    .await;
    // Real time: localstripe's periods start now.
    use domain::Clock;
    h.clock.set(domain::clock::SystemClock.now());

    let (status, _, page) = send(&h, Request::get("/portal").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&price), "the plan is offered");

    // Bad input: a clear 422 on the form, nothing created.
    let form = |ids: &str| {
        format!("plan={price}&email=ops%40acme.example&company=Acme&deployment_ids={ids}")
    };
    let bad = Request::post("/portal/checkout")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form("Prod%20East")))
        .unwrap();
    let (status, _, page) = send(&h, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Deployment ids are"), "{page}");
    assert_eq!(h.count("customers").await, 0);

    let req = Request::post("/portal/checkout")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form("self-hosted%2Cstaging")))
        .unwrap();
    let (status, headers, _) = send(&h, req).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers["location"].to_str().unwrap().to_owned();
    let session = location.rsplit('/').next().unwrap().to_owned();
    assert!(session.starts_with("cs_"), "{location}");
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let success = |cookie: Option<&str>| {
        let mut r = Request::get(format!("/portal/checkout/success?session_id={session}"));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.body(Body::empty()).unwrap()
    };
    // Before payment: pending, no key.
    let (status, _, _) = send(&h, success(Some(&cookie))).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    stripe(
        "POST",
        &format!("/_config/checkout/sessions/{session}/complete"),
        &[],
    )
    .await;

    // Another browser (no binding cookie) does not see the key.
    let (status, _, page) = send(&h, success(None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("license-key"));

    let (status, _, page) = send(&h, success(Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let key = key_from(&page);
    let (_, _, again) = send(&h, success(Some(&cookie))).await;
    assert_eq!(
        key_from(&again),
        key,
        "issuance is idempotent per paid period"
    );
    assert_eq!(h.count("licenses").await, 1);

    let at = domain::clock::SystemClock.now().timestamp();
    let expect = |deployment_id| Expect {
        purpose: Purpose::License,
        deployment_id,
        subject: None,
        at,
    };
    let anchors = &license::anchors::test_anchors();
    let ok = license::verify(&key, anchors, &[], &expect("staging")).unwrap();
    assert_eq!(ok.claims.tier, domain::Tier::Enterprise);
    assert_eq!(ok.claims.grace_days, 30);
    assert_eq!(ok.claims.deployment_ids, ["self-hosted", "staging"]);
    let refused = license::verify(&key, anchors, &[], &expect("other")).unwrap_err();
    assert_eq!(refused.code.as_str(), "license_wrong_deployment");
}
