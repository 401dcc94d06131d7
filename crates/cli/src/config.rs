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
    /// HTTP server.
    pub server: ServerSection,
    /// Job runner.
    pub worker: WorkerSection,
    /// Connection pool.
    pub database: DatabaseSection,
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
            server: ServerSection::default(),
            worker: WorkerSection::default(),
            database: DatabaseSection::default(),
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
        .merge(Env::prefixed("DEV_HEALTH_").split("__").ignore(&["config"]));
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
                let shown = if key == "database_url" {
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
