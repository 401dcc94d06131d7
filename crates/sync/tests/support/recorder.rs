//! A recording reverse proxy: point a connector's base URL at it and it forwards every request
//! to the live provider, answers with the provider's response, and writes that response as a
//! fixture (`{status, headers, body}`) plus a `routes.json` line, in the format the fake server
//! replays (`fixtures/providers/README.md`). Used by `examples/record_fixtures.rs` to record
//! Jira Cloud and Linear from a machine with network access, and by `providers_recorder.rs`,
//! which records the fake server and replays the recording.
//!
//! Never written: request headers (the token), `Set-Cookie`, and the transfer headers
//! (`Content-Length`, `Transfer-Encoding`, `Content-Encoding`, `Connection`). The upstream
//! origin becomes `{base}` in the files and this proxy's origin in the answers, so pagination
//! links keep going through the proxy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// Response headers that describe the original transfer or a session, never recorded.
const DROPPED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "connection",
    "set-cookie",
];

/// Request headers not forwarded (reqwest sets its own; identity encoding keeps bodies plain).
const NOT_FORWARDED: &[&str] = &["host", "content-length", "accept-encoding", "connection"];

struct Inner {
    upstream: String,
    base: String,
    out: PathBuf,
    http: reqwest::Client,
    routes: Mutex<Vec<Value>>,
}

/// A running recorder.
pub struct Recorder {
    /// The proxy's origin (`http://127.0.0.1:PORT`): the connector's base URL goes here.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// Listens on `listen` and forwards to `upstream` (an origin: `https://acme.atlassian.net`),
    /// writing fixtures into `out` (created if missing).
    pub async fn start(listen: &str, upstream: &str, out: &Path) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(out)?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            base: base.clone(),
            out: out.to_owned(),
            http,
            routes: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(inner);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Recorder { base, task })
    }
}

fn bad_gateway(message: String) -> Response {
    let mut resp = Response::new(Body::from(json!({ "message": message }).to_string()));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp
}

async fn forward(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let target = match &query {
        Some(q) => format!("{}{path}?{q}", inner.upstream),
        None => format!("{}{path}", inner.upstream),
    };
    let mut upstream_req = inner.http.request(method.clone(), &target);
    for (name, value) in req.headers() {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            upstream_req = upstream_req.header(name, value);
        }
    }
    let body = match to_bytes(req.into_body(), 16 << 20).await {
        Ok(b) => b,
        Err(e) => return bad_gateway(format!("request body: {e}")),
    };
    let sent_body = String::from_utf8_lossy(&body).into_owned();
    let answer = match upstream_req.body(body).send().await {
        Ok(a) => a,
        Err(e) => return bad_gateway(format!("{target}: {e}")),
    };
    let status = answer.status();
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(k, _)| !DROPPED.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let text = match answer.bytes().await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return bad_gateway(format!("{target}: {e}")),
    };
    let local = |s: &str| s.replace(&inner.upstream, &inner.base);
    if let Err(e) = record(
        &inner,
        method.as_str(),
        &path,
        query.as_deref(),
        &sent_body,
        status.as_u16(),
        &headers,
        &text,
    ) {
        eprintln!("not recorded: {method} {path}: {e}");
    }
    let mut resp = Response::new(Body::from(local(&text)));
    *resp.status_mut() = status;
    for (k, v) in &headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&local(v)),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

/// Writes one fixture file and rewrites `routes.json`. A `304` is not recorded (the fake
/// answers `If-None-Match` from the recorded `ETag`), nor is a body that is not JSON.
#[allow(clippy::too_many_arguments)]
fn record(
    inner: &Inner,
    method: &str,
    path: &str,
    query: Option<&str>,
    sent_body: &str,
    status: u16,
    headers: &[(String, String)],
    text: &str,
) -> Result<(), String> {
    if status == 304 {
        return Ok(());
    }
    let body: Value = serde_json::from_str(text).map_err(|e| format!("body is not JSON: {e}"))?;
    let mut header_map = Map::new();
    for (k, v) in headers {
        header_map.insert(k.clone(), Value::String(v.clone()));
    }
    let fixture = json!({ "status": status, "headers": header_map, "body": body });
    let placeholder = |s: String| s.replace(&inner.upstream, "{base}");
    let mut routes = inner.routes.lock().map_err(|e| e.to_string())?;
    let name = format!(
        "{:03}_{}{}.json",
        routes.len() + 1,
        method.to_lowercase(),
        path.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            .chars()
            .take(80)
            .collect::<String>()
    );
    let pretty = serde_json::to_string_pretty(&fixture).map_err(|e| e.to_string())?;
    std::fs::write(inner.out.join(&name), placeholder(pretty)).map_err(|e| e.to_string())?;
    let mut route = json!({ "method": method, "path": path, "file": name });
    let params: Map<String, Value> = query
        .map(|q| url_pairs(q).map(|(k, v)| (k, Value::String(v))).collect())
        .unwrap_or_default();
    if !params.is_empty() {
        route["query"] = Value::Object(params);
    }
    if !sent_body.is_empty() {
        route["body_contains"] = json!([placeholder(sent_body.to_owned())]);
    }
    routes.push(route);
    let all = serde_json::to_string_pretty(&*routes).map_err(|e| e.to_string())?;
    std::fs::write(inner.out.join("routes.json"), all).map_err(|e| e.to_string())
}

/// The query's pairs, percent-decoded as the fake server decodes them.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    reqwest::Url::parse(&format!("http://q/?{query}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
}
