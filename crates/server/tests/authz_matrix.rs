//! The authorization matrix (identity spec §3.4), generated from the route table: every route
//! of the server is called by anonymous, viewer, editor, admin, owner, the owner of another
//! org, a platform admin without membership, and API tokens with and without the needed
//! scope. Each status is compared with `authz_matrix.txt` (regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo nextest run -p server -E 'binary(authz_matrix)'` and review the
//! diff), so a new route without an entry fails; independently of the table, every denial must
//! be the one the declaration and the compiled role matrix predict, and must change nothing.
//!
//! Path ids are ids of nothing (so an allowed call reaches the org-scoped lookup and answers
//! 404, the same as another org's id) and bodies are `{}` (so an allowed call stops at
//! validation); each route gets fresh fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::{Method, StatusCode};
use domain::{Permission, Role, Tier};
use serde_json::json;
use server::{AuthKind, RouteDecl, Rule};
use store::testing::TestDb;
use store::{Backend, backend_tests};
use support::{Call, Env, PASSWORD, Session, digest, env, set_tier};

/// The scope the unscoped token holds: grantable, held by the owner, needed by no route here.
const UNRELATED_SCOPE: Permission = Permission::WebhooksRead;

struct Fixture {
    sessions: Vec<(&'static str, Option<String>)>,
}

async fn fixture(e: &Env, db: &TestDb) -> Fixture {
    let owner = e.setup("owner@example.com").await;
    set_tier(e, owner.org_id.unwrap(), Tier::Team).await;
    let viewer = e
        .add_member(&owner, "viewer@example.com", Role::Viewer)
        .await;
    let editor = e
        .add_member(&owner, "editor@example.com", Role::Editor)
        .await;
    let admin = e.add_member(&owner, "admin@example.com", Role::Admin).await;
    let other = e.other_org_owner(db, "other@example.com").await;
    e.app
        .create_user(app::identity::NewUserInput {
            email: "platform@example.com".into(),
            password: PASSWORD.into(),
            name: None,
            org_slug: None,
            role: None,
            platform_admin: true,
        })
        .await
        .unwrap();
    let platform = e.login("platform@example.com").await;
    let all: Vec<&str> = Permission::ALL
        .iter()
        .filter(|p| p.api_grantable() && p.granted_to(Role::Owner))
        .map(|p| p.as_str())
        .collect();
    let scoped = e.token(&owner, "scoped", &all).await;
    let unscoped = e
        .token(&owner, "unscoped", &[UNRELATED_SCOPE.as_str()])
        .await;
    let s = |x: Session| Some(x.access);
    Fixture {
        sessions: vec![
            ("anonymous", None),
            ("viewer", s(viewer)),
            ("editor", s(editor)),
            ("admin", s(admin)),
            ("owner", s(owner)),
            ("other_owner", s(other)),
            ("platform_admin", s(platform)),
            ("token_scoped", Some(scoped)),
            ("token_unscoped", Some(unscoped)),
        ],
    }
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            s if s.starts_with("{*") => "x".to_owned(),
            s if s.starts_with('{') => uuid::Uuid::now_v7().to_string(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The denial the declaration predicts for a principal, from the compiled matrix alone.
fn predicted_denial(route: &RouteDecl, who: &str) -> Option<StatusCode> {
    let a = route.access;
    if a.auth == AuthKind::Public {
        return None;
    }
    let (role, token, platform) = match who {
        // Pages that send visitors to sign in answer a GET with 303 instead of 401.
        "anonymous" if a.signin_redirect && route.method == Method::GET => {
            return Some(StatusCode::SEE_OTHER);
        }
        "anonymous" => return Some(StatusCode::UNAUTHORIZED),
        "viewer" => (Some(Role::Viewer), None, false),
        "editor" => (Some(Role::Editor), None, false),
        "admin" => (Some(Role::Admin), None, false),
        // The owner made by setup is also the instance's platform admin.
        "owner" => (Some(Role::Owner), None, true),
        "other_owner" => (Some(Role::Owner), None, false),
        "platform_admin" => (None, None, true),
        "token_scoped" => (Some(Role::Owner), Some(true), false),
        _ => (Some(Role::Owner), Some(false), false),
    };
    let token_ok = matches!(a.auth, AuthKind::SessionOrToken | AuthKind::Token);
    let session_ok = a.auth != AuthKind::Token;
    if token.is_some() && !token_ok || token.is_none() && !session_ok {
        return Some(StatusCode::UNAUTHORIZED);
    }
    let holds = |p: Permission| {
        if p.platform_only() {
            return platform && token.is_none();
        }
        let Some(role) = role else { return false };
        p.granted_to(role)
            && match token {
                None => true,
                Some(scoped) => p.api_grantable() && (scoped || p == UNRELATED_SCOPE),
            }
    };
    match a.rule {
        Rule::None => None,
        Rule::AnyMember if role.is_some() => None,
        Rule::AnyMember => Some(StatusCode::FORBIDDEN),
        Rule::Permission(p) if holds(p) => None,
        Rule::Permission(_) => Some(StatusCode::FORBIDDEN),
    }
}

async fn matrix(backend: Backend) -> String {
    let probe = TestDb::new(backend).await;
    let table = server::build(
        app::App::new(
            probe.store.clone(),
            std::sync::Arc::new(domain::SystemClock),
            app::identity::IdentityConfig::ephemeral(support::PUBLIC),
        ),
        server::ServerConfig::default(),
    )
    .1;
    let mut out = String::new();
    for route in table.routes() {
        let db = TestDb::new(backend).await;
        let e = env(&db);
        let f = fixture(&e, &db).await;
        let path = concrete(&route.path);
        let mut line = format!("{} {}", route.method, route.path);
        for (who, credential) in &f.sessions {
            let before = digest(&db).await;
            let body =
                (route.method != Method::GET && route.method != Method::DELETE).then(|| json!({}));
            let a = e
                .call(
                    route.method.clone(),
                    &path,
                    Call {
                        bearer: credential.as_deref(),
                        body,
                        ..Call::default()
                    },
                )
                .await;
            if let Some(expected) = predicted_denial(route, who) {
                assert_eq!(
                    a.status, expected,
                    "{} {} as {who}: {a:?}",
                    route.method, route.path
                );
            } else {
                assert!(
                    !matches!(a.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                        || route.access.auth == AuthKind::Public,
                    "{} {} as {who} should pass the guard: {a:?}",
                    route.method,
                    route.path
                );
            }
            if matches!(
                a.status,
                StatusCode::UNAUTHORIZED
                    | StatusCode::FORBIDDEN
                    | StatusCode::NOT_FOUND
                    | StatusCode::PAYMENT_REQUIRED
            ) {
                assert_eq!(
                    digest(&db).await,
                    before,
                    "{} {} as {who} was refused but changed data",
                    route.method,
                    route.path
                );
            }
            line.push_str(&format!(" {who}={}", a.status.as_u16()));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn compare(actual: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/authz_matrix.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        let missing: Vec<&str> = actual
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .collect();
        panic!(
            "the authorization matrix differs from tests/authz_matrix.txt; lines without an equal entry:\n{}\n(regenerate with UPDATE_SNAPSHOTS=1 and review the diff)",
            missing.join("\n")
        );
    }
}

backend_tests! {
    async fn every_route_answers_every_principal_as_the_table_says(db: &TestDb) {
        let backend = db.store.backend();
        compare(&matrix(backend).await);
    }
}
