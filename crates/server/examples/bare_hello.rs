//! The benchmark baseline: a bare axum server answering `GET /healthz` with the same JSON body
//! as Dev Health, built with the same profile in the same run (`scripts/bench`). The ratio of
//! Dev Health's throughput to this one measures what our request path costs.
#![allow(clippy::print_stdout)]

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("bare_hello listening on http://{}", listener.local_addr()?);
    axum::serve(listener, Router::new().route("/healthz", get(healthz))).await
}
