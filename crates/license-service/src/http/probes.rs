//! `/healthz` (process alive) and `/readyz` (database, keys, Stripe config, outbox, unhandled
//! events; `degraded` when the oldest pending push is older than 5 min).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::db::{events, outbox};
use crate::service::Service;

/// 200 `{status:"ok"}`.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the database answers, 503 otherwise.
pub async fn readyz(State(svc): State<Service>) -> (StatusCode, Json<Value>) {
    let now = svc.clock.now();
    let read = async {
        let mut c = svc.store.acquire().await?;
        let stats = outbox::stats(&mut c.conn()).await?;
        let unhandled =
            events::unhandled_since(&mut c.conn(), now - chrono::Duration::hours(24)).await?;
        Ok::<_, store::StoreError>((stats, unhandled))
    };
    match read.await {
        Ok(((pending, oldest, dead), unhandled)) => {
            let age = oldest.map_or(0, |o| (now - o).num_seconds().max(0));
            let status = if age > 300 || dead > 0 {
                "degraded"
            } else {
                "ok"
            };
            (
                StatusCode::OK,
                Json(json!({
                    "status": status,
                    "db": "ok",
                    "signing_keys": "ok",
                    "stripe_config": "ok",
                    "outbox": {"pending": pending, "oldest_pending_age_s": age, "dead": dead},
                    "unhandled_events_24h": unhandled,
                })),
            )
        }
        Err(e) => {
            tracing::warn!("readyz: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "db": "unreachable"})),
            )
        }
    }
}
