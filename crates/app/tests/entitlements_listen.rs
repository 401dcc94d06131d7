//! Cross-replica invalidation when the PostgreSQL `LISTEN` connection is lost (entitlements spec
//! §5.6): the replica stops trusting its cache (snapshots live at most 1 s), reconnects with
//! backoff, drops everything once, and then follows notifications again.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::App;
use app::authz::{Credential, Principal, authorize};
use app::entitlements::{EntitlementConfig, Mode, OverrideInput};
use domain::permission::marker::PlatformFeatureOverrides;
use domain::{Feature, OrgId, SystemClock};
use store::Backend;
use store::testing::TestDb;
use tokio_util::sync::CancellationToken;

fn replica(db: &TestDb, identity: app::identity::IdentityConfig) -> App {
    App::new(db.store.clone(), Arc::new(SystemClock), identity)
        .with_entitlements(EntitlementConfig::new(Mode::Saas, "saas-test", None).unwrap())
}

/// Waits until `org`'s audit_log decision on `app` is `allowed`; the time it took.
async fn until_allowed(app: &App, org: OrgId, allowed: bool) -> Duration {
    let start = Instant::now();
    while app.require(org, Feature::AuditLog).await.is_ok() != allowed {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "audit_log never became {allowed}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listen_connection_degrades_to_short_lived_snapshots_and_recovers() {
    let db = TestDb::new(Backend::Postgres).await;
    let org = OrgId::new();
    {
        let mut c = db.store.acquire().await.unwrap();
        store::identity::orgs::insert(&mut c.conn(), org, "Acme", "acme", chrono::Utc::now())
            .await
            .unwrap();
    }
    let identity = app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000");
    let writer = replica(&db, identity.clone());
    let reader = replica(&db, identity);
    let stop = CancellationToken::new();
    let loop_ = {
        let reader = reader.clone();
        let stop = stop.clone();
        tokio::spawn(async move { reader.run_entitlements(stop).await })
    };
    let admin_id = writer
        .create_user(app::identity::NewUserInput {
            email: "platform@example.com".into(),
            password: "correct horse battery staple".into(),
            name: None,
            org_slug: None,
            role: None,
            platform_admin: true,
        })
        .await
        .unwrap();
    let admin = Principal {
        user_id: admin_id,
        membership: None,
        platform_admin: true,
        credential: Credential::Session,
        credential_id: uuid::Uuid::now_v7(),
    };
    let admin = authorize::<PlatformFeatureOverrides>(Some(&admin)).unwrap();
    let grant = || OverrideInput {
        enabled: true,
        expires_at: None,
        reason: "test".into(),
    };

    // Listening: a change on the writer reaches the reader through NOTIFY.
    assert!(reader.require(org, Feature::AuditLog).await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    writer
        .put_override(&admin, org, "audit_log", grant())
        .await
        .unwrap();
    let notified = until_allowed(&reader, org, true).await;

    // Kill the reader's LISTEN connection, then change the input while it is gone.
    let mut c = db.store.acquire().await.unwrap();
    let killed: Vec<bool> = match c.conn() {
        store::Conn::Postgres(c) => store::sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap(),
        store::Conn::Sqlite(_) => unreachable!(),
    };
    drop(c);
    assert_eq!(killed, [true], "one LISTEN connection was terminated");
    writer
        .delete_override(&admin, org, "audit_log")
        .await
        .unwrap();
    let while_lost = until_allowed(&reader, org, false).await;

    // Reconnected (within the 0.5 s first backoff): notifications work again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    writer
        .put_override(&admin, org, "audit_log", grant())
        .await
        .unwrap();
    let after = until_allowed(&reader, org, true).await;
    println!(
        "notified {} ms; with the connection lost {} ms; after reconnecting {} ms",
        notified.as_millis(),
        while_lost.as_millis(),
        after.as_millis()
    );
    stop.cancel();
    loop_.await.unwrap();
}
