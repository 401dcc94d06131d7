//! The HTTP client every connector shares (spec §3.3): authentication headers, `Link`
//! pagination, conditional GETs with ETags, the per-provider rate-limit rules, backoff with
//! full jitter, and the run's wait budget that turns a long wait into a deferral.
//!
//! Time is injected ([`Timekeeper`]), and the client counts its requests and waits so tests
//! (and `sync_runs.rate_limit_wait_s`) can read them.

mod backoff;
mod limits;
pub mod link;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

pub use backoff::BACKOFF_CAP;
pub use link::{encode_component, next_page, url_key};

use self::backoff::Backoff;
use self::limits::Verdict;
use super::auth::Auth;
use super::error::Error;
use super::time::Timekeeper;

/// Which provider's rules apply (spec §3.3 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// GitHub REST (also GitHub Issues).
    Github,
    /// GitLab REST v4.
    Gitlab,
    /// Jira Cloud REST v3.
    Jira,
    /// Linear GraphQL.
    Linear,
}

/// Limits of a run (spec §3.3); the defaults are the spec's numbers.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The run's wait budget (`sync.max_wait_s`): a wait that would push the run's total
    /// waiting past it ends the pass `deferred` instead of sleeping.
    pub max_wait_s: u64,
    /// Attempts per request for 5xx, timeouts and connection errors.
    pub max_attempts: u32,
    /// The longest server-sent wait honoured (longer ones are cut to this).
    pub server_wait_cap_s: u64,
    /// Server-sent waits allowed per request before giving up (keeps loops bounded).
    pub max_server_waits: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Seed of the backoff jitter (tests fix it; production seeds from the clock).
    pub jitter_seed: Option<u64>,
    /// `User-Agent` (GitHub requires one).
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_wait_s: 900,
            max_attempts: 6,
            server_wait_cap_s: 3600,
            max_server_waits: 8,
            timeout: Duration::from_secs(30),
            jitter_seed: None,
            user_agent: concat!("dev-health/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A response that passed the rate-limit rules: 2xx, or 304 for a conditional GET.
#[derive(Debug, Clone)]
pub struct Response {
    /// The requested URL.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body (empty on 304).
    pub body: Vec<u8>,
}

impl Response {
    /// `304 Not Modified`: the stored copy is current and nothing is re-written.
    pub fn not_modified(&self) -> bool {
        self.status == StatusCode::NOT_MODIFIED.as_u16()
    }

    /// The `ETag` to store for this URL's `url_key`.
    pub fn etag(&self) -> Option<String> {
        self.headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The next page, from `Link` (or GitLab's `X-Next-Page`).
    pub fn next_page(&self) -> Option<String> {
        next_page(&self.headers, &self.url)
    }

    /// The body as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            url: self.url.clone(),
            message: e.to_string(),
        })
    }
}

/// The client of one run against one provider credential.
#[derive(Debug)]
pub struct HttpClient {
    kind: ProviderKind,
    http: reqwest::Client,
    auth: Auth,
    config: HttpConfig,
    time: Timekeeper,
    backoff: Backoff,
    requests: AtomicU64,
    waited_ms: AtomicU64,
    pause_until: Mutex<Option<DateTime<Utc>>>,
}

impl HttpClient {
    /// A client for `kind` presenting `auth`. Installs the ring TLS provider the workspace
    /// builds (see the root manifest) before building reqwest's client.
    pub fn new(
        kind: ProviderKind,
        auth: Auth,
        config: HttpConfig,
        time: Timekeeper,
    ) -> Result<HttpClient, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        let accept = if kind == ProviderKind::Github {
            headers.insert(
                "x-github-api-version",
                HeaderValue::from_static("2022-11-28"),
            );
            "application/vnd.github+json"
        } else {
            "application/json"
        };
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        let (name, value) = auth.header()?;
        headers.insert(name, value);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .user_agent(config.user_agent.clone())
            .default_headers(headers)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let seed = config.jitter_seed.unwrap_or_else(|| {
            u64::try_from(time.clock.now().timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0)
        });
        Ok(HttpClient {
            kind,
            http,
            auth,
            backoff: Backoff::new(seed, BACKOFF_CAP),
            config,
            time,
            requests: AtomicU64::new(0),
            waited_ms: AtomicU64::new(0),
            pause_until: Mutex::new(None),
        })
    }

    /// Which provider's rules this client follows.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The credential, for the `Debug` of callers (redacted).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Seconds spent waiting so far (rate limits and backoff): `sync_runs.rate_limit_wait_s`.
    pub fn waited_s(&self) -> u64 {
        self.waited_ms.load(Ordering::Relaxed) / 1000
    }

    /// "Now", from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.time.clock.now()
    }

    /// A GET; with `etag`, a conditional one whose `304` comes back as a response for which
    /// [`Response::not_modified`] is true.
    pub async fn get(&self, url: &str, etag: Option<&str>) -> Result<Response, Error> {
        self.send(Method::GET, url, etag, None).await
    }

    /// A JSON POST (GraphQL).
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Response, Error> {
        self.send(Method::POST, url, None, Some(body)).await
    }

    /// Every element of a paginated JSON array, following `Link` rel="next", up to `limit`
    /// elements (GitHub lists at most 250 PR commits; the cap also bounds the loop).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        url: &str,
        limit: usize,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut next = Some(url.to_owned());
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            let page = self.get(&url, None).await?;
            let items: Vec<T> = page.json()?;
            let empty = items.is_empty();
            out.extend(items);
            pages += 1;
            if out.len() >= limit || empty || pages >= crate::providers::pass::MAX_PAGES {
                out.truncate(limit);
                break;
            }
            next = page.next_page();
        }
        Ok(out)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        etag: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, Error> {
        let mut failures = 0u32;
        let mut server_waits = 0u32;
        let mut secondary_hits = 0u32;
        loop {
            self.pause_if_low().await?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut request = self.http.request(method.clone(), url);
            if let Some(etag) = etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let verdict = match request.send().await {
                Err(e) if e.is_builder() => {
                    return Err(Error::Config(format!("bad request URL {url}: {e}")));
                }
                Err(e) => Verdict::Transient(transport_error(&e)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Err(e) => Verdict::Transient(transport_error(&e)),
                        Ok(bytes) => {
                            let verdict = limits::classify(
                                self.kind,
                                status,
                                &headers,
                                &bytes,
                                url,
                                self.now(),
                                secondary_hits,
                            );
                            if let Verdict::Done = verdict {
                                self.note_quota(&headers);
                                return Ok(Response {
                                    url: url.to_owned(),
                                    status,
                                    headers,
                                    body: bytes.to_vec(),
                                });
                            }
                            verdict
                        }
                    }
                }
            };
            match verdict {
                Verdict::Done => {}
                Verdict::Fail(e) => return Err(e),
                Verdict::Wait { secs, reason } => {
                    server_waits += 1;
                    if server_waits > self.config.max_server_waits {
                        return Err(Error::Exhausted {
                            url: url.to_owned(),
                            attempts: server_waits,
                            last: format!("still rate limited ({reason})"),
                        });
                    }
                    if reason == "github secondary limit" || reason == "github retry-after" {
                        secondary_hits += 1;
                    }
                    tracing::warn!(provider = ?self.kind, reason, wait_s = secs, "rate limited");
                    // Past the budget the run defers to the provider's own time (`resume_at` =
                    // the reset); within it, a wait is cut to the server-wait cap.
                    self.check_budget(Duration::from_secs(secs))?;
                    let secs = secs.min(self.config.server_wait_cap_s);
                    self.wait(Duration::from_secs(secs)).await?;
                }
                Verdict::Transient(why) => {
                    failures += 1;
                    if failures >= self.config.max_attempts {
                        return Err(Error::Exhausted {
                            url: url.to_owned(),
                            attempts: failures,
                            last: why,
                        });
                    }
                    let delay = self.backoff.delay(failures - 1);
                    tracing::warn!(provider = ?self.kind, attempt = failures, why, "retrying");
                    self.wait(delay).await?;
                }
            }
        }
    }

    /// [`Error::Deferred`] (resuming after `d`) when waiting `d` would exceed the run budget.
    fn check_budget(&self, d: Duration) -> Result<(), Error> {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let total = self.waited_ms.load(Ordering::Relaxed).saturating_add(ms);
        if total > self.config.max_wait_s.saturating_mul(1000) {
            let resume_at =
                self.now() + chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
            return Err(Error::Deferred { resume_at });
        }
        Ok(())
    }

    /// Waits `d` within the run budget; past it, ends with [`Error::Deferred`] instead.
    async fn wait(&self, d: Duration) -> Result<(), Error> {
        self.check_budget(d)?;
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.time.sleeper.sleep(d).await;
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        Ok(())
    }

    /// Below 5 % of the quota, the next request waits for the reset (spec §3.3 "Throttle").
    fn note_quota(&self, headers: &HeaderMap) {
        if let Some((remaining, limit, reset)) = limits::quota(self.kind, headers)
            && limit > 0
            && remaining.saturating_mul(20) < limit
        {
            *self.pause_until.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(reset + chrono::Duration::seconds(1));
        }
    }

    async fn pause_if_low(&self) -> Result<(), Error> {
        let until = self
            .pause_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(until) = until {
            let left = (until - self.now()).to_std().unwrap_or(Duration::ZERO);
            if !left.is_zero() {
                tracing::info!(provider = ?self.kind, wait_s = left.as_secs(), "quota low");
                self.wait(left).await?;
            }
        }
        Ok(())
    }
}

/// A transport failure in words, without the URL's query (never holds a secret, but short).
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        format!("transport error: {e}")
    }
}
