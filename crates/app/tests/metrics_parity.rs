//! SQLite and PostgreSQL give identical metrics (analytics spec §1 portable types, §9): one
//! dataset of a few hundred commits, PRs with reviews and work items with transitions,
//! generated from a seeded RNG, is written to a fresh database of each backend through the
//! same repositories and recompute, and every metric is asked for at both grains and in every
//! scope; the answers must be equal, floats bit for bit.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod metrics_fixture;

use app::analytics::{MetricQuery, catalog::CATALOG};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{IdentityId, OrgId, RepoId, TeamId};
use metrics_fixture::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::analytics::teams;
use store::testing::TestDb;
use store::{Backend, Store, backend_tests};

const STATUSES: [&str; 7] = [
    "backlog",
    "todo",
    "in_progress",
    "in_review",
    "blocked",
    "done",
    "canceled",
];
const PATHS: [&str; 8] = [
    "src/a.rs",
    "src/b.rs",
    "src/c/d.rs",
    "README.md",
    "Cargo.lock",
    "img.png",
    "vendor/x.go",
    "docs/e.md",
];

struct Ids {
    org: OrgId,
    repos: Vec<RepoId>,
    people: Vec<IdentityId>,
}

fn uuid(rng: &mut StdRng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn time(rng: &mut StdRng) -> DateTime<Utc> {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    start + Duration::microseconds(rng.random_range(0..90 * 86_400_000_000i64))
}

fn ids(seed: u64) -> Ids {
    let mut rng = StdRng::seed_from_u64(seed);
    Ids {
        org: OrgId::from_uuid(uuid(&mut rng)),
        repos: (0..3).map(|_| RepoId::from_uuid(uuid(&mut rng))).collect(),
        people: (0..6)
            .map(|_| IdentityId::from_uuid(uuid(&mut rng)))
            .collect(),
    }
}

/// Writes the dataset of `seed`; returns the two teams' ids (made by the store, so they
/// differ per database).
async fn generate(s: &Store, seed: u64) -> (Ids, Vec<TeamId>) {
    let ids = ids(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    org_with(s, ids.org, "gen").await;
    for (i, r) in ids.repos.iter().enumerate() {
        repo_with(s, ids.org, *r, &format!("gen/r{i}")).await;
    }
    for (i, p) in ids.people.iter().enumerate() {
        // The last identity is a bot.
        identity_with(s, ids.org, *p, &format!("p{i}"), i == 5).await;
    }
    let mut c = s.acquire().await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let a = teams::create(&mut c.conn(), ids.org, "a", "A", &["ENG*".to_owned()], t0)
        .await
        .unwrap();
    let b = teams::create(&mut c.conn(), ids.org, "b", "B", &["OPS".to_owned()], t0)
        .await
        .unwrap();
    for (team, who) in [(a, 0), (a, 1), (a, 5), (b, 2), (b, 3), (b, 1)] {
        teams::add_member(&mut c.conn(), ids.org, team, ids.people[who], t0)
            .await
            .unwrap();
    }
    drop(c);
    let person =
        |rng: &mut StdRng| (rng.random_bool(0.9)).then(|| ids.people[rng.random_range(0..6)]);

    for n in 0..300 {
        let repo = ids.repos[rng.random_range(0..3)];
        let sha = if n > 0 && rng.random_bool(0.05) {
            format!("c{}", n - 1)
        } else {
            format!("c{n}")
        };
        let parents = if rng.random_bool(0.1) { 2 } else { 1 };
        let mut files: Vec<File<'_>> = Vec::new();
        for _ in 0..rng.random_range(0..4) {
            let path = PATHS[rng.random_range(0..PATHS.len())];
            if files.iter().any(|f| f.0 == path) {
                continue;
            }
            let binary = path.ends_with(".png");
            let excluded = path == "Cargo.lock" || path.starts_with("vendor/");
            let (add, del) = if binary {
                (0, 0)
            } else {
                (rng.random_range(0..200), rng.random_range(0..50))
            };
            files.push((path, add, del, binary, excluded));
        }
        let author = person(&mut rng);
        let at = time(&mut rng);
        // A duplicate sha in the same repo is skipped (its primary key is taken).
        let mut c = s.acquire().await.unwrap();
        let taken: i64 = store::on_conn!(&mut c.conn(), c => store::sqlx::query_scalar(
            "SELECT COUNT(*) FROM commits WHERE org_id = $1 AND repo_id = $2 AND sha = $3")
            .bind(store::Id::from(ids.org)).bind(store::Id::from(repo)).bind(&sha)
            .fetch_one(&mut *c).await)
        .unwrap();
        drop(c);
        if taken == 0 {
            commit(s, ids.org, repo, &sha, author, at, parents, &files).await;
        }
    }

    for number in 0..150 {
        let repo = ids.repos[rng.random_range(0..3)];
        let author = person(&mut rng);
        let created = time(&mut rng);
        let roll = rng.random_range(0..100);
        let end = created + Duration::seconds(rng.random_range(60..20 * 86_400));
        let mut p = pr(repo, number, author, created, (roll < 70).then_some(end));
        if (70..80).contains(&roll) {
            p.state = "closed".into();
            p.closed_at = Some(end);
        }
        p.is_draft = rng.random_bool(0.15);
        p.additions = Some(rng.random_range(0..1500));
        if rng.random_bool(0.1) {
            p.size_state = "unknown".into();
        }
        let first_commit = rng
            .random_bool(0.8)
            .then(|| created + Duration::seconds(rng.random_range(-5 * 86_400..3600)));
        let mut reviews = Vec::new();
        for r in 0..rng.random_range(0..4) {
            let who = person(&mut rng);
            let state =
                ["approved", "changes_requested", "commented", "dismissed"][rng.random_range(0..4)];
            let t = created + Duration::seconds(rng.random_range(-3600..25 * 86_400));
            reviews.push(review(
                &format!("r{r}"),
                who,
                "someone",
                state,
                t,
                who.is_some() && who == author,
            ));
        }
        write_pr(s, ids.org, &p, first_commit, &reviews).await;
    }

    for n in 0..120 {
        let project = ["ENG-WEB", "ENG-API", "OPS", "MISC"][rng.random_range(0..4)];
        let created = time(&mut rng);
        let mut ts = Vec::new();
        let mut at = created;
        let mut from = "todo";
        for _ in 0..rng.random_range(0..7) {
            at += Duration::seconds(rng.random_range(0..6 * 86_400));
            let to = STATUSES[rng.random_range(0..STATUSES.len())];
            ts.push(tr(from, to, at));
            from = to;
        }
        let mut w = item(
            &format!("K-{n}"),
            Some(project),
            person(&mut rng),
            created,
            from,
        );
        if rng.random_bool(0.05) {
            w.deleted_at = Some(at);
        }
        write_item(s, ids.org, &w, &ts).await;
    }
    (ids, vec![a, b])
}

/// Every metric × grain × scope, as JSON without the scope ids (team ids differ per database).
async fn answers(backend: Backend, seed: u64) -> Vec<(String, serde_json::Value)> {
    let db = TestDb::new(backend).await;
    let (ids, teams) = generate(&db.store, seed).await;
    query_all(&db.store, &ids, &teams).await
}

async fn query_all(s: &Store, ids: &Ids, teams: &[TeamId]) -> Vec<(String, serde_json::Value)> {
    let app = app(s);
    let scopes: Vec<(&str, MetricQuery)> = vec![
        ("org", MetricQuery::default()),
        (
            "repo",
            MetricQuery {
                scope: Some("repo".into()),
                scope_id: Some(ids.repos[0].to_string()),
                ..Default::default()
            },
        ),
        (
            "team a",
            MetricQuery {
                scope: Some("team".into()),
                scope_id: Some(teams[0].to_string()),
                ..Default::default()
            },
        ),
        (
            "team b + repo",
            MetricQuery {
                team_id: Some(teams[1].to_string()),
                repo_id: Some(ids.repos[1].to_string()),
                ..Default::default()
            },
        ),
        (
            "person",
            MetricQuery {
                scope: Some("person".into()),
                scope_id: Some(ids.people[1].to_string()),
                ..Default::default()
            },
        ),
        (
            "bot",
            MetricQuery {
                scope: Some("person".into()),
                scope_id: Some(ids.people[5].to_string()),
                ..Default::default()
            },
        ),
    ];
    let mut out = Vec::new();
    for def in CATALOG {
        for grain in ["day", "week"] {
            for (name, scope) in &scopes {
                let mut query = MetricQuery {
                    from: Some("2024-01-01".into()),
                    to: Some("2024-03-31".into()),
                    grain: Some(grain.into()),
                    ..scope.clone()
                };
                query.stats = Some(def.kind.stats().join(","));
                let mut a = metric(&app, ids.org, def.key, &query).await;
                a.scope_id = None;
                out.push((
                    format!("{} {grain} {name}", def.key),
                    serde_json::to_value(&a).unwrap(),
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_compute_identical_metrics_over_a_generated_dataset() {
    let seed = 20240301;
    let sqlite = answers(Backend::Sqlite, seed).await;
    let postgres = answers(Backend::Postgres, seed).await;
    assert_eq!(sqlite.len(), postgres.len());
    let mut non_empty = 0;
    for ((name, a), (_, b)) in sqlite.iter().zip(&postgres) {
        assert_eq!(a, b, "{name} differs between SQLite and PostgreSQL");
        let summary = &a["summary"];
        if summary.get("count").and_then(|c| c.as_u64()).unwrap_or(0) > 0
            || summary.get("value").and_then(|v| v.as_f64()).unwrap_or(0.0) > 0.0
        {
            non_empty += 1;
        }
    }
    // The dataset reaches every metric in the org scope at least.
    for def in CATALOG {
        let (_, org_day) = sqlite
            .iter()
            .find(|(n, _)| n == &format!("{} day org", def.key))
            .unwrap();
        let s = &org_day["summary"];
        assert!(
            s.get("count").and_then(|c| c.as_u64()).unwrap_or(0) > 0
                || s.get("value").and_then(|v| v.as_f64()).unwrap_or(0.0) > 0.0
                || s.get("mean").and_then(|v| v.as_f64()).unwrap_or(0.0) > 0.0,
            "{} is empty over the generated dataset: {s}",
            def.key
        );
    }
    assert!(
        non_empty > sqlite.len() / 2,
        "{non_empty} of {}",
        sqlite.len()
    );
}

backend_tests! {
    /// §2.2: `metrics recompute --from --to` rebuilds the same facts the per-row recompute
    /// after each write produced.
    async fn a_range_recompute_gives_the_same_metrics_as_incremental_updates(db: &TestDb) {
        let (ids, teams) = generate(&db.store, 7).await;
        let incremental = query_all(&db.store, &ids, &teams).await;
        let mut c = db.store.acquire().await.unwrap();
        for table in ["pr_metrics", "work_item_facts"] {
            let sql = format!("DELETE FROM {table}");
            store::on_conn!(&mut c.conn(), c => store::sqlx::query(store::sqlx::AssertSqlSafe(sql))
                .execute(&mut *c).await.map(|_| ())).unwrap();
        }
        drop(c);
        let app = app(&db.store);
        let cleared = metric(&app, ids.org, "pr_merged", &q("2024-01-01", "2024-03-31", "week")).await;
        assert_eq!(cleared.summary["value"], 0);
        let from = Utc.with_ymd_and_hms(2023, 12, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
        let done = app.recompute_metrics(ids.org, from, to).await.unwrap();
        assert_eq!((done.pull_requests, done.work_items), (150, 120));
        assert_eq!(query_all(&db.store, &ids, &teams).await, incremental);
        assert!(app.recompute_metrics(ids.org, to, from).await.is_err());
    }
}
