//! The benchmark baseline: a bare axum server answering `GET /healthz` with the same JSON body
//! as Dev Health, built with the same profile in the same run (`scripts/bench`). The ratio of
//! Dev Health's throughput to this one measures what our request path costs.
//!
//! `bare_hello ADDR headers` also sends the same response headers Dev Health sends (security
//! headers and a fixed request id) from a plain middleware, which separates the cost of the
//! spec-mandated bytes on the wire from the cost of our request-path machinery.
#![allow(clippy::print_stdout)]

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

const HEADERS: [(&str, &str); 8] = [
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-request-id", "01a224f0-3f51-7338-a068-919328567066"),
];

async fn same_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    for (name, value) in HEADERS {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let mut router = Router::new().route("/healthz", get(healthz));
    if std::env::args().nth(2).as_deref() == Some("headers") {
        router = router.layer(middleware::from_fn(same_headers));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("bare_hello listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await
}
