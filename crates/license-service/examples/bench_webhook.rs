//! Benchmark of Stripe webhook ingestion (run: `cargo run --release -p license-service --example
//! bench_webhook [N]`, or `BENCH_WEBHOOK_EVENTS=N`; `scripts/bench` runs it too). Needs the test
//! PostgreSQL server (`TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! For SQLite and PostgreSQL, at concurrency 1 and 4, an in-process license-svc (its router
//! called with `tower::ServiceExt::oneshot`, as the tests' Harness does; the Stripe API is a closed
//! loopback port, so each `customer.subscription.updated` event is applied from its own object;
//! the ops receiver is a closed port too and the outbox worker is not run, so the signed pushes
//! just accumulate) takes N signed events for N distinct orgs and subscriptions, each delivered
//! twice (the second must answer `{"duplicate":true}`). It prints the unique events per second
//! and, as the baseline measured in the same run on a fresh database of the same kind, the rate
//! of the least durable work an event needs: a plain `INSERT INTO stripe_events … ON CONFLICT DO
//! NOTHING` of the same rows, one transaction each, at the same concurrency (the two alternate in
//! five slices of the events). Never asserts a time; it does check that every event was
//! applied once and enqueued one push.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::SystemClock;
use http_body_util::BodyExt;
use license_service::config::Config;
use license_service::db::events::{self, NewEvent};
use license_service::service::Service;
use license_service::testing::{TEAM, WHSEC, config_toml, free_port};
use serde_json::{Value, json};
use store::testing::TestDb;
use store::{Backend, on_conn, sqlx};
use tower::ServiceExt;
use uuid::Uuid;

const CONCURRENCY: [usize; 2] = [1, 4];
/// The baseline and the measured work run in this many alternating slices of the events.
const SLICES: usize = 5;

/// One prepared delivery: the raw body, its `Stripe-Signature` and what the baseline stores.
struct Delivery {
    event_id: String,
    sub_id: String,
    created: i64,
    body: Vec<u8>,
    signature: String,
}

fn closed_port() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// N events for N distinct orgs and subscriptions, signed now (Stripe's 300 s tolerance
/// covers the run).
fn deliveries(n: usize, tag: &str) -> Vec<Delivery> {
    let now = chrono::Utc::now().timestamp();
    (0..n)
        .map(|i| {
            let org = Uuid::now_v7();
            let sub_id = format!("sub_bench_{tag}_{i}");
            let event_id = format!("evt_bench_{tag}_{i}");
            let created = now - 60;
            let body = serde_json::to_vec(&json!({
                "id": event_id, "object": "event", "type": "customer.subscription.updated",
                "created": created, "livemode": false, "api_version": "2017-08-15",
                "data": {"object": {
                    "id": sub_id, "object": "subscription", "customer": format!("cus_bench_{tag}_{i}"),
                    "status": "active", "cancel_at_period_end": false,
                    "current_period_end": now + 30 * 86_400, "trial_end": null,
                    "items": {"data": [{"price": {"id": TEAM}}]},
                    "metadata": {"org_id": org.to_string(), "kind": "saas"},
                }},
            }))
            .unwrap();
            let signature = license_service::stripe_signature::sign(WHSEC.as_bytes(), now, &body);
            Delivery {
                event_id,
                sub_id,
                created,
                body,
                signature,
            }
        })
        .collect()
}

/// A license-svc on a fresh database of `backend` (kept alive by the returned parts).
async fn service(backend: Backend) -> (Router, TestDb, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = format!("{}/api/v1/license/webhook", closed_port());
    let file = dir.path().join("license-svc.toml");
    std::fs::write(
        &file,
        config_toml(dir.path(), &closed_port(), &receiver, TEAM, ""),
    )
    .unwrap();
    let config = Config::load_with_env(Some(&file), |_| None).unwrap();
    let db = TestDb::license_svc(backend).await;
    let svc = Service::new(db.store.clone(), config, Arc::new(SystemClock)).unwrap();
    (license_service::http::router(svc), db, dir)
}

async fn post(router: &Router, d: &Delivery) -> (StatusCode, Value) {
    let req = Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", &d.signature)
        .body(Body::from(d.body.clone()))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Runs `work(i)` for every i in `range` on `concurrency` tasks; returns the elapsed time.
async fn run<F, Fut>(range: Range<usize>, concurrency: usize, work: Arc<F>) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(range.start));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let work = work.clone();
            let end = range.end;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    work(i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

/// The baseline's work: the event's row inserted alone in its own write transaction.
fn insert_only(
    store: store::Store,
    batch: Arc<Vec<Delivery>>,
) -> impl Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static {
    move |i| {
        let store = store.clone();
        let batch = batch.clone();
        Box::pin(async move {
            let d = &batch[i];
            let payload = std::str::from_utf8(&d.body).unwrap();
            let mut tx = store.begin_write().await.unwrap();
            let inserted = events::insert(
                &mut tx.conn(),
                &NewEvent {
                    event_id: &d.event_id,
                    kind: "customer.subscription.updated",
                    created: d.created,
                    livemode: false,
                    object_id: Some(&d.sub_id),
                    subscription_id: Some(&d.sub_id),
                    received_at: chrono::Utc::now(),
                    payload,
                },
            )
            .await
            .unwrap();
            assert!(inserted);
            tx.commit().await.unwrap();
        })
    }
}

/// Per-delivery times: (first deliveries, duplicates).
type Timings = Arc<Mutex<(Vec<Duration>, Vec<Duration>)>>;

/// The measured work: the event delivered through the router, then delivered again.
fn deliver_twice(
    router: Router,
    batch: Arc<Vec<Delivery>>,
    timings: Timings,
) -> impl Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static {
    move |i| {
        let router = router.clone();
        let batch = batch.clone();
        let timings = timings.clone();
        Box::pin(async move {
            let d = &batch[i];
            let t = Instant::now();
            let (status, body) = post(&router, d).await;
            let first = t.elapsed();
            assert_eq!(
                (status, &body),
                (StatusCode::OK, &json!({"received": true}))
            );
            let t = Instant::now();
            let (status, body) = post(&router, d).await;
            let dup = t.elapsed();
            assert_eq!(
                (status, &body),
                (StatusCode::OK, &json!({"duplicate": true}))
            );
            let mut g = timings.lock().unwrap();
            g.0.push(first);
            g.1.push(dup);
        })
    }
}

async fn count(db: &TestDb, sql: &'static str) -> i64 {
    let mut c = db.store.acquire().await.unwrap();
    on_conn!(&mut c.conn(), c => sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut *c).await)
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_WEBHOOK_EVENTS").ok())
        .map_or(2000, |s| s.parse().expect("N is a number of events"));
    println!(
        "webhook ingestion: {n} customer.subscription.updated events for {n} orgs, each delivered \
         twice (the second answers duplicate); baseline: INSERT INTO stripe_events … ON CONFLICT \
         DO NOTHING, one transaction per row; {} cores",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        for concurrency in CONCURRENCY {
            let tag = format!("{name}{concurrency}");
            let batch = Arc::new(deliveries(n, &tag));
            let base_db = TestDb::license_svc(backend).await;
            let base_work = Arc::new(insert_only(base_db.store.clone(), batch.clone()));
            let (router, db, _dir) = service(backend).await;
            let timings: Timings = Arc::default();
            let work = Arc::new(deliver_twice(router, batch.clone(), timings.clone()));
            // Alternating slices, so a change in the machine's load or the disk's fsync time
            // during the run falls on both sides of the ratio.
            let (mut base_elapsed, mut elapsed) = (Duration::ZERO, Duration::ZERO);
            for k in 0..SLICES {
                let range = n * k / SLICES..n * (k + 1) / SLICES;
                base_elapsed += run(range.clone(), concurrency, base_work.clone()).await;
                elapsed += run(range, concurrency, work.clone()).await;
            }
            assert_eq!(
                count(&base_db, "SELECT COUNT(*) FROM stripe_events").await,
                n as i64
            );
            let base_rate = n as f64 / base_elapsed.as_secs_f64();
            let rate = n as f64 / elapsed.as_secs_f64();
            let stored = count(&db, "SELECT COUNT(*) FROM stripe_events").await;
            let applied = count(
                &db,
                "SELECT COUNT(*) FROM stripe_events WHERE outcome = 'applied'",
            )
            .await;
            let outbox = count(&db, "SELECT COUNT(*) FROM outbox").await;
            let (mut first, mut dup) = std::mem::take(&mut *timings.lock().unwrap());
            first.sort();
            dup.sort();
            println!(
                "{name:<8} concurrency {concurrency}: {rate:>7.0} events/s ({:.0} deliveries/s); \
                 baseline INSERT one tx each {base_rate:>7.0} rows/s; ratio {:.3}; \
                 first delivery p50 {:.2} ms p99 {:.2} ms, duplicate p50 {:.2} ms p99 {:.2} ms; \
                 stored events {stored} (applied {applied}), outbox rows {outbox}",
                2.0 * rate,
                rate / base_rate,
                percentile(&first, 0.5),
                percentile(&first, 0.99),
                percentile(&dup, 0.5),
                percentile(&dup, 0.99),
            );
            assert_eq!(stored, n as i64, "one stored event per unique event");
            assert_eq!(applied, n as i64, "every event applied");
            assert_eq!(outbox, n as i64, "one push per org");
        }
    }
}
