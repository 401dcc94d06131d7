//! The server's slice of the configuration.

use std::time::Duration;

/// Settings the request path needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The externally visible base URL (`https://…` turns on HSTS).
    pub public_url: String,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// A request that takes longer is answered 503 `request_timeout`.
    pub request_timeout: Duration,
    /// `self_hosted` or `saas`.
    pub mode: String,
    /// Which proxies may report the client address (`X-Forwarded-For`).
    pub proxies: crate::client_ip::ProxyTrust,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8000".into(),
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            mode: "self_hosted".into(),
            proxies: crate::client_ip::ProxyTrust::default(),
        }
    }
}

impl ServerConfig {
    /// Whether the public URL is https (then HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
