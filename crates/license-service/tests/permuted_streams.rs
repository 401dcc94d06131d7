//! Property test over HTTP on PostgreSQL (billing spec §15.3, integration variant): random valid
//! subscription lifecycles for one org, delivered in order to one org and permuted, duplicated
//! and concurrent (4 at a time) to a twin org, end in the same entitlement (P1); delivering the
//! whole stream again changes nothing and pushes nothing (P2, P3); `iat` strictly increases per
//! org (P5).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::StatusCode;
use futures::StreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use support::*;
use uuid::Uuid;

/// One event of a generated stream.
#[derive(Debug, Clone)]
struct Ev {
    sub: usize,
    created: i64,
    status: &'static str,
    price: &'static str,
    cancel: bool,
}

fn next_statuses(s: &str) -> &'static [&'static str] {
    match s {
        "incomplete" => &["active", "incomplete_expired"],
        "trialing" => &["active", "paused", "canceled"],
        "active" => &["past_due", "active", "canceled"],
        "past_due" => &["active", "unpaid", "canceled"],
        "unpaid" | "paused" => &["canceled"],
        _ => &[],
    }
}

/// 1–3 subscriptions, each a valid lifecycle of 1–5 events; `created` strictly increases per
/// subscription with random equal-second ties across subscriptions.
fn streams() -> impl Strategy<Value = Vec<Ev>> {
    let one = (
        prop::sample::select(vec!["incomplete", "trialing", "active"]),
        prop::collection::vec((0usize..3, any::<bool>(), any::<bool>(), 0i64..3), 0..5),
    );
    prop::collection::vec(one, 1..=3).prop_map(|subs| {
        let mut out = Vec::new();
        for (i, (start, steps)) in subs.into_iter().enumerate() {
            let mut status: &'static str = start;
            let mut created = 1_000 + i as i64;
            let mut price = TEAM;
            out.push(Ev {
                sub: i,
                created,
                status,
                price,
                cancel: false,
            });
            for (pick, enterprise, cancel, gap) in steps {
                let next = next_statuses(status);
                if next.is_empty() {
                    break;
                }
                status = next[pick % next.len()];
                price = if enterprise { ENTERPRISE } else { price };
                created += 1 + gap;
                out.push(Ev {
                    sub: i,
                    created,
                    status,
                    price,
                    cancel,
                });
            }
        }
        out
    })
}

/// `now` is taken once per case: both orgs' streams must carry the same period end, however
/// long the in-order deliveries take.
fn body(now: i64, org: Uuid, tag: &str, n: usize, e: &Ev) -> Vec<u8> {
    let mut sub = subscription(
        &format!("sub_{tag}{}", e.sub),
        org,
        e.status,
        e.price,
        now + 40 * 86_400,
    );
    sub["cancel_at_period_end"] = json!(e.cancel);
    let kind = if e.status == "canceled" {
        "customer.subscription.deleted"
    } else {
        "customer.subscription.updated"
    };
    event(
        &format!("evt_{tag}{n}"),
        kind,
        now - 10_000 + e.created,
        &sub,
    )
}

#[test]
fn permuted_duplicated_concurrent_streams_reach_the_in_order_entitlement() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = streams().prop_flat_map(|evs| {
        let n = evs.len();
        (
            Just(evs),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            prop::collection::vec(1usize..=3, n),
        )
    });
    runner
        .run(&strategy, |(evs, order, copies)| {
            rt.block_on(check(evs, order, copies));
            Ok(())
        })
        .unwrap();
}

async fn check(evs: Vec<Ev>, order: Vec<usize>, copies: Vec<usize>) {
    let h = Harness::new(
        store::Backend::Postgres,
        &closed_port(),
        &format!("{}/api/v1/license/webhook", closed_port()),
    )
    .await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let now = h.now();
    // In order, once each.
    for (n, e) in evs.iter().enumerate() {
        assert_eq!(h.deliver(&body(now, a, "a", n, e)).await.0, StatusCode::OK);
    }
    // Permuted, 1–3 copies each, four at a time.
    let deliveries: Vec<Vec<u8>> = order
        .iter()
        .flat_map(|&n| std::iter::repeat_n(body(now, b, "b", n, &evs[n]), copies[n]))
        .collect();
    let answers: Vec<StatusCode> = futures::stream::iter(deliveries.iter())
        .map(|d| async { h.deliver(d).await.0 })
        .buffer_unordered(4)
        .collect()
        .await;
    assert!(answers.iter().all(|s| *s == StatusCode::OK), "{answers:?}");

    let (ea, eb) = (
        h.entitlement(a).await.unwrap(),
        h.entitlement(b).await.unwrap(),
    );
    let signed = |e: &license_service::db::entitlements::EntRow| {
        (
            e.tier,
            e.features.clone(),
            e.limits.clone(),
            e.exp,
            e.grace_days,
            e.billing["status"].clone(),
        )
    };
    assert_eq!(signed(&ea), signed(&eb), "P1: {evs:?} in order {order:?}");

    // P2/P3: the whole stream again changes nothing and pushes nothing.
    let pushes = h.outbox().await.len();
    for d in &deliveries {
        assert_eq!(h.deliver(d).await.1, json!({"duplicate": true}));
    }
    assert_eq!(h.outbox().await.len(), pushes);
    assert_eq!(signed(&h.entitlement(b).await.unwrap()), signed(&eb));

    // P5: per org, iat strictly increases in outbox order.
    for org in [a, b] {
        let iats: Vec<i64> = h
            .outbox()
            .await
            .iter()
            .filter(|r| r.org_id == org)
            .map(|r| r.iat)
            .collect();
        assert!(iats.windows(2).all(|w| w[0] < w[1]), "{iats:?}");
    }
}
