//! In-process license-svc for tests: a fresh database on either backend, a configuration file
//! with the public test signing keys, a manual clock, and helpers that build and sign Stripe
//! events exactly as Stripe does (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`).

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use domain::clock::ManualClock;
use http_body_util::BodyExt;
use license_service::config::Config;
use license_service::db::{entitlements, outbox};
use license_service::service::Service;
use license_service::testing::config_toml;
use serde_json::{Value, json};
use store::Backend;
use store::testing::TestDb;
use tower::ServiceExt;
use uuid::Uuid;

pub use license_service::testing::*;

/// A configured license-svc.
pub struct Harness {
    pub svc: Service,
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

/// A point in time the tests start from.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

impl Harness {
    /// A license-svc whose Stripe API is `stripe_base` (a closed port makes every
    /// `customer.subscription.*` event fall back to its own object) and whose ops receiver is
    /// `receiver_url`.
    pub async fn new(backend: Backend, stripe_base: &str, receiver_url: &str) -> Harness {
        Harness::with_prices(backend, stripe_base, receiver_url, TEAM, "").await
    }

    /// [`Harness::new`] with the team monthly price `team` and more configuration appended
    /// (prices made in localstripe).
    pub async fn with_prices(
        backend: Backend,
        stripe_base: &str,
        receiver_url: &str,
        team: &str,
        extra: &str,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let toml = config_toml(dir.path(), stripe_base, receiver_url, team, extra);
        let file = dir.path().join("license-svc.toml");
        std::fs::write(&file, toml).unwrap();
        let config = Config::load_with_env(Some(&file), |_| None).unwrap();
        let db = TestDb::license_svc(backend).await;
        let clock = Arc::new(ManualClock::new(t0()));
        let svc = Service::new(db.store.clone(), config, clock.clone()).unwrap();
        let router = license_service::http::router(svc.clone());
        Harness {
            svc,
            db,
            clock,
            router,
            _dir: dir,
        }
    }

    /// Now, on the harness clock (Unix seconds).
    pub fn now(&self) -> i64 {
        use domain::Clock;
        self.clock.now().timestamp()
    }

    /// A signed `Stripe-Signature` for `body` at `t`.
    pub fn signature(&self, body: &[u8], t: i64) -> String {
        license_service::stripe_signature::sign(WHSEC.as_bytes(), t, body)
    }

    /// POSTs a delivery to `/webhooks/stripe`.
    pub async fn deliver_raw(&self, body: &[u8], signature: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::post("/webhooks/stripe").header("content-type", "application/json");
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body.to_vec())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Signs `body` now and delivers it.
    pub async fn deliver(&self, body: &[u8]) -> (StatusCode, Value) {
        let sig = self.signature(body, self.now());
        self.deliver_raw(body, Some(&sig)).await
    }

    /// The stored outcome of an event.
    pub async fn outcome(&self, event_id: &str) -> Option<String> {
        let mut c = self.db.store.acquire().await.unwrap();
        license_service::db::events::list(&mut c.conn(), None, None, None, 10_000)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.event_id == event_id)
            .map(|e| e.outcome)
    }

    /// Every outbox row, oldest first.
    pub async fn outbox(&self) -> Vec<outbox::Row> {
        let mut c = self.db.store.acquire().await.unwrap();
        let mut rows = outbox::list(&mut c.conn(), None, None, 10_000)
            .await
            .unwrap();
        rows.reverse();
        rows
    }

    /// The org's stored entitlement.
    pub async fn entitlement(&self, org: Uuid) -> Option<entitlements::EntRow> {
        let mut c = self.db.store.acquire().await.unwrap();
        entitlements::get(&mut c.conn(), org).await.unwrap()
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &str) -> i64 {
        let mut c = self.db.store.acquire().await.unwrap();
        let sql = format!("SELECT COUNT(*) FROM {table}");
        store::on_conn!(&mut c.conn(), c => store::sqlx::query_scalar(store::sqlx::AssertSqlSafe(sql.clone())).fetch_one(&mut *c).await).unwrap()
    }
}

/// A subscription object in Stripe's current shape.
pub fn subscription(id: &str, org: Uuid, status: &str, price: &str, period_end: i64) -> Value {
    json!({
        "id": id, "object": "subscription", "customer": format!("cus_{id}"), "status": status,
        "cancel_at_period_end": false, "current_period_end": period_end, "trial_end": null,
        "items": {"data": [{"price": {"id": price}}]},
        "metadata": {"org_id": org.to_string(), "kind": "saas"},
    })
}

/// An event envelope around `object`.
pub fn event(id: &str, kind: &str, created: i64, object: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "id": id, "object": "event", "type": kind, "created": created, "livemode": false,
        "api_version": "2017-08-15", "data": {"object": object},
    }))
    .unwrap()
}

/// A loopback URL nothing listens on (Stripe "unreachable").
pub fn closed_port() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// Declares each `async fn name(h: &Harness) { … }` as `name::sqlite` and `name::postgres`, each
/// with a fresh license-svc whose Stripe API and ops receiver are closed ports.
#[macro_export]
macro_rules! both {
    ($( $(#[$meta:meta])* async fn $name:ident($h:ident : &Harness) $body:block )+) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let h = Harness::new(store::Backend::Sqlite, &closed_port(),
                    &format!("{}/api/v1/license/webhook", closed_port())).await;
                let $h = &h;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let h = Harness::new(store::Backend::Postgres, &closed_port(),
                    &format!("{}/api/v1/license/webhook", closed_port())).await;
                let $h = &h;
                $body
            }
        }
    )+};
}

/// The payload of a signed token (read only: tests check what license-svc signed).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

impl Harness {
    /// Sends an HMAC-signed `/v1` request (billing spec §6.1) with `kid`/`secret`; returns the
    /// status and JSON body. `nonce` lets a test replay one.
    pub async fn signed(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        (kid, secret): (&str, &str),
        nonce: Option<&str>,
    ) -> (StatusCode, Value) {
        use base64::Engine;
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let fresh =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Uuid::now_v7().as_bytes());
        let nonce = nonce.map_or(fresh, str::to_owned);
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let auth = license::service_auth::authorization(
            kid,
            secret.as_bytes(),
            &license::service_auth::Request {
                method,
                path: p,
                query: q,
                body: bytes.as_bytes(),
            },
            self.now(),
            &nonce,
        );
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", auth)
            .header("content-type", "application/json")
            .header("x-request-id", Uuid::now_v7().to_string())
            .body(Body::from(bytes))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// The ops key.
pub const OPS: (&str, &str) = (OPS_KID, OPS_SECRET);
/// The ops comp key.
pub const OPS_COMP: (&str, &str) = (OPS_COMP_KID, OPS_COMP_SECRET);
/// The admin key.
pub const ADMIN: (&str, &str) = (ADMIN_KID, ADMIN_SECRET);
