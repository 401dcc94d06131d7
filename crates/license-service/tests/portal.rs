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

    // Later visits (§12 step 6): a magic link, once, opens a session with the keys.
    let answer = |email: &str| {
        let body = format!("email={email}");
        Request::post("/portal/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let (s1, _, known) = send(&h, answer("ops%40acme.example")).await;
    let (s2, _, unknown) = send(&h, answer("nobody%40acme.example")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(known, unknown, "no enumeration");
    assert!(
        h.svc
            .portal_login_request("nobody@acme.example")
            .await
            .unwrap()
            .is_empty()
    );
    let links = h
        .svc
        .portal_login_request("OPS@acme.example")
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    let path = links[0]
        .trim_start_matches("http://127.0.0.1:8090")
        .to_owned();
    let (status, headers, _) = send(&h, Request::get(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal/keys")
    );
    let session = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, _) = send(&h, Request::get(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a link works once");

    let get = |p: &str, cookie: Option<&str>| {
        let mut r = Request::get(p);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.body(Body::empty()).unwrap()
    };
    let (status, headers, _) = send(&h, get("/portal/keys", None)).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal#signin")
    );
    let (status, _, page) = send(&h, get("/portal/keys", Some(&session))).await;
    assert_eq!(status, StatusCode::OK);
    let jti = ok.claims.jti.clone();
    assert!(page.contains(&jti), "{page}");
    let (status, _, file) = send(
        &h,
        get(&format!("/portal/keys/{jti}/download"), Some(&session)),
    )
    .await;
    assert_eq!((status, file.trim()), (StatusCode::OK, key.as_str()));

    let post = |p: &str, body: &str, origin: Option<&str>| {
        let mut r = Request::post(p)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &session);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.body(Body::from(body.to_owned())).unwrap()
    };
    let (status, _, _) = send(
        &h,
        post("/portal/deployment-ids", "deployment_ids=prod", None),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no cross-site changes");
    let origin = Some("http://127.0.0.1:8090");
    let (status, _, page) = send(
        &h,
        post("/portal/deployment-ids", "deployment_ids=Prod%21", origin),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let (status, headers, _) = send(
        &h,
        post("/portal/deployment-ids", "deployment_ids=prod", origin),
    )
    .await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal/keys?done=replaced")
    );
    let mut c = h.db.store.acquire().await.unwrap();
    let all = license_service::db::licenses::list(&mut c.conn(), None, None, true)
        .await
        .unwrap();
    drop(c);
    let replacement = all.iter().find(|l| l.status == "active").unwrap();
    assert_eq!(replacement.deployment_ids, ["prod"]);
    assert_eq!(
        all.iter().find(|l| l.jti == jti).unwrap().status,
        "superseded"
    );
    let new_key = replacement.token.clone().unwrap();
    license::verify(&new_key, anchors, &[], &expect("prod")).unwrap();

    let (status, headers, _) = send(&h, post("/portal/billing", "", origin)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers["location"].to_str().unwrap().contains("/_portal/"),
        "{headers:?}"
    );
}
