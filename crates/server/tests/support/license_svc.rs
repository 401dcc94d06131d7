//! A tiny stand-in for license-svc's `/v1` routes (billing spec §5) on a loopback port: it
//! checks every request's `Authorization` with the real `license::service_auth::verify` (and
//! refuses a replayed nonce, like license-svc's step 4), records what ops sent, and answers what
//! the test configured.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use license::service_auth::{Keys, Scope};
use serde_json::{Value, json};

/// The ops service key the stub trusts.
pub const KID: &str = "ops-test-1";
/// Its secret (≥ 32 bytes).
pub const SECRET: &[u8] = b"an ops test secret of at least 32 bytes";

/// One request as ops sent it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub request_id: Option<String>,
}

/// What the stub answers and what it saw.
#[derive(Debug)]
pub struct StubState {
    pub checkout: (u16, Value),
    pub portal: (u16, Value),
    /// `GET /v1/entitlements/{org}` by org id; unknown orgs get 404 `unknown_org`.
    pub entitlements: HashMap<String, (u16, Value)>,
    pub seen: Vec<Seen>,
    /// Requests refused for their signature or a replayed nonce.
    pub refused: u32,
    nonces: HashSet<String>,
}

/// The running stub.
#[derive(Clone)]
pub struct Stub {
    pub url: String,
    pub state: Arc<Mutex<StubState>>,
}

impl Stub {
    /// Starts the stub on a free loopback port.
    pub async fn start() -> Stub {
        let state = Arc::new(Mutex::new(StubState {
            checkout: (
                201,
                json!({"id": "cs_test_1", "url": "https://checkout.stripe.test/c/pay/cs_test_1"}),
            ),
            portal: (
                201,
                json!({"url": "https://billing.stripe.test/p/session/bps_1"}),
            ),
            entitlements: HashMap::new(),
            seen: Vec::new(),
            refused: 0,
            nonces: HashSet::new(),
        }));
        let router = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Stub { url, state }
    }

    /// The ops billing settings that reach this stub with `secret`.
    pub fn config_with(&self, secret: &[u8]) -> app::billing::BillingConfig {
        app::billing::BillingConfig::new(&self.url, KID, secret).unwrap()
    }

    /// The ops billing settings that reach this stub.
    pub fn config(&self) -> app::billing::BillingConfig {
        self.config_with(SECRET)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn refused(&self) -> u32 {
        self.state.lock().unwrap().refused
    }

    pub fn set_checkout(&self, status: u16, body: Value) {
        self.state.lock().unwrap().checkout = (status, body);
    }

    pub fn set_portal(&self, status: u16, body: Value) {
        self.state.lock().unwrap().portal = (status, body);
    }

    /// What `GET /v1/entitlements/{org}` answers.
    pub fn set_entitlement(&self, org: &str, status: u16, body: Value) {
        self.state
            .lock()
            .unwrap()
            .entitlements
            .insert(org.to_owned(), (status, body));
    }
}

/// A billing summary body as license-svc sends it.
pub fn summary(org: &str, tier: &str, token: Option<&str>, billing: Value) -> Value {
    json!({"org_id": org, "tier": tier, "version": 3, "token": token, "billing": billing})
}

async fn answer(State(state): State<Arc<Mutex<StubState>>>, request: Request) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap();
    let header = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut keys = Keys::default();
    keys.add(KID, SECRET, Scope::Ops).unwrap();
    let now = chrono::Utc::now().timestamp();
    let path = parts.uri.path().to_owned();
    let verified = license::service_auth::verify(
        header,
        &license::service_auth::Request {
            method: parts.method.as_str(),
            path: &path,
            query: parts.uri.query().unwrap_or(""),
            body: &bytes,
        },
        &keys,
        Scope::Ops,
        now,
    );
    let mut s = state.lock().unwrap();
    let fresh = verified
        .as_ref()
        .is_ok_and(|v| s.nonces.insert(v.nonce.clone()));
    if !fresh {
        s.refused += 1;
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized"})),
        );
    }
    s.seen.push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let (status, body) = match (parts.method.as_str(), path.as_str()) {
        ("POST", "/v1/checkout-sessions") => s.checkout.clone(),
        ("POST", "/v1/portal-sessions") => s.portal.clone(),
        ("GET", p) if p.starts_with("/v1/entitlements/") => {
            let org = p.trim_start_matches("/v1/entitlements/");
            s.entitlements
                .get(org)
                .cloned()
                .unwrap_or((404, json!({"error": "unknown_org"})))
        }
        _ => (404, json!({"error": "not_found"})),
    };
    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
}
