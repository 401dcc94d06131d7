//! Shared test support of the provider connector tests: the fake provider server and a client
//! on a manual clock with a recording sleeper.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod fake;
pub mod recorder;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ManualClock;
use sync::providers::time::{RecordingSleeper, Timekeeper};
use sync::providers::{Auth, HttpClient, HttpConfig, ProviderKind};

/// The fixed "now" of every test: after every fixture timestamp, before every reset header.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-04-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
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
