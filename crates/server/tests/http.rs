//! The request path, end to end through the real router (in process, SQLite and PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use domain::SystemClock;
use serde_json::Value;
use server::ServerConfig;
use store::testing::TestDb;
use store::{Backend, backend_tests};
use tower::ServiceExt;

fn router(db: &TestDb) -> Router {
    let app = app::App::new(
        db.store.clone(),
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    );
    server::build(
        app,
        ServerConfig {
            body_limit_bytes: 1024,
            ..ServerConfig::default()
        },
    )
    .0
}

async fn call(router: &Router, request: Request<Body>) -> Response {
    router.clone().oneshot(request).await.unwrap()
}

async fn get(router: &Router, path: &str) -> Response {
    call(router, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn body_text(response: Response) -> String {
    String::from_utf8(
        to_bytes(response.into_body(), 4 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

async fn json(response: Response) -> Value {
    serde_json::from_str(&body_text(response).await).unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

backend_tests! {
    async fn health_and_readiness_answer(db: &TestDb) {
        let r = router(db);
        let health = get(&r, "/healthz").await;
        assert_eq!(health.status(), StatusCode::OK);
        assert!(!header(&health, "x-request-id").is_empty());
        assert_eq!(json(health).await["status"], "ok");
        let ready = get(&r, "/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK);
        let body = json(ready).await;
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["migrations"]["ok"], true);
    }
}

#[tokio::test]
async fn readiness_fails_with_the_reason_on_an_unmigrated_database() {
    let db = TestDb::empty(Backend::Sqlite).await;
    let ready = get(&router(&db), "/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json(ready).await;
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["migrations"]["ok"], false);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = router(&db);
    for path in ["/healthz", "/", "/api/v1/nope", "/nope"] {
        let response = get(&r, path).await;
        assert_eq!(header(&response, "x-request-id").len(), 36, "{path}");
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(header(&response, "x-frame-options"), "DENY", "{path}");
        assert!(header(&response, "content-security-policy").contains("frame-ancestors 'none'"));
        assert!(response.headers().get(header::SERVER).is_none());
    }
    let echoed = call(
        &r,
        Request::get("/healthz")
            .header("x-request-id", "trace-123")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(header(&echoed, "x-request-id"), "trace-123");
    let replaced = call(
        &r,
        Request::get("/healthz")
            .header("x-request-id", "<bad id>")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_ne!(header(&replaced, "x-request-id"), "<bad id>");
    let html = get(&r, "/").await;
    assert!(header(&html, "content-security-policy").contains("script-src 'self'"));
}

#[tokio::test]
async fn unknown_routes_get_the_envelope_on_the_api_and_a_page_on_the_web() {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = router(&db);
    let api = get(&r, "/api/v1/does-not-exist").await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&api, "cache-control"), "no-store");
    let body = json(api).await;
    assert_eq!(body["error"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/does-not-exist")
    );

    let web = get(&r, "/does-not-exist").await;
    assert_eq!(web.status(), StatusCode::NOT_FOUND);
    assert!(header(&web, "content-type").starts_with("text/html"));
    let request_id = header(&web, "x-request-id").to_owned();
    let html = body_text(web).await;
    assert!(
        html.contains("Page not found") && html.contains(&request_id),
        "{html}"
    );

    let wrong_method = call(&r, Request::post("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(wrong_method).await["error"], "method_not_allowed");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_in_the_envelope() {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = router(&db);
    let big = vec![b'x'; 2048];
    let response = call(
        &r,
        Request::post("/api/v1/anything")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, big.len())
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(response).await["error"], "payload_too_large");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = router(&db);
    get(&r, "/healthz").await;
    get(&r, "/api/v1/nope").await;
    let metrics = body_text(get(&r, "/metrics").await).await;
    let line = |route: &str, status: &str| {
        metrics.lines().any(|l| {
            l.starts_with("http_requests_total")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(line("/healthz", "200"), "{metrics}");
    assert!(line("unmatched", "404"), "{metrics}");
    assert!(
        metrics.contains("http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn openapi_document_is_3_1_and_generated_from_the_handlers() {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = router(&db);
    let doc = json(get(&r, "/api/v1/openapi.json").await).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{doc}"
    );
    assert!(doc["paths"]["/healthz"]["get"].is_object());
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    let docs = get(&r, "/api/docs").await;
    assert_eq!(docs.status(), StatusCode::OK);
    let html = body_text(docs).await;
    let script = html
        .split('"')
        .find(|s| s.contains("swagger-ui-bundle.js"))
        .unwrap()
        .to_owned();
    let asset = get(&r, &script).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&asset, "content-type").contains("javascript"));
}

#[tokio::test]
async fn landing_page_renders_the_base_layout_with_vendored_htmx() {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = router(&db);
    let page = get(&r, "/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header(&page, "content-type").starts_with("text/html"));
    let html = body_text(page).await;
    assert!(html.contains("Skip to content") && html.contains("<main id=\"main\""));
    let htmx = html
        .split('"')
        .find(|s| s.contains("htmx.min.js"))
        .unwrap()
        .to_owned();
    assert!(htmx.starts_with("/static/"));
    assert_eq!(get(&r, &htmx).await.status(), StatusCode::OK);
    assert!(!html.contains("<script>"), "no inline scripts (CSP)");
}

/// Every route is declared; the table is a reviewed, checked-in file. Regenerate with
/// `UPDATE_SNAPSHOTS=1 cargo nextest run -p server route_table`.
#[tokio::test]
async fn route_table_matches_the_checked_in_snapshot() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = app::App::new(
        db.store.clone(),
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    );
    let (_, table) = server::build(app, ServerConfig::default());
    let rendered = table.render();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/routes.snapshot");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        rendered, expected,
        "route table changed: review it and update tests/routes.snapshot"
    );
}
