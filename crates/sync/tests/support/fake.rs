//! A fake provider server on 127.0.0.1:0 that serves the fixtures of
//! `crates/sync/tests/fixtures/providers/<provider>/` (reconstructed shapes) or
//! `…/providers/recorded/<provider>/` (live recordings; see the README there; app's provider sync
//! tests include this file by path and read the same fixtures in place) and can be scripted to inject
//! rate limits, server errors and deferrals. It answers `If-None-Match` with `304` like the real
//! APIs, and logs every request so tests can count them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

/// One line of `routes.json`: which fixture answers which request.
#[derive(Debug, Clone, Deserialize)]
struct Route {
    method: String,
    path: String,
    /// Query parameters that must be present and contain these substrings.
    #[serde(default)]
    query: BTreeMap<String, String>,
    /// Query parameters that must be absent.
    #[serde(default)]
    query_absent: Vec<String>,
    /// Substrings the request body must contain (GraphQL).
    #[serde(default)]
    body_contains: Vec<String>,
    /// Substrings the request body must not contain.
    #[serde(default)]
    body_absent: Vec<String>,
    /// Higher wins among matching routes; then the most constraints.
    #[serde(default)]
    priority: i32,
    file: String,
}

/// A scripted response.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Canned {
    pub fn new(status: u16, headers: &[(&str, &str)], body: Value) -> Canned {
        Canned {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_string(),
        }
    }

    /// GitHub's secondary rate limit: a 403 whose body says so, quota left, no retry-after.
    pub fn github_secondary() -> Canned {
        Canned::new(
            403,
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4987"),
                ("x-ratelimit-reset", "1711933200"),
                ("x-ratelimit-resource", "core"),
            ],
            json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0400:2B8C:1A2F3E4:1B3C4D5:660A1B2C.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403"
            }),
        )
    }

    /// GitHub's primary limit exhausted until `reset` (epoch seconds).
    pub fn github_exhausted(reset: i64) -> Canned {
        let reset = reset.to_string();
        Canned::new(
            403,
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-used", "5000"),
                ("x-ratelimit-reset", &reset),
                ("x-ratelimit-resource", "core"),
            ],
            json!({
                "message": "API rate limit exceeded for user ID 1.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403"
            }),
        )
    }

    /// A 403 that is about permissions, not limits.
    pub fn github_forbidden() -> Canned {
        Canned::new(
            403,
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4990"),
                ("x-ratelimit-reset", "1711933200"),
            ],
            json!({
                "message": "Resource not accessible by personal access token",
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#list-commits-on-a-pull-request",
                "status": "403"
            }),
        )
    }

    /// `status` with `Retry-After: secs`.
    pub fn retry_after(status: u16, secs: u64) -> Canned {
        let secs = secs.to_string();
        Canned::new(
            status,
            &[("Retry-After", &secs)],
            json!({"message": "Too Many Requests"}),
        )
    }

    /// A bare server error.
    pub fn server_error(status: u16) -> Canned {
        Canned::new(status, &[], json!({"message": "Server Error"}))
    }
}

#[derive(Debug)]
struct Injection {
    method: String,
    path: String,
    body_contains: Option<String>,
    query_contains: Option<String>,
    remaining: u32,
    response: Canned,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub if_none_match: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
}

#[derive(Debug)]
struct Inner {
    base: String,
    dir: PathBuf,
    routes: Vec<Route>,
    injections: Vec<Injection>,
    log: Vec<Hit>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake server.
pub struct Fake {
    pub base: String,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    /// Serves `crates/sync/tests/fixtures/providers/<provider>/` on a loopback port (the path
    /// goes through `../sync` so it resolves from the app crate's manifest directory too).
    pub async fn start(provider: &str) -> Fake {
        Fake::start_dir(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../sync/tests/fixtures/providers")
                .join(provider),
        )
        .await
    }

    /// Serves the fixtures and `routes.json` of `dir` (a recorder's output, say).
    pub async fn start_dir(dir: PathBuf) -> Fake {
        let routes: Vec<Route> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("routes.json")).unwrap())
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            base: base.clone(),
            dir,
            routes,
            injections: Vec::new(),
            log: Vec::new(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake { base, inner, task }
    }

    /// Answers the next `times` requests to `method path` with `response`.
    pub fn inject(&self, method: &str, path: &str, times: u32, response: Canned) {
        self.inject_when(method, path, None, times, response);
    }

    /// Like [`Fake::inject`], only for requests whose body contains `body_contains`.
    pub fn inject_when(
        &self,
        method: &str,
        path: &str,
        body_contains: Option<&str>,
        times: u32,
        response: Canned,
    ) {
        self.inner.lock().unwrap().injections.push(Injection {
            method: method.to_owned(),
            path: path.to_owned(),
            body_contains: body_contains.map(str::to_owned),
            query_contains: None,
            remaining: times,
            response,
        });
    }

    /// Like [`Fake::inject`], only for requests whose raw query contains `query_contains`
    /// (a later page of a listing whose first page is served from a fixture).
    pub fn inject_query(
        &self,
        method: &str,
        path: &str,
        query_contains: &str,
        times: u32,
        response: Canned,
    ) {
        self.inner.lock().unwrap().injections.push(Injection {
            method: method.to_owned(),
            path: path.to_owned(),
            body_contains: None,
            query_contains: Some(query_contains.to_owned()),
            remaining: times,
            response,
        });
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.inner.lock().unwrap().log.clone()
    }

    /// Requests whose path satisfies `pred`.
    pub fn count(&self, pred: impl Fn(&Hit) -> bool) -> usize {
        self.hits().iter().filter(|h| pred(h)).count()
    }

    /// Forgets the request log (between passes).
    pub fn clear_log(&self) {
        self.inner.lock().unwrap().log.clear();
    }
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding (and `+` as space), enough for the URLs our client builds.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn score(
    route: &Route,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &str,
) -> Option<(i32, usize)> {
    if route.method != method || route.path != path {
        return None;
    }
    let has = |k: &str| {
        query
            .iter()
            .find(|(qk, _)| qk == k)
            .map(|(_, v)| v.as_str())
    };
    for (k, v) in &route.query {
        if !has(k)?.contains(v.as_str()) {
            return None;
        }
    }
    if route.query_absent.iter().any(|k| has(k).is_some()) {
        return None;
    }
    if !route
        .body_contains
        .iter()
        .all(|s| body.contains(s.as_str()))
    {
        return None;
    }
    if route.body_absent.iter().any(|s| body.contains(s.as_str())) {
        return None;
    }
    Some((
        route.priority,
        route.query.len()
            + route.query_absent.len()
            + route.body_contains.len()
            + route.body_absent.len(),
    ))
}

fn respond(status: u16, headers: &[(String, String)], body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap();
    let h = resp.headers_mut();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    for (k, v) in headers {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    resp
}

async fn handle(State(inner): State<Shared>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let (if_none_match, authorization) = {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header("if-none-match"),
            header("authorization").or_else(|| header("private-token")),
        )
    };
    let body =
        String::from_utf8(to_bytes(req.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    let mut inner = inner.lock().unwrap();
    let (status, headers, text) = pick(
        &mut inner,
        &method,
        &path,
        &query,
        &body,
        if_none_match.as_deref(),
    );
    inner.log.push(Hit {
        method,
        path,
        query,
        body,
        if_none_match,
        authorization,
        status,
    });
    respond(status, &headers, text)
}

fn pick(
    inner: &mut Inner,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    if_none_match: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    if let Some(inj) = inner.injections.iter_mut().find(|i| {
        i.remaining > 0
            && i.method == method
            && i.path == path
            && i.body_contains.as_deref().is_none_or(|s| body.contains(s))
            && i.query_contains
                .as_deref()
                .is_none_or(|s| query.contains(s))
    }) {
        inj.remaining -= 1;
        let c = inj.response.clone();
        return (c.status, c.headers, c.body);
    }
    let pairs = query_pairs(query);
    let route = inner
        .routes
        .iter()
        .filter_map(|r| score(r, method, path, &pairs, body).map(|s| (s, r)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, r)| r.clone());
    let Some(route) = route else {
        return (404, vec![], json!({"message": "Not Found"}).to_string());
    };
    let text = std::fs::read_to_string(inner.dir.join(&route.file))
        .unwrap()
        .replace("{base}", &inner.base);
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let status = u16::try_from(fixture["status"].as_u64().unwrap()).unwrap();
    let headers: Vec<(String, String)> = fixture["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let etag = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone());
    if let (Some(etag), Some(sent)) = (etag, if_none_match)
        && etag == sent
    {
        let kept = headers
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("link"))
            .collect();
        return (304, kept, String::new());
    }
    (status, headers, fixture["body"].to_string())
}
