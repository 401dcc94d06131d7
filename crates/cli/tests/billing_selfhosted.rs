//! The self-hosted purchase path with real processes (billing spec §12, §15.2 E14): a customer
//! buys in license-svc's portal, pays in localstripe, takes the key from the success page, and
//! a separately started self-hosted ops accepts it for the purchased deployment id and refuses
//! it for another; `dev-health license verify` agrees.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use license_service::testing::{free_port, stripe, stripe_price};
use serde_json::Value;
use support::license_svc::{LicenseSvc, setup_owner};
use support::{Server, run};

/// The key inside the success page's `<textarea id="license-key">`.
fn key_from(page: &str) -> String {
    let start = page
        .find("<textarea id=\"license-key\"")
        .expect("the key is shown");
    let after = &page[start..];
    let open = after.find('>').unwrap() + 1;
    let close = after.find("</textarea>").unwrap();
    after[open..close].trim().to_owned()
}

/// The license status of a fresh self-hosted ops started with `key` as `deployment_id`.
async fn status_of(dir: &std::path::Path, key: &str, deployment_id: &str) -> Value {
    let server = Server::start(
        dir,
        &[],
        &[
            ("DEV_HEALTH_LICENSE", key),
            ("DEV_HEALTH_DEPLOYMENT_ID", deployment_id),
        ],
    );
    let (token, _) = setup_owner(&server).await;
    support::http()
        .get(server.url("/api/v1/license/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_bought_in_the_portal_runs_a_self_hosted_ops_with_its_deployment_id_only() {
    let svc_dir = tempfile::tempdir().unwrap();
    let price = stripe_price("year", "120000").await;
    let team = stripe_price("month", "2900").await;
    let svc_port = free_port();
    let db = format!("sqlite://{}/license-svc.db", svc_dir.path().display());
    // No SaaS ops in this test: the receiver is a closed port.
    let extra = format!(
        "[[price]]\nid = \"{price}\"\ntier = \"enterprise\"\nkind = \"self_hosted\"\ninterval = \"year\"\n"
    );
    let svc = LicenseSvc::start_with(
        svc_dir.path(),
        svc_port,
        &format!("http://127.0.0.1:{}", free_port()),
        &db,
        &team,
        &extra,
    );
    let base = svc.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let form =
        format!("plan={price}&email=it%40acme.example&company=Acme&deployment_ids=self-hosted");
    let r = http
        .post(format!("{base}/portal/checkout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session = location.rsplit('/').next().unwrap().to_owned();
    stripe(
        "POST",
        &format!("/_config/checkout/sessions/{session}/complete"),
        &[],
    )
    .await;

    let page = http
        .get(format!(
            "{base}/portal/checkout/success?session_id={session}"
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let key = key_from(&page.text().await.unwrap());

    let ops_dir = tempfile::tempdir().unwrap();
    let verify = |deployment: &str| {
        run(
            ops_dir.path(),
            &[
                "license",
                "verify",
                &key,
                "--deployment-id",
                deployment,
                "--json",
            ],
            &[],
        )
    };
    let ok = verify("self-hosted");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let refused = verify("elsewhere");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("license_wrong_deployment"));

    let accepted = status_of(ops_dir.path(), &key, "self-hosted").await;
    assert_eq!(
        (
            accepted["state"].as_str(),
            accepted["effective_tier"].as_str()
        ),
        (Some("active"), Some("enterprise")),
        "{accepted}"
    );
    let other_dir = tempfile::tempdir().unwrap();
    let refused = status_of(other_dir.path(), &key, "elsewhere").await;
    assert_eq!(
        (
            refused["effective_tier"].as_str(),
            refused["error"]["code"].as_str()
        ),
        (Some("community"), Some("license_wrong_deployment")),
        "{refused}"
    );

    // license-svc keeps the key, issued once for the paid period.
    let listed = svc.run(svc_dir.path(), &db, &["license", "list"]);
    let rows: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["tier"].as_str(), rows[0]["issued_by"].as_str()),
        (Some("enterprise"), Some("stripe"))
    );
}
