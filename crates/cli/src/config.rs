//! Configuration: compiled defaults < `dev-health.toml` < environment (`DATABASE_URL`, then
//! `DEV_HEALTH_*`, nested keys joined with `__`, e.g. `DEV_HEALTH_SERVER__BIND`) < command-line
//! flags. Unknown keys are errors, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata};
use serde::{Deserialize, Serialize};
use store::DatabaseUrl;

use crate::error::CliError;

/// Default configuration file, read from the working directory when present.
pub const DEFAULT_FILE: &str = "dev-health.toml";

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database and generated key files live.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`; unset means `sqlite://<data_dir>/dev-health.db`.
    pub database_url: Option<String>,
    /// `self_hosted` (one instance license) or `saas` (per-org entitlements).
    pub mode: Mode,
    /// This instance's deployment id, matched against a license's `deployment_ids`
    /// (`DEV_HEALTH_DEPLOYMENT_ID`).
    pub deployment_id: String,
    /// The license key, or a path to a file holding it (`DEV_HEALTH_LICENSE`; self-hosted only).
    pub license: Option<String>,
    /// HTTP server.
    pub server: ServerSection,
    /// Job runner.
    pub worker: WorkerSection,
    /// Connection pool.
    pub database: DatabaseSection,
    /// Sign-up and sessions.
    pub auth: AuthSection,
    /// The master secret the server's keys are derived from.
    pub secrets: SecretsSection,
    /// Outgoing mail.
    pub mail: MailSection,
    /// How ops reaches license-svc (SaaS).
    pub billing: BillingSection,
    /// Logging.
    pub log: LogSection,
}

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One instance license covers the deployment.
    SelfHosted,
    /// Every org has its own pushed entitlement.
    Saas,
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Listen address.
    pub bind: String,
    /// Externally visible base URL; defaults to `http://<bind>`.
    pub public_url: Option<String>,
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: usize,
    /// Requests running longer are answered 503.
    pub request_timeout_secs: u64,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Proxies (addresses or CIDR blocks) allowed to report the client address.
    pub trusted_proxies: Vec<String>,
    /// How many trusted proxies stand in front (0–5); 0 ignores `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
}

/// `[worker]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSection {
    /// Queue to run.
    pub queue: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Pause between polls of an empty queue.
    pub poll_interval_ms: u64,
    /// Job lease; a dead worker's jobs run again after it.
    pub lease_secs: u64,
    /// First retry delay.
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// How long running jobs may take to finish after SIGTERM before they are released.
    pub shutdown_grace_secs: u64,
    /// Queue the syncs that are due (each source's interval) once a minute.
    pub sync_schedule: bool,
}

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// Pool size.
    pub max_connections: u32,
    /// Wait for a connection (or a SQLite lock) this long before failing.
    pub acquire_timeout_secs: u64,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `RUST_LOG`-style filter, e.g. `info` or `info,sqlx=warn`.
    pub level: String,
    /// `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".dev-health"),
            database_url: None,
            mode: Mode::SelfHosted,
            deployment_id: "self-hosted".into(),
            license: None,
            server: ServerSection::default(),
            worker: WorkerSection::default(),
            database: DatabaseSection::default(),
            auth: AuthSection::default(),
            secrets: SecretsSection::default(),
            mail: MailSection::default(),
            billing: BillingSection::default(),
            log: LogSection::default(),
        }
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            public_url: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            trusted_proxies: Vec::new(),
            trusted_proxy_hops: 0,
        }
    }
}

impl Default for WorkerSection {
    fn default() -> Self {
        Self {
            queue: "default".into(),
            concurrency: 4,
            poll_interval_ms: 500,
            lease_secs: 60,
            backoff_base_ms: 1000,
            backoff_max_ms: 3_600_000,
            shutdown_grace_secs: 20,
            sync_schedule: true,
        }
    }
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout_secs: 5,
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// `open` (anyone may sign up and gets a community org) or `invite_only`.
    pub registration: app::identity::Registration,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            registration: app::identity::Registration::InviteOnly,
        }
    }
}

/// `[secrets]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSection {
    /// Base64 master secret (≥ 32 bytes); also `DEV_HEALTH_SECRETS_KEY`. Without it, a SQLite
    /// install generates `key_file`; PostgreSQL installs must set it.
    pub master_key: Option<String>,
    /// Where a generated key is kept (default `<data_dir>/secret.key`, mode 0600).
    pub key_file: Option<PathBuf>,
    /// Base64 data key (exactly 32 bytes) that seals provider tokens at rest (analytics spec
    /// §3.4); also `DEV_HEALTH_SECRET_KEY`. Unset: tokens are sealed with a key derived from
    /// the master secret (and so from the 0600 key file of a SQLite install).
    pub integration_key: Option<String>,
}

/// `[mail]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// `smtp://[user:pass@]host:port` or `smtps://…`; unset: mail is written to the log and
    /// kept in the outbox (local installs only).
    pub smtp_url: Option<String>,
    /// The From address.
    pub from: String,
}

impl Default for MailSection {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Dev Health <no-reply@localhost>".into(),
        }
    }
}

/// `[billing]` (SaaS): license-svc's private URL and the service key ops signs its requests
/// with (billing spec §6.1). The key can ask for Checkout, portal and entitlement reads, never
/// grant a plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingSection {
    /// license-svc's base URL, e.g. `http://127.0.0.1:8090`; unset: billing answers 503
    /// `billing_not_configured`.
    pub license_svc_url: Option<String>,
    /// The service key id (one of license-svc's `auth.ops_keys`).
    pub key_id: Option<String>,
    /// Its secret (≥ 32 bytes); also `DEV_HEALTH_BILLING_KEY_SECRET`. Never shown or logged.
    pub key_secret: Option<String>,
}

/// Overrides from command-line flags (the highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--bind`.
    pub bind: Option<String>,
}

/// The loaded configuration with the knowledge of where each value came from.
pub struct Loaded {
    /// The values.
    pub config: Config,
    figment: Figment,
    overrides: Overrides,
}

impl Mode {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::SelfHosted => "self_hosted",
            Mode::Saas => "saas",
        }
    }
}

/// Reads the configuration. `file` is `--config`/`DEV_HEALTH_CONFIG`; without it,
/// `dev-health.toml` is read if present.
pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Loaded, CliError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    match file {
        Some(path) if !path.is_file() => {
            return Err(CliError::config(
                format!("configuration file {} does not exist", path.display()),
                "check --config / DEV_HEALTH_CONFIG",
            ));
        }
        Some(path) => figment = figment.merge(Toml::file_exact(path)),
        None if Path::new(DEFAULT_FILE).is_file() => {
            figment = figment.merge(Toml::file_exact(DEFAULT_FILE))
        }
        None => {}
    }
    figment = figment
        .merge(Env::raw().only(&["database_url"]))
        .merge(Env::prefixed("DEV_HEALTH_").split("__").ignore(&[
            "config",
            "secrets_key",
            "secret_key",
            "admin_password",
            "billing_key_secret",
        ]))
        .merge(
            Env::raw()
                .only(&["dev_health_secrets_key"])
                .map(|_| "secrets.master_key".into()),
        )
        .merge(
            Env::raw()
                .only(&["dev_health_secret_key"])
                .map(|_| "secrets.integration_key".into()),
        )
        .merge(
            Env::raw()
                .only(&["dev_health_billing_key_secret"])
                .map(|_| "billing.key_secret".into()),
        );
    if let Some(bind) = &overrides.bind {
        figment = figment.merge(Serialized::default("server.bind", bind));
    }
    let config: Config = figment.extract().map_err(|e| figment_error(&figment, e))?;
    let loaded = Loaded {
        config,
        figment,
        overrides,
    };
    loaded.validate()?;
    Ok(loaded)
}

/// One line naming the problem, the setting and where the value came from.
fn figment_error(figment: &Figment, e: figment::Error) -> CliError {
    let key = e.path.join(".");
    let source = e
        .metadata
        .as_ref()
        .map(|m| describe(m, &e.path))
        .unwrap_or_else(|| {
            figment
                .find_metadata(&key)
                .map(|m| describe(m, &e.path))
                .unwrap_or_default()
        });
    let setting = if key.is_empty() {
        String::new()
    } else {
        format!(" in setting `{key}`")
    };
    let from = if source.is_empty() {
        String::new()
    } else {
        format!(" (from {source})")
    };
    CliError::config(
        format!("invalid configuration: {}{setting}{from}", e.kind),
        "run `dev-health config show` to see every setting and its source; see docs/CONFIGURATION.md",
    )
}

/// "environment variable DEV_HEALTH_SERVER__BIND", "dev-health.toml", "default".
fn describe(meta: &Metadata, path: &[String]) -> String {
    if let Some(figment::Source::File(file)) = &meta.source {
        return file.display().to_string();
    }
    if meta.name.contains("environment") {
        let prefixed = format!("DEV_HEALTH_{}", path.join("__")).to_uppercase();
        let var = if std::env::var_os(&prefixed).is_none() && path == ["database_url"] {
            "DATABASE_URL".to_owned()
        } else if path == ["billing", "key_secret"]
            && std::env::var_os("DEV_HEALTH_BILLING_KEY_SECRET").is_some()
        {
            "DEV_HEALTH_BILLING_KEY_SECRET".to_owned()
        } else if path == ["secrets", "integration_key"] {
            "DEV_HEALTH_SECRET_KEY".to_owned()
        } else {
            prefixed
        };
        return format!("environment variable {var}");
    }
    if let Some(figment::Source::Code(_)) = &meta.source {
        return "default".into();
    }
    meta.name.to_string()
}

impl Loaded {
    /// Where the value at `key` (dotted) came from.
    pub fn source_of(&self, key: &str) -> String {
        if key == "server.bind" && self.overrides.bind.is_some() {
            return "--bind".into();
        }
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        self.figment
            .find_metadata(key)
            .map_or_else(|| "default".into(), |meta| describe(meta, &path))
    }

    fn invalid(&self, key: &str, problem: String, hint: &str) -> CliError {
        CliError::config(
            format!("invalid `{key}` (from {}): {problem}", self.source_of(key)),
            hint,
        )
    }

    fn validate(&self) -> Result<(), CliError> {
        let c = &self.config;
        self.bind_addr()?;
        self.database_url()?;
        if let Some(url) = &c.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(self.invalid(
                "server.public_url",
                format!("{url:?} is not an http(s) URL"),
                "e.g. https://dev-health.example.com",
            ));
        }
        self.proxy_trust()?;
        if let Err(e) = app::entitlements::check_deployment_id(&c.deployment_id) {
            return Err(self.invalid(
                "deployment_id",
                e.to_string(),
                "use the id your license was issued for, e.g. acme-prod (the default is self-hosted)",
            ));
        }
        if c.worker.concurrency == 0 {
            return Err(self.invalid(
                "worker.concurrency",
                "must be at least 1".into(),
                "the default is 4",
            ));
        }
        if c.worker.lease_secs < 2 {
            return Err(self.invalid(
                "worker.lease_secs",
                "must be at least 2".into(),
                "the default is 60",
            ));
        }
        self.billing()?;
        if c.database.max_connections == 0 {
            return Err(self.invalid(
                "database.max_connections",
                "must be at least 1".into(),
                "the default is 10",
            ));
        }
        Ok(())
    }

    /// `server.trusted_proxies` and `server.trusted_proxy_hops`, validated together.
    pub fn proxy_trust(&self) -> Result<server::client_ip::ProxyTrust, CliError> {
        let s = &self.config.server;
        server::client_ip::ProxyTrust::new(&s.trusted_proxies, s.trusted_proxy_hops).map_err(|e| {
            let key = match e {
                server::client_ip::ProxyConfigError::TooManyHops => "server.trusted_proxy_hops",
                _ => "server.trusted_proxies",
            };
            self.invalid(
                key,
                e.to_string(),
                "list your load balancers, e.g. [\"10.0.0.0/8\"], and set the hop count",
            )
        })
    }

    /// `server.bind` as an address.
    pub fn bind_addr(&self) -> Result<SocketAddr, CliError> {
        let raw = &self.config.server.bind;
        raw.parse().map_err(|_| {
            self.invalid(
                "server.bind",
                format!("{raw:?} is not an address like 127.0.0.1:8000"),
                "use IP:PORT, e.g. 0.0.0.0:8000 to listen on every interface",
            )
        })
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> Result<DatabaseUrl, CliError> {
        match &self.config.database_url {
            None => Ok(DatabaseUrl::Sqlite(
                self.config.data_dir.join("dev-health.db"),
            )),
            Some(raw) => DatabaseUrl::parse(raw).map_err(|e| {
                self.invalid(
                    "database_url",
                    e.to_string(),
                    "use sqlite:PATH or postgres://USER:PASSWORD@HOST:5432/DB",
                )
            }),
        }
    }

    /// Creates the data directory if needed and checks that it is writable.
    pub fn prepare_data_dir(&self) -> Result<PathBuf, CliError> {
        let dir = &self.config.data_dir;
        let fail = |e: std::io::Error| {
            self.invalid(
                "data_dir",
                format!("{} is not a writable directory: {e}", dir.display()),
                "set DEV_HEALTH_DATA_DIR to a directory this user can write",
            )
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let probe = dir.join(format!(".write-test-{}", std::process::id()));
        std::fs::write(&probe, b"ok").map_err(fail)?;
        std::fs::remove_file(&probe).map_err(fail)?;
        Ok(dir.clone())
    }

    /// The public URL, defaulting to `http://<bind>`.
    pub fn public_url(&self) -> String {
        self.config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.config.server.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The master secret: configured, or from the key file (generated on first use for
    /// SQLite installs). PostgreSQL installs refuse to start without a configured key, so two
    /// replicas can never run with different keys.
    pub fn master_key(&self) -> Result<auth::keys::MasterKey, CliError> {
        use auth::keys::MasterKey;
        if let Some(text) = &self.config.secrets.master_key {
            return MasterKey::from_base64(text).map_err(|e| {
                self.invalid(
                    "secrets.master_key",
                    e.to_string(),
                    "generate one with: head -c 32 /dev/urandom | base64",
                )
            });
        }
        let file = self
            .config
            .secrets
            .key_file
            .clone()
            .unwrap_or_else(|| self.config.data_dir.join("secret.key"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            return MasterKey::from_base64(&text).map_err(|e| {
                CliError::config(
                    format!("the key file {} is not usable: {e}", file.display()),
                    "restore it from a backup; without it stored secrets cannot be read",
                )
            });
        }
        if matches!(self.database_url()?, DatabaseUrl::Postgres(_)) {
            return Err(CliError::config(
                "no secrets key is configured (PostgreSQL installs need one)",
                "set DEV_HEALTH_SECRETS_KEY (or secrets.master_key) to 32+ random bytes in base64, the same on every replica",
            ));
        }
        let text = MasterKey::generate_base64();
        write_private(&file, &text).map_err(|e| {
            self.invalid(
                "secrets.key_file",
                format!("cannot write {}: {e}", file.display()),
                "set DEV_HEALTH_SECRETS_KEY or make the data directory writable",
            )
        })?;
        tracing::warn!(path = %file.display(), "generated a new secrets key file; back it up with the database");
        MasterKey::from_base64(&text)
            .map_err(|e| CliError::config(e.to_string(), "report this bug"))
    }

    /// Identity settings for the app.
    pub fn identity(&self) -> Result<app::identity::IdentityConfig, CliError> {
        let master = self.master_key()?;
        let mut config = app::identity::IdentityConfig::new(
            &self.public_url(),
            self.config.auth.registration,
            &master,
        )
        .map_err(|e| CliError::config(e.to_string(), "check secrets.master_key"))?;
        if let Some(url) = &self.config.mail.smtp_url {
            config.mail = app::identity::mail::Transport::Smtp {
                url: url.clone(),
                from: self.config.mail.from.clone(),
            };
        }
        Ok(config)
    }

    /// The key provider tokens are sealed with (`DEV_HEALTH_SECRET_KEY`), when configured.
    pub fn integration_key(&self) -> Result<Option<app::sync::IntegrationKey>, CliError> {
        let Some(text) = &self.config.secrets.integration_key else {
            return Ok(None);
        };
        app::sync::IntegrationKey::from_base64(text)
            .map(Some)
            .map_err(|e| {
                self.invalid(
                    "secrets.integration_key",
                    e.message,
                    "generate one with: head -c 32 /dev/urandom | base64",
                )
            })
    }

    /// Entitlement settings for the app.
    pub fn entitlements(&self) -> app::entitlements::EntitlementConfig {
        let c = &self.config;
        let mode = match c.mode {
            Mode::SelfHosted => app::entitlements::Mode::SelfHosted,
            Mode::Saas => app::entitlements::Mode::Saas,
        };
        if mode == app::entitlements::Mode::Saas && c.license.is_some() {
            tracing::warn!("DEV_HEALTH_LICENSE is ignored in SaaS mode; plans come from billing");
        }
        let setting = c
            .license
            .as_deref()
            .filter(|l| !l.trim().is_empty())
            .map(app::entitlements::LicenseSetting::parse);
        match app::entitlements::EntitlementConfig::new(mode, &c.deployment_id, setting) {
            Ok(config) => config,
            // validate() checked the deployment id at load time.
            Err(e) => unreachable!("{e}"),
        }
    }

    /// The license-svc settings for the app: `None` when `billing.license_svc_url` is unset
    /// (or on a self-hosted instance, which has no billing); an error when the URL is set but
    /// the key is missing or unusable.
    pub fn billing(&self) -> Result<Option<app::billing::BillingConfig>, CliError> {
        let b = &self.config.billing;
        let Some(url) = b
            .license_svc_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        if self.config.mode == Mode::SelfHosted {
            return Ok(None);
        }
        let key_id = b.key_id.as_deref().unwrap_or_default();
        let secret = b.key_secret.as_deref().unwrap_or_default();
        app::billing::BillingConfig::new(url, key_id, secret.as_bytes())
            .map(Some)
            .map_err(|e| {
                let key = match e {
                    app::billing::BillingConfigError::Url(_) => "billing.license_svc_url",
                    app::billing::BillingConfigError::KeyId => "billing.key_id",
                    app::billing::BillingConfigError::ShortSecret => "billing.key_secret",
                    app::billing::BillingConfigError::Client(_) => "billing.license_svc_url",
                };
                self.invalid(
                    key,
                    e.to_string(),
                    "set billing.license_svc_url (e.g. http://127.0.0.1:8090), billing.key_id and DEV_HEALTH_BILLING_KEY_SECRET to a key listed in license-svc's auth.ops_keys",
                )
            })
    }

    /// Pool options.
    pub fn pool_options(&self) -> store::PoolOptions {
        store::PoolOptions {
            max_connections: self.config.database.max_connections,
            acquire_timeout: Duration::from_secs(self.config.database.acquire_timeout_secs),
        }
    }

    /// Every effective setting as `(key, display value, source)`, secrets redacted.
    pub fn settings(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let value = serde_json::to_value(&self.config).unwrap_or_default();
        flatten("", &value, &mut out);
        out.into_iter()
            .map(|(key, v)| {
                let shown = if key == "license" {
                    match &self.config.license {
                        Some(l) => match app::entitlements::LicenseSetting::parse(l) {
                            app::entitlements::LicenseSetting::Value(_) => "[redacted]".into(),
                            app::entitlements::LicenseSetting::File(p) => p.display().to_string(),
                        },
                        None => "(not set)".into(),
                    }
                } else if key == "secrets.master_key" {
                    match &self.config.secrets.master_key {
                        Some(_) => "[redacted]".into(),
                        None => "(unset)".into(),
                    }
                } else if key == "secrets.integration_key" {
                    match &self.config.secrets.integration_key {
                        Some(_) => "[redacted]".into(),
                        None => "(unset: derived from the master key)".into(),
                    }
                } else if key == "billing.key_secret" {
                    match &self.config.billing.key_secret {
                        Some(_) => "[redacted]".into(),
                        None => "(unset)".into(),
                    }
                } else if key == "mail.smtp_url" {
                    match &self.config.mail.smtp_url {
                        Some(u) => redact_userinfo(u),
                        None => "(unset: mail goes to the log)".into(),
                    }
                } else if key == "database_url" {
                    match &self.config.database_url {
                        Some(raw) => DatabaseUrl::parse(raw)
                            .map(|u| u.redacted())
                            .unwrap_or_else(|_| "[invalid]".into()),
                        None => format!(
                            "(unset: {})",
                            self.database_url()
                                .map(|u| u.redacted())
                                .unwrap_or_default()
                        ),
                    }
                } else {
                    v
                };
                let source = self.source_of(&key);
                (key, shown, source)
            })
            .collect()
    }
}

/// `scheme://user:pass@host` → `scheme://[redacted]@host`.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(i), Some(at)) if at > i => format!("{}[redacted]{}", &url[..i + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}
