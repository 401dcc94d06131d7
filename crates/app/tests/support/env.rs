//! Helpers of `tests/provider_sync.rs`: the app with a fixed `DEV_HEALTH_SECRET_KEY`, run
//! options on a manual clock, orgs, integrations and the row reads the assertions compare.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use app::App;
use app::sync::{
    IntegrationKey, IntegrationSettings, IntegrationView, NewIntegration, ProviderSyncOptions,
    SecretText,
};
use auth::secrets::Place;
use chrono::{DateTime, Utc};
use domain::{IntegrationId, ManualClock, OrgId, RepoId, SystemClock};
use store::analytics::cursors::{self, CursorKey};
use store::analytics::metrics::Scope;
use store::analytics::metrics::prs::{MergedPr, merged as merged_prs};
use store::analytics::pull_requests;
use store::testing::TestDb;
use sync::providers::HttpConfig;
use sync::providers::time::{RecordingSleeper, Timekeeper};

use super::fake::Fake;

pub const GH_TOKEN: &str = "ghp_fixture0000token";
pub const LINEAR_TOKEN: &str = "lin_api_fixture0000";
/// 32 bytes of 7, base64: the `DEV_HEALTH_SECRET_KEY` of these tests.
pub const KEY_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-04-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn app(db: &TestDb) -> App {
    App::new(
        db.store.clone(),
        Arc::new(SystemClock),
        app::identity::IdentityConfig::ephemeral("http://127.0.0.1:8000"),
    )
    .with_integration_key(IntegrationKey::from_base64(KEY_B64).unwrap())
}

/// Each run's HTTP client on a manual clock at [`t0`] (the fixtures' reset headers are relative
/// to it) with a sleeper that returns at once.
pub fn opts() -> ProviderSyncOptions {
    let clock = Arc::new(ManualClock::new(t0()));
    ProviderSyncOptions {
        trigger: "cli",
        http: HttpConfig {
            jitter_seed: Some(42),
            ..HttpConfig::default()
        },
        time: Some(Timekeeper {
            clock: clock.clone(),
            sleeper: Arc::new(RecordingSleeper::advancing(clock)),
        }),
    }
}

pub async fn org(db: &TestDb, slug: &str) -> OrgId {
    let id = OrgId::new();
    let mut c = db.store.acquire().await.unwrap();
    store::identity::orgs::insert(&mut c.conn(), id, slug, slug, Utc::now())
        .await
        .unwrap();
    id
}

pub fn place<'a>(row: &'a str, org: &'a str) -> Place<'a> {
    Place {
        table: "integrations",
        column: "secret_ct",
        row_id: row,
        org_id: org,
    }
}

pub fn new_integration(provider: &str, base: String, token: &str) -> NewIntegration {
    NewIntegration {
        provider: provider.into(),
        base_url: Some(base),
        token: SecretText::new(token),
        settings: IntegrationSettings::default(),
    }
}

/// An org's GitHub integration and the fixture repository bound to it.
pub async fn github_repo(app: &App, org: OrgId, fake: &Fake) -> (IntegrationId, RepoId) {
    let i = app
        .create_integration(org, &new_integration("github", fake.base.clone(), GH_TOKEN))
        .await
        .unwrap();
    let repo = app
        .add_hosted_repo(org, i.id, "octo-org/hello-world")
        .await
        .unwrap();
    (i.id, repo)
}

/// An org's GitLab integration and the fixture project (id 42) bound to it.
pub async fn gitlab_repo(app: &App, org: OrgId, fake: &Fake) -> (IntegrationView, RepoId) {
    let i = app
        .create_integration(
            org,
            &new_integration(
                "gitlab",
                format!("{}/api/v4", fake.base),
                "glpat-fixture0000",
            ),
        )
        .await
        .unwrap();
    let repo = app.add_hosted_repo(org, i.id, "42").await.unwrap();
    (i, repo)
}

pub async fn pr_rows(db: &TestDb, org: OrgId, repo: RepoId) -> pull_requests::RowCounts {
    let mut c = db.store.acquire().await.unwrap();
    pull_requests::row_counts(&mut c.conn(), org, repo)
        .await
        .unwrap()
}

pub async fn pr_versions(db: &TestDb, org: OrgId, repo: RepoId) -> Vec<(i64, DateTime<Utc>)> {
    let mut c = db.store.acquire().await.unwrap();
    pull_requests::updated_at_by_number(&mut c.conn(), org, repo)
        .await
        .unwrap()
}

/// The PRs merged in March 2024 with their `pr_metrics` values.
pub async fn merged(db: &TestDb, org: OrgId, repo: RepoId) -> Vec<MergedPr> {
    let mut c = db.store.acquire().await.unwrap();
    let scope = Scope {
        repo: Some(repo),
        ..Scope::default()
    };
    merged_prs(
        &mut c.conn(),
        org,
        &scope,
        at("2024-03-01T00:00:00Z"),
        at("2024-04-01T00:00:00Z"),
    )
    .await
    .unwrap()
}

pub async fn cursor(db: &TestDb, org: OrgId, source: uuid::Uuid, dataset: &str) -> cursors::Cursor {
    let mut c = db.store.acquire().await.unwrap();
    let key = CursorKey {
        source_id: source,
        dataset,
        key: "",
    };
    cursors::get(&mut c.conn(), org, key)
        .await
        .unwrap()
        .unwrap()
}
