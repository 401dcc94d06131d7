//! The file as written (`RawConfig`), the environment overrides applied to it, and the checks
//! that turn it into a [`Config`]. Kept apart from the public types so each file stays small.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use license::service_auth::{Keys, Scope};
use reqwest::Url;
use serde::Deserialize;
use store::DatabaseUrl;

use super::price::{self, Kind, PriceMap};
use super::{
    Config, ConfigError, ENV_ADMIN_KEYS, ENV_DATABASE_URL, ENV_OPS_COMP_KEYS, ENV_OPS_KEYS,
    ENV_STRIPE_SECRET_KEY, ENV_STRIPE_WEBHOOK_SECRETS, Ops, OutboxConfig, RECEIVER_PATH, Receiver,
    Secret, Signing, SigningConfig, StripeConfig, duration,
};

/// One line, and never a secret: a TOML syntax error quotes the offending line (which may hold
/// a key), and a wrong type quotes the value; both are dropped, keeping the position and reason.
pub(super) fn figment_error(e: figment::Error) -> ConfigError {
    let key = if e.path.is_empty() {
        "config file".to_owned()
    } else {
        e.path.join(".")
    };
    let secret = ["stripe.secret_key", "stripe.webhook_secrets", "auth."]
        .iter()
        .any(|p| key.starts_with(p));
    let problem = match &e.kind {
        figment::error::Kind::InvalidType(_, expected) if secret => {
            format!("invalid type, expected {expected} (the value is not shown: it is a secret)")
        }
        kind => kind
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains('|'))
            .collect::<Vec<_>>()
            .join(": "),
    };
    ConfigError::new(key, problem)
}

/// The file as written, before checking. No `Debug`: it holds secrets in the clear.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    database_url: String,
    listen: String,
    public_base_url: Option<String>,
    stripe: RawStripe,
    signing: RawSigning,
    ops: RawOps,
    auth: RawAuth,
    dunning_grace: String,
    trial_grace: String,
    outbox: RawOutbox,
    price: Vec<price::RawPrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStripe {
    api_base: String,
    secret_key: Option<String>,
    webhook_secrets: Vec<String>,
    tolerance_s: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSigning {
    license: Option<RawKey>,
    entitlement: Option<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    kid: String,
    key_file: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOps {
    receivers: Vec<RawReceiver>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    deployment_id: String,
    url: String,
    public_base_url: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    ops_keys: BTreeMap<String, String>,
    ops_comp_keys: BTreeMap<String, String>,
    admin_keys: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutbox {
    base: String,
    cap: String,
    dead_after: String,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            database_url: "sqlite://data/license-svc.db".into(),
            listen: "127.0.0.1:8090".into(),
            public_base_url: None,
            stripe: RawStripe::default(),
            signing: RawSigning::default(),
            ops: RawOps::default(),
            auth: RawAuth::default(),
            dunning_grace: "7d".into(),
            trial_grace: "1d".into(),
            outbox: RawOutbox::default(),
            price: Vec::new(),
        }
    }
}

impl Default for RawStripe {
    fn default() -> Self {
        RawStripe {
            api_base: "https://api.stripe.com".into(),
            secret_key: None,
            webhook_secrets: Vec::new(),
            tolerance_s: crate::stripe_signature::TOLERANCE_S,
        }
    }
}

impl Default for RawOutbox {
    fn default() -> Self {
        RawOutbox {
            base: "1s".into(),
            cap: "60s".into(),
            dead_after: "72h".into(),
        }
    }
}

/// Which keys came from which environment variable, so an error can say where to look.
#[derive(Default)]
pub(super) struct Sources(Vec<(&'static str, &'static str)>);

impl Sources {
    pub(super) fn annotate(&self, mut e: ConfigError) -> ConfigError {
        if let Some((_, var)) = self.0.iter().find(|(key, _)| {
            e.key == *key || e.key.strip_prefix(key).is_some_and(|r| r.starts_with('.'))
        }) {
            e.problem = format!("{} (from environment variable {var})", e.problem);
        }
        e
    }
}

impl RawConfig {
    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Sources, ConfigError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut sources = Sources::default();
        if let Some(v) = get(ENV_DATABASE_URL) {
            self.database_url = v;
            sources.0.push(("database_url", ENV_DATABASE_URL));
        }
        if let Some(v) = get(ENV_STRIPE_SECRET_KEY) {
            self.stripe.secret_key = Some(v.trim().to_owned());
            sources.0.push(("stripe.secret_key", ENV_STRIPE_SECRET_KEY));
        }
        if let Some(v) = get(ENV_STRIPE_WEBHOOK_SECRETS) {
            self.stripe.webhook_secrets = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            sources
                .0
                .push(("stripe.webhook_secrets", ENV_STRIPE_WEBHOOK_SECRETS));
        }
        let maps = [
            (ENV_OPS_KEYS, "auth.ops_keys", &mut self.auth.ops_keys),
            (
                ENV_OPS_COMP_KEYS,
                "auth.ops_comp_keys",
                &mut self.auth.ops_comp_keys,
            ),
            (ENV_ADMIN_KEYS, "auth.admin_keys", &mut self.auth.admin_keys),
        ];
        for (var, key, map) in maps {
            if let Some(v) = get(var) {
                *map = parse_key_list(var, key, &v)?;
                sources.0.push((key, var));
            }
        }
        Ok(sources)
    }

    pub(super) fn check(self) -> Result<Config, ConfigError> {
        let database_url = DatabaseUrl::parse(&self.database_url).map_err(|e| {
            ConfigError::new(
                "database_url",
                format!("{e}; use sqlite:PATH or postgres://USER:PASSWORD@HOST:5432/DB"),
            )
        })?;
        let listen = self.listen.trim().parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("{:?} is not an address like 127.0.0.1:8090", self.listen),
            )
        })?;
        let public_base_url = match &self.public_base_url {
            None => {
                return Err(ConfigError::new(
                    "public_base_url",
                    "is required: the customer portal's base URL, e.g. https://billing.example.com",
                ));
            }
            Some(raw) => base_url("public_base_url", raw)?,
        };
        let prices = PriceMap::new(
            self.price
                .into_iter()
                .enumerate()
                .map(|(i, raw)| price::Price::from_raw(i, raw))
                .collect::<Result<Vec<_>, _>>()?,
        )?;
        if prices.is_empty() {
            return Err(ConfigError::new(
                "price",
                "no [[price]] entries: the price map is the only source of tiers",
            ));
        }
        let ops = check_receivers(self.ops.receivers)?;
        if ops.receivers.is_empty() && prices.iter().any(|p| p.kind == Kind::Saas) {
            return Err(ConfigError::new(
                "ops.receivers",
                "is required when a saas price is configured: where entitlements are pushed",
            ));
        }
        let dunning_grace = duration("dunning_grace", &self.dunning_grace)?;
        let trial_grace = duration("trial_grace", &self.trial_grace)?;
        if trial_grace.as_secs() % 86_400 != 0 || trial_grace.subsec_nanos() != 0 {
            return Err(ConfigError::new(
                "trial_grace",
                format!(
                    "{:?} is not whole days: it becomes grace_days in tokens",
                    self.trial_grace
                ),
            ));
        }
        let outbox = OutboxConfig {
            base: duration("outbox.base", &self.outbox.base)?,
            cap: duration("outbox.cap", &self.outbox.cap)?,
            dead_after: duration("outbox.dead_after", &self.outbox.dead_after)?,
        };
        if outbox.base.is_zero() || outbox.cap < outbox.base || outbox.dead_after.is_zero() {
            return Err(ConfigError::new(
                "outbox",
                "needs 0 < base <= cap and dead_after > 0",
            ));
        }
        Ok(Config {
            database_url,
            listen,
            public_base_url,
            stripe: check_stripe(self.stripe)?,
            signing: check_signing(self.signing)?,
            ops,
            auth: check_auth(self.auth)?,
            dunning_grace,
            trial_grace,
            outbox,
            prices,
        })
    }
}

fn duration(key: &str, raw: &str) -> Result<Duration, ConfigError> {
    duration::parse(raw).map_err(|e| ConfigError::new(key, e))
}

/// An absolute http(s) URL without query or fragment: a base other URLs are built on.
fn base_url(key: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = http_url(key, raw)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            key,
            format!("{raw:?} must not have a query or fragment"),
        ));
    }
    Ok(url)
}

fn http_url(key: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| ConfigError::new(key, format!("{raw:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            key,
            format!("{raw:?} is not an http(s) URL with a host"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            key,
            "must not carry credentials; secrets go in their own settings",
        ));
    }
    Ok(url)
}

fn check_stripe(raw: RawStripe) -> Result<StripeConfig, ConfigError> {
    let api_base = base_url("stripe.api_base", &raw.api_base)?;
    let secret_key = match raw.secret_key.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ConfigError::new(
                "stripe.secret_key",
                format!("is required (set {ENV_STRIPE_SECRET_KEY})"),
            ));
        }
        Some(k) if !(k.starts_with("sk_") || k.starts_with("rk_")) => {
            return Err(ConfigError::new(
                "stripe.secret_key",
                "is not a Stripe secret key (sk_… or rk_…); publishable keys (pk_…) cannot call the API",
            ));
        }
        Some(k) => Secret::new(k),
    };
    if raw.webhook_secrets.is_empty() {
        return Err(ConfigError::new(
            "stripe.webhook_secrets",
            format!(
                "is required: the webhook endpoint's signing secrets (set {ENV_STRIPE_WEBHOOK_SECRETS})"
            ),
        ));
    }
    if raw.webhook_secrets.iter().any(|s| s.trim().is_empty()) {
        return Err(ConfigError::new(
            "stripe.webhook_secrets",
            "contains an empty secret",
        ));
    }
    if raw.tolerance_s <= 0 {
        return Err(ConfigError::new(
            "stripe.tolerance_s",
            format!("{} must be a positive number of seconds", raw.tolerance_s),
        ));
    }
    Ok(StripeConfig {
        api_base,
        secret_key,
        webhook_secrets: raw
            .webhook_secrets
            .into_iter()
            .map(|s| Secret::new(s.trim()))
            .collect(),
        tolerance_s: raw.tolerance_s,
    })
}

fn check_signing(raw: RawSigning) -> Result<Signing, ConfigError> {
    let load = |key: &str, raw: Option<RawKey>| match raw {
        None => Err(ConfigError::new(
            key,
            "is required: {kid, key_file} of a PKCS#8 PEM Ed25519 key (dev-health license keygen)",
        )),
        Some(raw) => load_signing_key(key, raw),
    };
    let license = load("signing.license", raw.license)?;
    let entitlement = load("signing.entitlement", raw.entitlement)?;
    if license.kid == entitlement.kid
        || license.key.verifying_key() == entitlement.key.verifying_key()
    {
        return Err(ConfigError::new(
            "signing.entitlement",
            "must use its own kid and key, not signing.license's: each purpose has its own key",
        ));
    }
    Ok(Signing {
        license,
        entitlement,
    })
}

fn load_signing_key(key: &str, raw: RawKey) -> Result<SigningConfig, ConfigError> {
    if raw.kid.trim().is_empty() {
        return Err(ConfigError::new(format!("{key}.kid"), "must not be empty"));
    }
    let at = format!("{key}.key_file");
    let path = raw.key_file;
    let unreadable =
        |e: std::io::Error| ConfigError::new(&at, format!("cannot read {}: {e}", path.display()));
    let meta = std::fs::metadata(&path).map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::new(
                &at,
                format!(
                    "{} is readable by others (mode {mode:04o}); it holds a private key: chmod 600 it",
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let pem = std::fs::read_to_string(&path).map_err(unreadable)?;
    let signing_key = license::sign::key_from_pem(&pem).map_err(|e| {
        ConfigError::new(
            &at,
            format!(
                "{} is not a PKCS#8 PEM Ed25519 private key ({e})",
                path.display()
            ),
        )
    })?;
    Ok(SigningConfig {
        kid: raw.kid.trim().to_owned(),
        key_file: path,
        key: signing_key,
    })
}

fn check_receivers(raw: Vec<RawReceiver>) -> Result<Ops, ConfigError> {
    let mut receivers: Vec<Receiver> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let at = |field: &str| format!("ops.receivers[{i}].{field}");
        let deployment_id = r.deployment_id.trim().to_owned();
        if deployment_id.is_empty() {
            return Err(ConfigError::new(at("deployment_id"), "must not be empty"));
        }
        if receivers.iter().any(|o| o.deployment_id == deployment_id) {
            return Err(ConfigError::new(
                at("deployment_id"),
                format!("{deployment_id:?} is configured twice"),
            ));
        }
        let url = base_url(&at("url"), &r.url)?;
        if !url.path().ends_with(RECEIVER_PATH) {
            return Err(ConfigError::new(
                at("url"),
                format!("{:?} must end with {RECEIVER_PATH}", r.url),
            ));
        }
        let public_base_url = base_url(&at("public_base_url"), &r.public_base_url)?;
        receivers.push(Receiver {
            deployment_id,
            url,
            public_base_url,
        });
    }
    Ok(Ops { receivers })
}

fn check_auth(raw: RawAuth) -> Result<Keys, ConfigError> {
    for (key, map) in [
        ("auth.ops_keys", &raw.ops_keys),
        ("auth.admin_keys", &raw.admin_keys),
    ] {
        if map.is_empty() {
            return Err(ConfigError::new(
                key,
                "is required: at least one {kid = secret} for inbound HMAC requests",
            ));
        }
    }
    let mut keys = Keys::default();
    for (key, map, scope) in [
        ("auth.ops_keys", raw.ops_keys, Scope::Ops),
        ("auth.ops_comp_keys", raw.ops_comp_keys, Scope::OpsComp),
        ("auth.admin_keys", raw.admin_keys, Scope::Admin),
    ] {
        for (kid, secret) in map {
            let at = format!("{key}.{kid}");
            if !valid_kid(&kid) {
                return Err(ConfigError::new(
                    at,
                    "a kid is letters, digits, '.', '_' or '-' (it travels in the Authorization header)",
                ));
            }
            keys.add(&kid, secret.as_bytes(), scope)
                .map_err(|e| ConfigError::new(at, e.to_string()))?;
        }
    }
    Ok(keys)
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `kid=secret,kid=secret`. Errors name the entry by position, never echo it (it may be a
/// secret missing its `kid=`).
fn parse_key_list(
    var: &str,
    key: &str,
    value: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut map = BTreeMap::new();
    for (i, entry) in value.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let bad = |what: &str| ConfigError::new(key, format!("entry {} of {var} {what}", i + 1));
        let (kid, secret) = entry
            .split_once('=')
            .ok_or_else(|| bad("is not kid=secret"))?;
        let (kid, secret) = (kid.trim(), secret.trim());
        if kid.is_empty() || secret.is_empty() {
            return Err(bad("is not kid=secret"));
        }
        if map.insert(kid.to_owned(), secret.to_owned()).is_some() {
            return Err(bad(&format!("repeats the kid {kid:?}")));
        }
    }
    Ok(map)
}
