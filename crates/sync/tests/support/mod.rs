//! Shared test support of the provider connector tests: the fake provider server and a client
//! on a manual clock with a recording sleeper.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod fake;
pub mod recorder;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ManualClock;
use sync::providers::time::{RecordingSleeper, Timekeeper};
use sync::providers::{Auth, HttpClient, HttpConfig, ProviderKind, Token};

/// The fixed "now" of every test: after every fixture timestamp, before every reset header.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-04-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A fixture timestamp (RFC 3339) in UTC.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The fixture credentials (tests check the headers they become and that none is written).
pub const GITHUB_TOKEN: &str = "ghp_fixture0000token";
pub const GITLAB_TOKEN: &str = "glpat-fixture0000";
pub const JIRA_EMAIL: &str = "ana@acme.example";
pub const JIRA_TOKEN: &str = "ATATT3xFfGF0fixture";
pub const LINEAR_KEY: &str = "lin_api_fixture0000";

/// A GitHub client with a personal access token.
pub fn gh() -> TestClient {
    client(ProviderKind::Github, Auth::Bearer(Token::new(GITHUB_TOKEN)))
}

/// A GitLab client with a personal access token.
pub fn gl() -> TestClient {
    client(
        ProviderKind::Gitlab,
        Auth::PrivateToken(Token::new(GITLAB_TOKEN)),
    )
}

/// A Jira Cloud client with basic `email:api_token`.
pub fn jc() -> TestClient {
    client(
        ProviderKind::Jira,
        Auth::Basic {
            email: JIRA_EMAIL.into(),
            token: Token::new(JIRA_TOKEN),
        },
    )
}

/// A Linear client with a personal API key.
pub fn lc() -> TestClient {
    client(ProviderKind::Linear, Auth::Plain(Token::new(LINEAR_KEY)))
}

/// A client with its manual clock and recording sleeper.
pub struct TestClient {
    pub http: HttpClient,
    pub clock: Arc<ManualClock>,
    pub sleeper: Arc<RecordingSleeper>,
}

impl TestClient {
    /// Every wait requested, in whole seconds.
    pub fn waits_s(&self) -> Vec<u64> {
        self.sleeper.waits().iter().map(|d| d.as_secs()).collect()
    }
}

/// A client for `kind` on the manual clock at [`t0`], with a fixed jitter seed.
pub fn client(kind: ProviderKind, auth: Auth) -> TestClient {
    client_with(kind, auth, HttpConfig::default())
}

/// Like [`client`], with a custom config (the jitter seed is fixed either way).
pub fn client_with(kind: ProviderKind, auth: Auth, config: HttpConfig) -> TestClient {
    let clock = Arc::new(ManualClock::new(t0()));
    let sleeper = Arc::new(RecordingSleeper::advancing(clock.clone()));
    let http = HttpClient::new(
        kind,
        auth,
        HttpConfig {
            jitter_seed: Some(42),
            ..config
        },
        Timekeeper {
            clock: clock.clone(),
            sleeper: sleeper.clone(),
        },
    )
    .unwrap();
    TestClient {
        http,
        clock,
        sleeper,
    }
}
