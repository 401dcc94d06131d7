//! What the benchmark examples share: their command-line numbers and a fresh embedded database
//! holding one organization. Each example is its own binary and uses part of this.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use domain::OrgId;

/// The number after `name` on the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// A migrated SQLite database in `dir` with one organization, `bench`.
pub async fn sqlite_with_org(dir: &Path) -> (store::Store, OrgId) {
    let store = store::Store::connect(
        &store::DatabaseUrl::Sqlite(dir.join("bench.db")),
        &store::PoolOptions::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let org = OrgId::new();
    {
        let mut c = store.acquire().await.unwrap();
        store::identity::orgs::insert(&mut c.conn(), org, "Bench", "bench", chrono::Utc::now())
            .await
            .unwrap();
    }
    (store, org)
}
