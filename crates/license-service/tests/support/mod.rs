//! In-process license-svc for tests: a fresh database on either backend, a configuration file
//! with the public test signing keys, a manual clock, and helpers that build and sign Stripe
//! events exactly as Stripe does (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`).

#![allow(dead_code)]

use std::path::Path;
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
use serde_json::{Value, json};
use store::Backend;
use store::testing::TestDb;
use tower::ServiceExt;
use uuid::Uuid;

/// The webhook secret localstripe signs with in the project's tests.
pub const WHSEC: &str = "whsec_test";
/// The ops service key the tests sign `/v1` requests with.
pub const OPS_KID: &str = "ops-test-1";
/// Its secret.
pub const OPS_SECRET: &str = "ops-test-secret-0123456789abcdef0123456789";
/// The deployment id of the ops receiver.
pub const DEPLOYMENT: &str = "saas-test";
/// The SaaS team price.
pub const TEAM: &str = "price_team_monthly";
/// The SaaS enterprise price.
pub const ENTERPRISE: &str = "price_enterprise_yearly";

/// A configured license-svc.
pub struct Harness {
    pub svc: Service,
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

fn write_key(dir: &Path, name: &str, seed_hex: &str) -> String {
    let key = license::anchors::signing_key_from_hex(seed_hex).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, license::sign::key_to_pem(&key).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.display().to_string()
}

/// The configuration file of a test license-svc; `extra` is appended (more prices, overrides).
pub fn config_toml(dir: &Path, stripe_base: &str, receiver_url: &str, extra: &str) -> String {
    let lic = write_key(dir, "license.pem", license::anchors::TEST_LICENSE_SEED_HEX);
    let ent = write_key(
        dir,
        "entitlement.pem",
        license::anchors::TEST_ENTITLEMENT_SEED_HEX,
    );
    let receiver_base = receiver_url
        .strip_suffix("/api/v1/license/webhook")
        .unwrap_or(receiver_url);
    format!(
        r#"
database_url = "sqlite://{dir}/unused.db"
public_base_url = "http://127.0.0.1:8090"
dunning_grace = "7d"
trial_grace = "1d"
[stripe]
api_base = "{stripe_base}"
secret_key = "sk_test_license_svc"
webhook_secrets = ["{WHSEC}"]
[signing.license]
kid = "dh-test-license-1"
key_file = "{lic}"
[signing.entitlement]
kid = "dh-test-entitlement-1"
key_file = "{ent}"
[[ops.receivers]]
deployment_id = "{DEPLOYMENT}"
url = "{receiver_url}"
public_base_url = "{receiver_base}"
[auth.ops_keys]
{OPS_KID} = "{OPS_SECRET}"
[auth.admin_keys]
admin-test-1 = "admin-test-secret-0123456789abcdef01234567"
[outbox]
base = "100ms"
cap = "2s"
dead_after = "72h"
[[price]]
id = "{TEAM}"
tier = "team"
kind = "saas"
interval = "month"
trial_days = 14
[[price]]
id = "price_team_yearly"
tier = "team"
kind = "saas"
interval = "year"
[[price]]
id = "price_enterprise_monthly"
tier = "enterprise"
kind = "saas"
interval = "month"
[[price]]
id = "{ENTERPRISE}"
tier = "enterprise"
kind = "saas"
interval = "year"
[price.limits]
users = -1
[[price]]
id = "price_selfhosted_team_yearly"
tier = "team"
kind = "self_hosted"
interval = "year"
{extra}
"#,
        dir = dir.display()
    )
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
        Harness::with_prices(backend, stripe_base, receiver_url, "").await
    }

    /// [`Harness::new`] with more configuration appended (prices made in localstripe).
    pub async fn with_prices(
        backend: Backend,
        stripe_base: &str,
        receiver_url: &str,
        extra: &str,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let toml = config_toml(dir.path(), stripe_base, receiver_url, extra);
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
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
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

/// The localstripe peer (`scripts/peers start`): `STRIPE_API_BASE` or 127.0.0.1:8420.
pub fn localstripe() -> String {
    std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| "http://127.0.0.1:8420".to_owned())
}

/// Calls localstripe's API (form-encoded) and returns its JSON; fails the test with a hint
/// when the peer is not running.
pub async fn stripe(method: &str, path: &str, form: &[(&str, &str)]) -> Value {
    license_service::install_tls_provider();
    let url = format!("{}{path}", localstripe());
    let req = reqwest::Client::new()
        .request(method.parse().unwrap(), &url)
        .basic_auth("sk_test_license_svc", Some(""))
        .form(form);
    let resp = req.send().await.unwrap_or_else(|e| {
        panic!("localstripe at {url} is not reachable ({e}); run `scripts/peers start`")
    });
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

/// A recurring price in localstripe; returns its id.
pub async fn stripe_price(interval: &str, amount: &str) -> String {
    let product = stripe("POST", "/v1/products", &[("name", "Dev Health")]).await;
    let price = stripe(
        "POST",
        "/v1/prices",
        &[
            ("product", product["id"].as_str().unwrap()),
            ("unit_amount", amount),
            ("currency", "usd"),
            ("recurring[interval]", interval),
        ],
    )
    .await;
    price["id"].as_str().unwrap().to_owned()
}
