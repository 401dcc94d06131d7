//! Shared harness of the identity test suites: a router over a fresh database with a manual
//! clock, JSON calls with a distinct client IP each (so per-IP buckets only matter where a test
//! wants them), and helpers that create owners and members through the public API.
#![allow(dead_code)]

pub mod browser;
pub mod license_svc;
pub mod logs;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use domain::{Clock, ManualClock, OrgId, Role, Tier, UserId};
use serde_json::{Value, json};
use store::testing::TestDb;
use tower::ServiceExt;

/// The public URL of the test server.
pub const PUBLIC: &str = "http://127.0.0.1:8000";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Env {
    pub router: Router,
    pub app: app::App,
    pub clock: Arc<ManualClock>,
    next_ip: Arc<AtomicU32>,
}

/// The deployment id of the test server (SaaS mode: each org's plan is a pushed entitlement).
pub const DEPLOYMENT: &str = "saas-test";

/// SaaS settings on the test deployment.
pub fn saas() -> app::entitlements::EntitlementConfig {
    app::entitlements::EntitlementConfig::new(app::entitlements::Mode::Saas, DEPLOYMENT, None)
        .unwrap()
}

pub fn env(db: &TestDb) -> Env {
    env_with(db, saas())
}

/// A test server with the given entitlement settings (e.g. a self-hosted license).
pub fn env_with(db: &TestDb, entitlements: app::entitlements::EntitlementConfig) -> Env {
    env_billing(db, entitlements, None)
}

/// A test server that reaches license-svc with `billing` (see `license_svc::Stub`).
pub fn env_billing(
    db: &TestDb,
    entitlements: app::entitlements::EntitlementConfig,
    billing: Option<app::billing::BillingConfig>,
) -> Env {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let mut app = app::App::new(
        db.store.clone(),
        clock.clone(),
        app::identity::IdentityConfig::ephemeral(PUBLIC),
    )
    .with_entitlements(entitlements);
    if let Some(billing) = billing {
        app = app.with_billing(billing).unwrap();
    }
    let router = server::build(app.clone(), server::ServerConfig::default()).0;
    Env {
        router,
        app,
        clock,
        next_ip: Arc::new(AtomicU32::new(1)),
    }
}

/// A second replica over the same database, keys and clock (a second `serve` process).
pub fn replica(env: &Env, db: &TestDb) -> Env {
    let app = app::App::new(
        db.store.clone(),
        env.clock.clone(),
        env.app.identity_config().clone(),
    )
    .with_entitlements(saas());
    let router = server::build(app.clone(), server::ServerConfig::default()).0;
    Env {
        router,
        app,
        clock: env.clock.clone(),
        next_ip: Arc::new(AtomicU32::new(100_000)),
    }
}

/// A second replica with its own entitlement settings.
pub fn replica_with(
    env: &Env,
    db: &TestDb,
    entitlements: app::entitlements::EntitlementConfig,
) -> Env {
    let app = app::App::new(
        db.store.clone(),
        env.clock.clone(),
        env.app.identity_config().clone(),
    )
    .with_entitlements(entitlements);
    let router = server::build(app.clone(), server::ServerConfig::default()).0;
    Env {
        router,
        app,
        clock: env.clock.clone(),
        next_ip: Arc::new(AtomicU32::new(200_000)),
    }
}

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// How to call.
#[derive(Debug, Clone, Default)]
pub struct Call<'a> {
    pub bearer: Option<&'a str>,
    pub body: Option<Value>,
    pub ip: Option<[u8; 4]>,
    pub raw: Option<(&'a str, &'a str)>,
    pub headers: Vec<(&'a str, String)>,
}

impl Env {
    pub async fn call(&self, method: Method, path: &str, call: Call<'_>) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = call.bearer {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        let body = match (call.raw, call.body) {
            (Some((content_type, raw)), _) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Body::from(raw.to_owned())
            }
            (None, Some(v)) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            (None, None) => Body::empty(),
        };
        let mut request = builder.body(body).unwrap();
        let ip = call.ip.unwrap_or_else(|| {
            let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
            [10, (n >> 16) as u8, (n >> 8) as u8, n as u8]
        });
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), 4 << 20).await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Answer {
        self.with_body(Method::POST, path, bearer, body).await
    }

    pub async fn put(&self, path: &str, bearer: Option<&str>, body: Value) -> Answer {
        self.with_body(Method::PUT, path, bearer, body).await
    }

    async fn with_body(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Value,
    ) -> Answer {
        self.call(
            method,
            path,
            Call {
                bearer,
                body: Some(body),
                ..Call::default()
            },
        )
        .await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        self.call(
            Method::GET,
            path,
            Call {
                bearer,
                ..Call::default()
            },
        )
        .await
    }

    pub async fn delete(&self, path: &str, bearer: Option<&str>) -> Answer {
        self.call(
            Method::DELETE,
            path,
            Call {
                bearer,
                ..Call::default()
            },
        )
        .await
    }

    pub async fn patch(&self, path: &str, bearer: Option<&str>, body: Value) -> Answer {
        self.with_body(Method::PATCH, path, bearer, body).await
    }

    /// The `link` of the newest unsent mail of `template` to `email`, and its token.
    pub async fn mailed_token(&self, email: &str, template: &str) -> String {
        let mails = self.app.pending_mail(email).await.unwrap();
        let mail = mails
            .iter()
            .rev()
            .find(|m| m.template == template)
            .unwrap_or_else(|| panic!("no {template} mail to {email}: {mails:?}"));
        let link = mail.payload["link"].as_str().unwrap();
        link.split("token=").nth(1).unwrap().to_owned()
    }

    /// Runs the first-run setup: the owner (a platform admin) of a new org.
    pub async fn setup(&self, email: &str) -> Session {
        let a = self
            .post(
                "/api/v1/setup",
                None,
                json!({"email": email, "password": PASSWORD, "name": "Owner", "org_name": "Acme"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
        Session::from(&a.body)
    }

    /// Signs in.
    pub async fn login(&self, email: &str) -> Session {
        let a = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        Session::from(&a.body)
    }

    /// Invites `email` into the inviter's org with `role` and accepts as a new account.
    pub async fn add_member(&self, inviter: &Session, email: &str, role: Role) -> Session {
        let a = self
            .post(
                "/api/v1/org/invites",
                Some(&inviter.access),
                json!({"email": email, "role": role.as_str()}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
        let token = self.mailed_token(email, "invite").await;
        let a = self
            .post(
                "/api/v1/invites/accept",
                None,
                json!({"token": token, "name": "Member", "password": PASSWORD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        Session::from(&a.body)
    }

    /// A second org with its own owner (an existing user gets another org through the CLI
    /// path, as no API creates orgs yet).
    pub async fn other_org_owner(&self, db: &TestDb, email: &str) -> Session {
        let mut c = db.store.acquire().await.unwrap();
        let org = OrgId::new();
        store::identity::orgs::insert(&mut c.conn(), org, "Other", "other-org", chrono::Utc::now())
            .await
            .unwrap();
        drop(c);
        self.app
            .create_user(app::identity::NewUserInput {
                email: email.into(),
                password: PASSWORD.into(),
                name: Some("Other owner".into()),
                org_slug: Some("other-org".into()),
                role: Some(Role::Owner),
                platform_admin: false,
            })
            .await
            .unwrap();
        self.login(email).await
    }

    /// Creates an API token for `session` with `scopes`.
    pub async fn token(&self, session: &Session, name: &str, scopes: &[&str]) -> String {
        let a = self
            .post(
                "/api/v1/org/api-tokens",
                Some(&session.access),
                json!({"name": name, "scopes": scopes}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
        a.body["token"].as_str().unwrap().to_owned()
    }
}

/// A license key signed with the public test license key (`dh-test-license-1`), for
/// `deployment` ("self-hosted" on a default install), valid from `iat` to `exp` (Unix seconds).
pub fn test_license(tier: Tier, iat: i64, exp: i64, grace_days: i64, deployment: &str) -> String {
    let key =
        license::anchors::signing_key_from_hex(license::anchors::TEST_LICENSE_SEED_HEX).unwrap();
    let payload = json!({
        "iss": license::claims::ISSUER, "sub": "cus_test", "jti": uuid::Uuid::now_v7().to_string(),
        "iat": iat, "exp": exp, "tier": tier.as_str(), "features": {}, "limits": {},
        "deployment_ids": [deployment], "grace_days": grace_days,
    });
    license::sign::sign(&payload, "dh-test-license-1", &key)
}

/// Self-hosted settings with `DEV_HEALTH_LICENSE` holding `token` (or unset).
pub fn self_hosted(token: Option<String>) -> app::entitlements::EntitlementConfig {
    app::entitlements::EntitlementConfig::new(
        app::entitlements::Mode::SelfHosted,
        "self-hosted",
        token.map(app::entitlements::LicenseSetting::Value),
    )
    .unwrap()
}

/// The claims of an entitlement for `org` on the test deployment (license-svc's shape), for
/// tests to adjust before signing.
pub fn entitlement_claims(org: &str, tier: Tier, iat: i64, exp: i64) -> Value {
    json!({
        "iss": license::claims::ISSUER, "sub": org, "jti": uuid::Uuid::now_v7().to_string(),
        "iat": iat, "exp": exp, "tier": tier.as_str(), "features": {}, "limits": {},
        "deployment_ids": [DEPLOYMENT], "grace_days": 7,
    })
}

/// Signs `claims` with the public test entitlement key (`dh-test-entitlement-1`), as
/// license-svc signs a push.
pub fn sign_entitlement(claims: &Value) -> String {
    let key = license::anchors::signing_key_from_hex(license::anchors::TEST_ENTITLEMENT_SEED_HEX)
        .unwrap();
    license::sign::sign(claims, "dh-test-entitlement-1", &key)
}

/// A fresh `iat` for a push: later than every earlier one of this test process (a newer push
/// must carry a later iat) and within a minute of the test clock.
pub fn next_iat(env: &Env) -> i64 {
    static LAST_IAT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = env.clock.now().timestamp();
    let next = |last: i64| last.max(now - 60) + 1;
    next(
        LAST_IAT
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| Some(next(l)))
            .unwrap(),
    )
}

/// Gives the org `tier` the way production does: an entitlement signed with the test
/// entitlement key, accepted through the same service the license-service push uses.
pub async fn set_tier(env: &Env, org: OrgId, tier: Tier) {
    let now = env.clock.now().timestamp();
    let claims = entitlement_claims(&org.to_string(), tier, next_iat(env), now + 365 * 86_400);
    let token = sign_entitlement(&claims);
    assert!(
        matches!(
            env.app.accept_entitlement(&token).await.unwrap(),
            app::entitlements::Accepted::Applied { .. }
        ),
        "entitlement applied"
    );
}

/// A digest of every identity table, to prove a refused request changed nothing.
pub async fn digest(db: &TestDb) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in [
        "users",
        "organizations",
        "memberships",
        "sessions",
        "refresh_tokens",
        "api_tokens",
        "invites",
        "one_time_tokens",
        "email_outbox",
        "jobs",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let mut c = db.store.acquire().await.unwrap();
        let n: i64 = store::on_conn!(&mut c.conn(), c => store::sqlx::query_scalar(store::sqlx::AssertSqlSafe(sql)).fetch_one(&mut *c).await).unwrap();
        out.push((table.to_owned(), n));
    }
    out
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: UserId,
    pub org_id: Option<OrgId>,
}

impl From<&Value> for Session {
    fn from(v: &Value) -> Self {
        Session {
            access: v["access_token"].as_str().unwrap().to_owned(),
            refresh: v["refresh_token"].as_str().unwrap().to_owned(),
            user_id: v["user"]["id"].as_str().unwrap().parse().unwrap(),
            org_id: v["org"]["id"].as_str().map(|s| s.parse().unwrap()),
        }
    }
}
