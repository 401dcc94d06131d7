//! The route-declaration mechanism end to end: a declared permission is enforced before the
//! handler runs, and `Auth<P>` in a handler's signature enforces it even if a route were
//! declared too loosely. A `Principal` is put on the request the way the authentication layer
//! (issue 3) will.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use app::authz::{Credential, Principal};
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use domain::permission::marker;
use domain::{OrgId, Permission, Role, UserId};
use server::access::{Access, Routes};
use server::{AppState, Auth};
use store::Backend;
use store::testing::TestDb;
use tower::ServiceExt;
use utoipa_axum::routes;

/// Lists members (test route).
#[utoipa::path(get, path = "/api/v1/test/members", responses((status = 200, description = "ok")))]
async fn members(Auth(capability): Auth<marker::MembersRead>) -> String {
    capability
        .scope()
        .map(|s| s.org_id().to_string())
        .unwrap_or_default()
}

/// Declared public by mistake; the handler's `Auth<P>` still refuses.
#[utoipa::path(get, path = "/api/v1/test/misdeclared", responses((status = 200, description = "ok")))]
async fn misdeclared(_auth: Auth<marker::MembersRemove>) -> &'static str {
    "removed"
}

/// Test-only authentication: the principal comes from the `x-test-principal` header.
async fn fake_auth(mut request: Request, next: Next) -> Response {
    let org = OrgId::from_uuid(uuid::Uuid::nil());
    let principal = match request
        .headers()
        .get("x-test-principal")
        .and_then(|v| v.to_str().ok())
    {
        Some("viewer") => Some(Principal {
            user_id: UserId::new(),
            membership: Some((org, Role::Viewer)),
            platform_admin: false,
            credential: Credential::Session,
            credential_id: uuid::Uuid::nil(),
        }),
        Some("admin") => Some(Principal {
            user_id: UserId::new(),
            membership: Some((org, Role::Admin)),
            platform_admin: false,
            credential: Credential::Session,
            credential_id: uuid::Uuid::nil(),
        }),
        Some("orgless") => Some(Principal {
            user_id: UserId::new(),
            membership: None,
            platform_admin: false,
            credential: Credential::Session,
            credential_id: uuid::Uuid::nil(),
        }),
        Some("token-without-scope") => Some(Principal {
            user_id: UserId::new(),
            membership: Some((org, Role::Admin)),
            platform_admin: false,
            credential: Credential::ApiToken {
                scopes: vec![Permission::AuditRead],
            },
            credential_id: uuid::Uuid::nil(),
        }),
        _ => None,
    };
    if let Some(p) = principal {
        request.extensions_mut().insert(p);
    }
    next.run(request).await
}

async fn status(router: &axum::Router, path: &str, who: &str) -> StatusCode {
    let request = Request::get(path)
        .header("x-test-principal", who)
        .body(Body::empty())
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn declared_permissions_are_enforced_before_and_by_the_handler() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = app::App::new(
        db.store.clone(),
        Arc::new(domain::SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    );
    let (router, _openapi, table) = Routes::new(utoipa::openapi::OpenApi::default())
        .api(Access::member::<marker::MembersRead>(), routes!(members))
        .api(Access::public(), routes!(misdeclared))
        .finish();
    let rendered = table.render();
    assert!(
        rendered.contains("GET /api/v1/test/members session_or_token members:read csrf [api]"),
        "{rendered}"
    );
    let state = AppState::new(
        app,
        server::ServerConfig::default(),
        utoipa::openapi::OpenApi::default(),
    );
    let router = router
        .layer(middleware::from_fn(fake_auth))
        .with_state(state);

    assert_eq!(
        status(&router, "/api/v1/test/members", "anonymous").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&router, "/api/v1/test/members", "viewer").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&router, "/api/v1/test/members", "orgless").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&router, "/api/v1/test/members", "token-without-scope").await,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        status(&router, "/api/v1/test/misdeclared", "anonymous").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&router, "/api/v1/test/misdeclared", "viewer").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&router, "/api/v1/test/misdeclared", "admin").await,
        StatusCode::OK
    );
}
