//! Test support shared by license-svc's own tests and the process tests of the binary: a
//! complete configuration file with the public test signing keys (feature `testing`).
#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The webhook secret localstripe signs with in the project's tests.
pub const WHSEC: &str = "whsec_test";
/// The ops service key the tests sign `/v1` requests with.
pub const OPS_KID: &str = "ops-test-1";
/// Its secret.
pub const OPS_SECRET: &str = "ops-test-secret-0123456789abcdef0123456789";
/// The ops comp key (manual tiers only).
pub const OPS_COMP_KID: &str = "ops-comp-test-1";
/// Its secret.
pub const OPS_COMP_SECRET: &str = "ops-comp-test-secret-0123456789abcdef0123";
/// The admin tooling key.
pub const ADMIN_KID: &str = "admin-test-1";
/// Its secret.
pub const ADMIN_SECRET: &str = "admin-test-secret-0123456789abcdef01234567";
/// The deployment id of the ops receiver.
pub const DEPLOYMENT: &str = "saas-test";
/// The SaaS team price.
pub const TEAM: &str = "price_team_monthly";
/// The SaaS enterprise price.
pub const ENTERPRISE: &str = "price_enterprise_yearly";

/// Writes a test signing key as a 0600 PKCS#8 file; returns its path.
pub fn write_key(dir: &Path, name: &str, seed_hex: &str) -> String {
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

/// The configuration file of a test license-svc: `team_monthly` is the id of the SaaS team
/// monthly price (localstripe makes its own ids); `extra` is appended (more prices).
pub fn config_toml(
    dir: &Path,
    stripe_base: &str,
    receiver_url: &str,
    team_monthly: &str,
    extra: &str,
) -> String {
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
[auth.ops_comp_keys]
{OPS_COMP_KID} = "{OPS_COMP_SECRET}"
[auth.admin_keys]
{ADMIN_KID} = "{ADMIN_SECRET}"
[outbox]
base = "100ms"
cap = "2s"
dead_after = "72h"
[[price]]
id = "{team_monthly}"
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

/// The localstripe peer (`scripts/peers start`): `STRIPE_API_BASE` or 127.0.0.1:8420.
pub fn localstripe() -> String {
    std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| "http://127.0.0.1:8420".to_owned())
}

/// Calls localstripe's API (form-encoded) and returns its JSON; panics with a hint when the
/// peer is not running or refuses the call.
pub async fn stripe(method: &str, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
    crate::install_tls_provider();
    let url = format!("{}{path}", localstripe());
    let resp = reqwest::Client::new()
        .request(method.parse().unwrap(), &url)
        .basic_auth("sk_test_license_svc", Some(""))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("localstripe at {url} is not reachable ({e}); run `scripts/peers start`")
        });
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
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

/// A loopback port nothing listens on right now (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
