use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use domain::{Feature, Limit, LimitValue, Tier};
use ed25519_dalek::SigningKey;
use license::service_auth::Scope;

use super::*;

const OPS_SECRET: &str = "ops-secret-0123456789abcdef0123456789";
const ADMIN_SECRET: &str = "admin-secret-0123456789abcdef012345678";
const STRIPE_KEY: &str = "sk_test_file_key";
const WHSEC: &str = "whsec_file";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        f.key_file("license.pem", 1, 0o600);
        f.key_file("entitlement.pem", 2, 0o600);
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn key_file(&self, name: &str, seed: u8, mode: u32) -> PathBuf {
        let path = self.path(name);
        let pem = license::sign::key_to_pem(&SigningKey::from_bytes(&[seed; 32])).unwrap();
        std::fs::write(&path, pem).unwrap();
        set_mode(&path, mode);
        path
    }

    /// A complete, valid file.
    fn toml(&self) -> String {
        format!(
            r#"
public_base_url = "https://billing.example.com"

[stripe]
secret_key = "{STRIPE_KEY}"
webhook_secrets = ["{WHSEC}"]

[signing.license]
kid = "lic-1"
key_file = "{lic}"

[signing.entitlement]
kid = "ent-1"
key_file = "{ent}"

[[ops.receivers]]
deployment_id = "saas-eu"
url = "https://ops.example.com/api/v1/license/webhook"
public_base_url = "https://ops.example.com"

[auth.ops_keys]
ops-1 = "{OPS_SECRET}"

[auth.admin_keys]
admin-1 = "{ADMIN_SECRET}"

[[price]]
id = "price_team_month"
tier = "team"
kind = "saas"
interval = "month"
trial_days = 14
[price.limits]
users = -1
[price.features]
capacity_planning = true

[[price]]
id = "price_ent_year"
tier = "enterprise"
kind = "self_hosted"
interval = "year"
"#,
            lic = self.path("license.pem").display(),
            ent = self.path("entitlement.pem").display(),
        )
    }

    fn load(&self, toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let file = self.path("license-svc.toml");
        std::fs::write(&file, toml).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load_with_env(Some(&file), |name| env.get(name).cloned())
    }

    /// Loads `toml` with `from` replaced by `to` (which must occur) and expects a refusal.
    fn refuse(&self, from: &str, to: &str) -> ConfigError {
        let base = self.toml();
        assert!(base.contains(from), "fixture lacks {from:?}");
        self.load(&base.replacen(from, to, 1), &[]).unwrap_err()
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

#[track_caller]
fn assert_refusal(e: &ConfigError, key: &str, words: &str) {
    assert_eq!(e.key, key, "{e}");
    assert!(e.problem.contains(words), "{e}");
    assert!(!e.to_string().contains('\n'), "one line: {e}");
}

#[test]
fn a_complete_file_loads_with_the_spec_defaults() {
    let f = Fixture::new();
    let c = f.load(&f.toml(), &[]).unwrap();
    assert_eq!(
        c.database_url,
        DatabaseUrl::parse("sqlite://data/license-svc.db").unwrap()
    );
    assert_eq!(c.listen.to_string(), "127.0.0.1:8090");
    assert_eq!(c.public_base_url.as_str(), "https://billing.example.com/");
    assert_eq!(c.stripe.api_base.as_str(), "https://api.stripe.com/");
    assert_eq!(c.stripe.secret_key.expose(), STRIPE_KEY);
    assert_eq!(c.stripe.webhook_secrets.len(), 1);
    assert_eq!(c.stripe.tolerance_s, 300);
    assert_eq!(c.signing.license.kid, "lic-1");
    assert_eq!(
        c.signing.entitlement.key.to_bytes(),
        SigningKey::from_bytes(&[2; 32]).to_bytes()
    );
    assert_eq!(c.ops.receivers[0].deployment_id, "saas-eu");
    assert_eq!(c.dunning_grace, Duration::from_secs(7 * 86_400));
    assert_eq!(c.trial_grace, Duration::from_secs(86_400));
    assert_eq!(
        c.outbox,
        OutboxConfig {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            dead_after: Duration::from_secs(72 * 3600),
        }
    );
    assert_eq!(c.graces().trial_days, 1);
    assert_eq!(c.graces().dunning, chrono::Duration::days(7));
    // The service keys verify a request signed with the configured secret.
    let r = license::service_auth::Request {
        method: "GET",
        path: "/v1/entitlements/x",
        query: "",
        body: b"",
    };
    let header = license::service_auth::authorization(
        "ops-1",
        OPS_SECRET.as_bytes(),
        &r,
        100,
        "AAECAwQFBgcICQoLDA0ODw",
    );
    assert!(license::service_auth::verify(&header, &r, &c.auth, Scope::Ops, 100).is_ok());
    assert!(license::service_auth::verify(&header, &r, &c.auth, Scope::Admin, 100).is_err());
}

#[test]
fn the_price_map_answers_by_id_and_by_checkout_slot() {
    let f = Fixture::new();
    let c = f.load(&f.toml(), &[]).unwrap();
    let team = c.prices.by_id("price_team_month").unwrap();
    assert_eq!(
        (team.tier, team.kind, team.interval, team.trial_days),
        (Tier::Team, Kind::Saas, Interval::Month, Some(14))
    );
    assert_eq!(team.limits[&Limit::Users], LimitValue::Unlimited);
    assert!(team.features[&Feature::CapacityPlanning]);
    assert!(c.prices.by_id("price_unknown").is_none());
    let ent = c
        .prices
        .checkout_price(Tier::Enterprise, Kind::SelfHosted, Interval::Year)
        .unwrap();
    assert_eq!(ent.id, "price_ent_year");
    assert!(ent.limits.is_empty() && ent.features.is_empty() && ent.trial_days.is_none());
    assert!(
        c.prices
            .checkout_price(Tier::Enterprise, Kind::Saas, Interval::Year)
            .is_none()
    );
    assert_eq!(c.prices.len(), 2);
}

#[test]
fn a_retired_price_stays_mapped_but_is_not_sold() {
    let f = Fixture::new();
    let toml = format!(
        "{}\n[[price]]\nid = \"price_team_month_2019\"\ntier = \"team\"\nkind = \"saas\"\ninterval = \"month\"\ncheckout = false\n",
        f.toml()
    );
    let c = f.load(&toml, &[]).unwrap();
    assert_eq!(
        c.prices.by_id("price_team_month_2019").unwrap().tier,
        Tier::Team
    );
    assert_eq!(
        c.prices
            .checkout_price(Tier::Team, Kind::Saas, Interval::Month)
            .unwrap()
            .id,
        "price_team_month"
    );
}

#[test]
fn environment_variables_override_the_file() {
    let f = Fixture::new();
    let env_ops =
        "ops-2=ops-secret-from-env-0123456789abcdef,ops-3=another-env-secret-0123456789abcdef==";
    let c = f
        .load(
            &f.toml(),
            &[
                (ENV_DATABASE_URL, "postgres://ls:pw@db.internal/license"),
                (ENV_STRIPE_SECRET_KEY, "sk_test_from_env"),
                (ENV_STRIPE_WEBHOOK_SECRETS, " whsec_new , whsec_old ,"),
                (ENV_OPS_KEYS, env_ops),
                (
                    ENV_OPS_COMP_KEYS,
                    "comp-1=comp-secret-from-env-0123456789abcdef",
                ),
            ],
        )
        .unwrap();
    assert!(matches!(c.database_url, DatabaseUrl::Postgres(_)));
    assert_eq!(c.stripe.secret_key.expose(), "sk_test_from_env");
    let secrets: Vec<&str> = c
        .stripe
        .webhook_secrets
        .iter()
        .map(Secret::expose)
        .collect();
    assert_eq!(secrets, ["whsec_new", "whsec_old"]);
    // The env list replaces the file's table: ops-1 is gone, ops-2 and ops-3 work.
    let r = license::service_auth::Request {
        method: "POST",
        path: "/v1/checkout-sessions",
        query: "",
        body: b"{}",
    };
    let nonce = "AAECAwQFBgcICQoLDA0ODw";
    let sign = |kid: &str, secret: &str| {
        license::service_auth::authorization(kid, secret.as_bytes(), &r, 5, nonce)
    };
    let verify = |h: &str, scope| license::service_auth::verify(h, &r, &c.auth, scope, 5);
    assert!(verify(&sign("ops-1", OPS_SECRET), Scope::Ops).is_err());
    assert!(
        verify(
            &sign("ops-2", "ops-secret-from-env-0123456789abcdef"),
            Scope::Ops
        )
        .is_ok()
    );
    assert!(
        verify(
            &sign("ops-3", "another-env-secret-0123456789abcdef=="),
            Scope::Ops
        )
        .is_ok()
    );
    assert!(
        verify(
            &sign("comp-1", "comp-secret-from-env-0123456789abcdef"),
            Scope::OpsComp
        )
        .is_ok()
    );
    // The file's admin key was not overridden.
    assert!(verify(&sign("admin-1", ADMIN_SECRET), Scope::Admin).is_ok());
    // An empty variable counts as unset.
    let c = f.load(&f.toml(), &[(ENV_STRIPE_SECRET_KEY, "  ")]).unwrap();
    assert_eq!(c.stripe.secret_key.expose(), STRIPE_KEY);
}

#[test]
fn secrets_only_in_the_environment_are_enough() {
    let f = Fixture::new();
    let toml = f
        .toml()
        .replace(&format!("secret_key = \"{STRIPE_KEY}\"\n"), "")
        .replace(&format!("webhook_secrets = [\"{WHSEC}\"]\n"), "")
        .replace(&format!("[auth.ops_keys]\nops-1 = \"{OPS_SECRET}\"\n"), "")
        .replace(
            &format!("[auth.admin_keys]\nadmin-1 = \"{ADMIN_SECRET}\"\n"),
            "",
        );
    assert!(f.load(&toml, &[]).is_err());
    let c = f
        .load(
            &toml,
            &[
                (ENV_STRIPE_SECRET_KEY, "rk_live_restricted"),
                (ENV_STRIPE_WEBHOOK_SECRETS, "whsec_a"),
                (ENV_OPS_KEYS, &format!("ops-1={OPS_SECRET}")),
                (ENV_ADMIN_KEYS, &format!("admin-1={ADMIN_SECRET}")),
            ],
        )
        .unwrap();
    assert_eq!(c.stripe.secret_key.expose(), "rk_live_restricted");
}

#[test]
fn debug_output_never_shows_a_secret() {
    let f = Fixture::new();
    let c = f
        .load(
            &f.toml(),
            &[(ENV_DATABASE_URL, "postgres://ls:dbpassword@db/license")],
        )
        .unwrap();
    let debug = format!("{c:?}");
    let seed_hex = hex::encode([1u8; 32]);
    for secret in [
        STRIPE_KEY,
        WHSEC,
        OPS_SECRET,
        ADMIN_SECRET,
        "dbpassword",
        seed_hex.as_str(),
        "[1, 1, 1, 1",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(debug.contains("lic-1") && debug.contains("[redacted]"));
}

#[test]
fn the_file_must_exist_and_unknown_keys_are_refused() {
    let f = Fixture::new();
    let missing = f.path("nope.toml");
    let e = Config::load_with_env(Some(&missing), |_| None).unwrap_err();
    assert_refusal(&e, "config file", "does not exist");

    let e = f.refuse("[stripe]\n", "[stripe]\napi_bsae = \"x\"\n");
    assert_refusal(&e, "stripe.api_bsae", "unknown field");
    let e = f.refuse("public_base_url", "public_url = \"x\"\npublic_base_url");
    assert!(e.problem.contains("public_url"), "{e}");
    let e = f.refuse("trial_days = 14", "trial_days = 14\ncolour = \"red\"");
    assert!(e.problem.contains("colour"), "{e}");
}

#[test]
fn top_level_settings_are_checked() {
    let f = Fixture::new();
    let e = f.refuse(
        "public_base_url = \"https://billing.example.com\"",
        "database_url = \"mysql://x\"\npublic_base_url = \"https://billing.example.com\"",
    );
    assert_refusal(&e, "database_url", "unsupported database URL");
    let e = f.refuse(
        "public_base_url = \"https://billing.example.com\"",
        "listen = \"localhost\"\npublic_base_url = \"https://billing.example.com\"",
    );
    assert_refusal(&e, "listen", "is not an address");
    let e = f.refuse("public_base_url = \"https://billing.example.com\"", "");
    assert_refusal(&e, "public_base_url", "is required");
    let e = f.refuse(
        "\"https://billing.example.com\"",
        "\"ftp://billing.example.com\"",
    );
    assert_refusal(&e, "public_base_url", "http(s)");
    let e = f.refuse("\"https://billing.example.com\"", "\"billing.example.com\"");
    assert_refusal(&e, "public_base_url", "is not a URL");
    let e = f.refuse(
        "\"https://billing.example.com\"",
        "\"https://billing.example.com/?x=1\"",
    );
    assert_refusal(&e, "public_base_url", "query");
}

#[test]
fn durations_are_checked() {
    let f = Fixture::new();
    let with = |line: &str| f.refuse("public_base_url =", &format!("{line}\npublic_base_url ="));
    assert_refusal(
        &with("dunning_grace = \"7 days\""),
        "dunning_grace",
        "is not a duration",
    );
    assert_refusal(&with("trial_grace = \"36h\""), "trial_grace", "whole days");
    let e = f.refuse(
        "[stripe]\n",
        "[outbox]\nbase = \"2m\"\ncap = \"60s\"\n\n[stripe]\n",
    );
    assert_refusal(&e, "outbox", "base <= cap");
    let e = f.refuse(
        "[stripe]\n",
        "[outbox]\ndead_after = \"soon\"\n\n[stripe]\n",
    );
    assert_refusal(&e, "outbox.dead_after", "is not a duration");
    // Shrunk durations, as the end-to-end tests use them.
    let toml = f.toml().replace(
        "[stripe]\n",
        "[outbox]\nbase = \"100ms\"\ncap = \"2s\"\n\n[stripe]\n",
    );
    let toml = format!("dunning_grace = \"10s\"\ntrial_grace = \"0d\"\n{toml}");
    let c = f.load(&toml, &[]).unwrap();
    assert_eq!(c.dunning_grace, Duration::from_secs(10));
    assert_eq!(c.outbox.base, Duration::from_millis(100));
    assert_eq!(c.graces().trial_days, 0);
}

#[test]
fn stripe_settings_are_checked() {
    let f = Fixture::new();
    let e = f.refuse(&format!("secret_key = \"{STRIPE_KEY}\"\n"), "");
    assert_refusal(&e, "stripe.secret_key", "STRIPE_SECRET_KEY");
    let e = f.refuse(STRIPE_KEY, "pk_test_publishable");
    assert_refusal(&e, "stripe.secret_key", "not a Stripe secret key");
    assert!(!e.to_string().contains("pk_test_publishable"));
    let e = f.refuse(&format!("[\"{WHSEC}\"]"), "[]");
    assert_refusal(&e, "stripe.webhook_secrets", "is required");
    let e = f.refuse(&format!("[\"{WHSEC}\"]"), "[\"whsec_a\", \"\"]");
    assert_refusal(&e, "stripe.webhook_secrets", "empty secret");
    let e = f.refuse("[stripe]\n", "[stripe]\ntolerance_s = 0\n");
    assert_refusal(&e, "stripe.tolerance_s", "positive");
    let e = f.refuse("[stripe]\n", "[stripe]\napi_base = \"localhost:8420\"\n");
    assert_refusal(&e, "stripe.api_base", "");
    let e = f.refuse(
        "[stripe]\n",
        "[stripe]\napi_base = \"http://u:p@127.0.0.1:8420\"\n",
    );
    assert_refusal(&e, "stripe.api_base", "credentials");
    // An error in a value that came from the environment says so.
    let e = f
        .load(&f.toml(), &[(ENV_STRIPE_SECRET_KEY, "pk_live_x")])
        .unwrap_err();
    assert_refusal(
        &e,
        "stripe.secret_key",
        "environment variable STRIPE_SECRET_KEY",
    );
}

#[test]
fn signing_keys_are_checked() {
    let f = Fixture::new();
    let e = f.refuse(
        "[signing.license]\nkid = \"lic-1\"",
        "[signing.other]\nkid = \"lic-1\"",
    );
    assert_refusal(&e, "signing.other", "unknown field");
    let toml = f.toml();
    let start = toml.find("[signing.license]").unwrap();
    let end = toml.find("[signing.entitlement]").unwrap();
    let without = format!("{}{}", &toml[..start], &toml[end..]);
    assert_refusal(
        &f.load(&without, &[]).unwrap_err(),
        "signing.license",
        "is required",
    );

    let e = f.refuse("kid = \"lic-1\"", "kid = \" \"");
    assert_refusal(&e, "signing.license.kid", "empty");
    let e = f.refuse("kid = \"ent-1\"", "kid = \"lic-1\"");
    assert_refusal(&e, "signing.entitlement", "its own kid and key");
    let same = f.key_file("same.pem", 1, 0o600);
    let e = f.refuse(
        &f.path("entitlement.pem").display().to_string(),
        &same.display().to_string(),
    );
    assert_refusal(&e, "signing.entitlement", "its own kid and key");

    let e = f.refuse("license.pem", "missing.pem");
    assert_refusal(&e, "signing.license.key_file", "cannot read");
    let not_pem = f.path("not.pem");
    std::fs::write(
        &not_pem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    set_mode(&not_pem, 0o600);
    let e = f.refuse("license.pem", "not.pem");
    assert_refusal(&e, "signing.license.key_file", "not a PKCS#8 PEM Ed25519");
}

#[cfg(unix)]
#[test]
fn a_key_file_readable_by_others_is_refused() {
    let f = Fixture::new();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        set_mode(&f.path("license.pem"), mode);
        let e = f.load(&f.toml(), &[]).unwrap_err();
        assert_refusal(&e, "signing.license.key_file", "chmod 600");
    }
    set_mode(&f.path("license.pem"), 0o400);
    assert!(f.load(&f.toml(), &[]).is_ok());
}

#[test]
fn receivers_are_checked() {
    let f = Fixture::new();
    let e = f.refuse("/api/v1/license/webhook", "/api/v1/license/hook");
    assert_refusal(
        &e,
        "ops.receivers[0].url",
        "must end with /api/v1/license/webhook",
    );
    let e = f.refuse(
        "\"https://ops.example.com/api/v1/license/webhook\"",
        "\"ops.example.com/api/v1/license/webhook\"",
    );
    assert_refusal(&e, "ops.receivers[0].url", "is not a URL");
    let e = f.refuse(
        "public_base_url = \"https://ops.example.com\"",
        "public_base_url = \"mailto:ops@example.com\"",
    );
    assert_refusal(&e, "ops.receivers[0].public_base_url", "http(s)");
    let e = f.refuse("deployment_id = \"saas-eu\"", "deployment_id = \"\"");
    assert_refusal(&e, "ops.receivers[0].deployment_id", "empty");
    let receiver = "[[ops.receivers]]\ndeployment_id = \"saas-eu\"\nurl = \"https://ops.example.com/api/v1/license/webhook\"\npublic_base_url = \"https://ops.example.com\"\n";
    let e = f.refuse(receiver, &format!("{receiver}\n{receiver}"));
    assert_refusal(&e, "ops.receivers[1].deployment_id", "twice");
    let e = f.refuse(receiver, "");
    assert_refusal(&e, "ops.receivers", "saas price");
    // Without a saas price, no receiver is needed (a self-hosted-only service).
    let self_hosted_only = f
        .toml()
        .replace(receiver, "")
        .replace("kind = \"saas\"", "kind = \"self_hosted\"");
    assert!(f.load(&self_hosted_only, &[]).is_ok());
}

#[test]
fn service_keys_are_checked() {
    let f = Fixture::new();
    let e = f.refuse(&format!("[auth.ops_keys]\nops-1 = \"{OPS_SECRET}\"\n"), "");
    assert_refusal(&e, "auth.ops_keys", "is required");
    let e = f.refuse(
        &format!("[auth.admin_keys]\nadmin-1 = \"{ADMIN_SECRET}\"\n"),
        "",
    );
    assert_refusal(&e, "auth.admin_keys", "is required");
    let e = f.refuse(OPS_SECRET, "too-short");
    assert_refusal(&e, "auth.ops_keys.ops-1", "at least 32");
    assert!(!e.to_string().contains("too-short"));
    let e = f.refuse("admin-1 =", "ops-1 =");
    assert_refusal(&e, "auth.admin_keys.ops-1", "configured twice");
    let e = f.refuse("ops-1 =", "\"ops 1\" =");
    assert_refusal(&e, "auth.ops_keys.ops 1", "a kid is");
    let e = f.refuse(
        "[auth.admin_keys]",
        "[auth.ops_comp_keys]\ncomp-1 = \"short\"\n\n[auth.admin_keys]",
    );
    assert_refusal(&e, "auth.ops_comp_keys.comp-1", "at least 32");

    // Malformed environment lists name the entry, never its text.
    let leaked = "a-secret-without-its-kid-0123456789abcdef";
    let e = f
        .load(
            &f.toml(),
            &[(ENV_OPS_KEYS, &format!("ops-9={OPS_SECRET},{leaked}"))],
        )
        .unwrap_err();
    assert_refusal(
        &e,
        "auth.ops_keys",
        "entry 2 of LICENSE_SVC_OPS_KEYS is not kid=secret",
    );
    assert!(!e.to_string().contains(leaked) && !e.to_string().contains(OPS_SECRET));
    let e = f
        .load(
            &f.toml(),
            &[(
                ENV_ADMIN_KEYS,
                &format!("a={ADMIN_SECRET},a={ADMIN_SECRET}"),
            )],
        )
        .unwrap_err();
    assert_refusal(&e, "auth.admin_keys", "repeats the kid \"a\"");
    let e = f
        .load(&f.toml(), &[(ENV_OPS_KEYS, "ops-1=short")])
        .unwrap_err();
    assert_refusal(
        &e,
        "auth.ops_keys.ops-1",
        "environment variable LICENSE_SVC_OPS_KEYS",
    );
}

#[test]
fn prices_are_checked() {
    let f = Fixture::new();
    let e = f.refuse("id = \"price_ent_year\"", "id = \"price_team_month\"");
    assert_refusal(&e, "price[1].id", "configured twice");
    let e = f.refuse("id = \"price_ent_year\"", "id = \" \"");
    assert_refusal(&e, "price[1].id", "Stripe price id");
    let e = f.refuse("tier = \"team\"", "tier = \"gold\"");
    assert_refusal(&e, "price[0].tier", "unknown tier \"gold\"");
    let e = f.refuse("tier = \"team\"", "tier = \"community\"");
    assert_refusal(&e, "price[0].tier", "community is not a sellable tier");
    let e = f.refuse("kind = \"saas\"", "kind = \"cloud\"");
    assert_refusal(&e, "price[0].kind", "unknown kind \"cloud\"");
    let e = f.refuse("interval = \"month\"", "interval = \"week\"");
    assert_refusal(&e, "price[0].interval", "unknown interval \"week\"");
    let e = f.refuse("trial_days = 14", "trial_days = 0");
    assert_refusal(&e, "price[0].trial_days", "between 1 and 730");
    let e = f.refuse("users = -1", "seats = 5");
    assert_refusal(&e, "price[0].limits.seats", "unknown limit \"seats\"");
    let e = f.refuse("users = -1", "users = -2");
    assert_refusal(&e, "price[0].limits.users", "invalid limit value -2");
    let e = f.refuse("capacity_planning = true", "time_travel = true");
    assert_refusal(
        &e,
        "price[0].features.time_travel",
        "unknown feature \"time_travel\"",
    );
    let e = f.refuse("capacity_planning = true", "capacity_planning = \"yes\"");
    assert!(e.key.contains("capacity_planning"), "{e}");
    // Two checkout prices for one (tier, kind, interval).
    let e = f.refuse(
        "id = \"price_ent_year\"\ntier = \"enterprise\"\nkind = \"self_hosted\"\ninterval = \"year\"",
        "id = \"price_team_month_b\"\ntier = \"team\"\nkind = \"saas\"\ninterval = \"month\"",
    );
    assert_refusal(
        &e,
        "price[1]",
        "both the checkout price for team saas per month",
    );
    // No prices at all.
    let toml = f.toml();
    let without = &toml[..toml.find("[[price]]").unwrap()];
    assert_refusal(
        &f.load(without, &[]).unwrap_err(),
        "price",
        "no [[price]] entries",
    );
}

#[test]
fn price_maps_can_be_built_in_code() {
    let price = |id: &str, checkout| Price {
        id: id.into(),
        tier: Tier::Team,
        kind: Kind::Saas,
        interval: Interval::Year,
        trial_days: None,
        limits: BTreeMap::new(),
        features: BTreeMap::new(),
        checkout,
    };
    let map = PriceMap::new([price("a", true), price("b", false)]).unwrap();
    assert_eq!(
        map.checkout_price(Tier::Team, Kind::Saas, Interval::Year)
            .unwrap()
            .id,
        "a"
    );
    assert!(PriceMap::new([price("a", true), price("b", true)]).is_err());
    assert!(PriceMap::new([price("a", false), price("a", false)]).is_err());
}

#[test]
fn the_example_file_is_valid() {
    let f = Fixture::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/license-svc.example.toml");
    let example = std::fs::read_to_string(path).unwrap();
    let example = example
        .replace(
            "/etc/dev-health/keys/dh-license-2026-1.pk8.pem",
            &f.path("license.pem").display().to_string(),
        )
        .replace(
            "/etc/dev-health/keys/dh-entitlement-2026-1.pk8.pem",
            &f.path("entitlement.pem").display().to_string(),
        );
    let c = f
        .load(
            &example,
            &[
                (ENV_STRIPE_SECRET_KEY, STRIPE_KEY),
                (ENV_STRIPE_WEBHOOK_SECRETS, WHSEC),
                (ENV_OPS_KEYS, &format!("ops-2026-1={OPS_SECRET}")),
                (ENV_ADMIN_KEYS, &format!("admin-2026-1={ADMIN_SECRET}")),
            ],
        )
        .unwrap();
    assert_eq!(c.prices.len(), 6);
    assert_eq!(
        c.prices
            .checkout_price(Tier::Team, Kind::Saas, Interval::Month)
            .unwrap()
            .id,
        "price_team_monthly"
    );
}

#[test]
fn a_syntax_error_names_the_line_but_never_echoes_it() {
    let f = Fixture::new();
    let e = f.refuse(&format!("\"{STRIPE_KEY}\""), "\"sk_live_unterminated");
    assert!(!e.to_string().contains("sk_live_unterminated"), "{e}");
    assert!(e.to_string().contains("line"), "{e}");
    assert!(!e.to_string().contains('\n'), "{e}");
    let e = f.refuse(&format!("\"{OPS_SECRET}\""), "987654321");
    assert!(!e.to_string().contains("987654321"), "{e}");
    assert_refusal(&e, "auth.ops_keys.ops-1", "value is not shown");
}
