//! Benchmark of the entitlement gate (run: `cargo run --release -p app --example
//! bench_entitlements`; `scripts/bench` runs it too). Prints each cost with a baseline measured
//! in the same run, never asserting a time:
//! - a cached `require` against the least any cache can do (a mutex-guarded map lookup);
//! - `license::verify` of a real token against the bare Ed25519 `verify_strict` of its bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use app::entitlements::{EntitlementConfig, Mode};
use domain::{Feature, OrgId, SystemClock};
use ed25519_dalek::{Signature, SigningKey};
use license::{Anchor, Expect, Purpose};
use serde_json::json;

mod support;

const KID: &str = "bench-entitlement-1";

fn per_op(start: Instant, n: u32) -> f64 {
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let anchors: &'static [Anchor] = Box::leak(Box::new([Anchor {
        kid: KID,
        purpose: Purpose::Entitlement,
        key: key.verifying_key(),
    }]));
    let dir = tempfile::tempdir().unwrap();
    let (store, org) = support::sqlite_with_org(dir.path()).await;
    let mut config = EntitlementConfig::new(Mode::Saas, "saas-bench", None).unwrap();
    config.anchors = anchors;
    let app = app::App::new(
        store,
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    )
    .with_entitlements(config);
    let now = chrono::Utc::now().timestamp();
    let token = license::sign::sign(
        &json!({"iss": license::claims::ISSUER, "sub": org.to_string(), "jti": uuid::Uuid::now_v7().to_string(),
            "iat": now, "exp": now + 365 * 86_400, "tier": "team", "features": {}, "limits": {},
            "deployment_ids": ["saas-bench"], "grace_days": 7}),
        KID,
        &key,
    );
    assert!(matches!(
        app.accept_entitlement(&token).await.unwrap(),
        app::entitlements::Accepted::Applied { .. }
    ));
    app.require(org, Feature::CapacityPlanning).await.unwrap();

    // 1. Cached gate vs a plain cache lookup.
    let n = 1_000_000;
    let baseline: Mutex<HashMap<OrgId, Arc<[bool; 16]>>> =
        Mutex::new(HashMap::from([(org, Arc::new([true; 16]))]));
    let start = Instant::now();
    for _ in 0..n {
        let hit = baseline.lock().unwrap().get(black_box(&org)).cloned();
        black_box(hit.unwrap()[7]);
    }
    let base_ns = per_op(start, n);
    let start = Instant::now();
    for _ in 0..n {
        black_box(
            app.require(black_box(org), Feature::CapacityPlanning)
                .await
                .is_ok(),
        );
    }
    let gate_ns = per_op(start, n);
    println!(
        "cached require: {gate_ns:.0} ns/check (target < 1000); map lookup baseline {base_ns:.0} ns; ratio {:.2}",
        gate_ns / base_ns
    );

    // 2. Full verification pipeline vs the bare signature check.
    let n = 20_000;
    let expect = Expect {
        purpose: Purpose::Entitlement,
        deployment_id: "saas-bench",
        subject: None,
        at: now,
    };
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig: [u8; 64] =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
            .unwrap()
            .try_into()
            .unwrap();
    let signature = Signature::from_bytes(&sig);
    let vk = key.verifying_key();
    let start = Instant::now();
    for _ in 0..n {
        black_box(
            vk.verify_strict(black_box(input.as_bytes()), &signature)
                .is_ok(),
        );
    }
    let sig_us = per_op(start, n) / 1000.0;
    let start = Instant::now();
    for _ in 0..n {
        black_box(license::verify(black_box(&token), anchors, &[], &expect).is_ok());
    }
    let verify_us = per_op(start, n) / 1000.0;
    println!(
        "license::verify: {verify_us:.1} µs/token; bare Ed25519 verify_strict {sig_us:.1} µs; ratio {:.2}",
        verify_us / sig_us
    );
}
