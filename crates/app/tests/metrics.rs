//! The metric API over stored rows (analytics spec §9): the §9.7 golden vectors written as
//! commits, PRs with reviews and work items with transitions, recomputed the way sync does,
//! and read back through `App::metric` on both backends; scopes, bots, other orgs' ids and
//! bad parameters.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod metrics_fixture;

use app::ErrorKind;
use app::analytics::MetricQuery;
use metrics_fixture::*;
use serde_json::json;
use store::analytics::teams;
use store::backend_tests;

backend_tests! {
    async fn golden_commits_give_two_commits_one_merge_and_churn_24(db: &TestDb) {
        let s = &db.store;
        let org = org(s, "acme").await;
        let r = repo(s, org, "acme/web").await;
        let alice = identity(s, org, "Alice", false).await;
        commit(s, org, r, "m1", Some(alice), at(1, 12, 0), 2, &[("src/x.rs", 7, 7, false, false)]).await;
        commit(s, org, r, "a1", Some(alice), at(1, 13, 0), 1, &[("src/a.rs", 10, 2, false, false)]).await;
        commit(s, org, r, "b1", Some(alice), at(1, 14, 0), 1, &[
            ("src/b.rs", 10, 2, false, false),
            ("logo.png", 0, 0, true, false),
            ("Cargo.lock", 500, 0, false, true),
        ]).await;
        // The same commit mirrored in a second repo counts once for the org.
        let fork = repo(s, org, "acme/web-fork").await;
        commit(s, org, fork, "a1", Some(alice), at(1, 13, 0), 1, &[("src/a.rs", 10, 2, false, false)]).await;
        let app = app(s);
        let day = q("2024-03-01", "2024-03-01", "day");
        let want = [("commits", 2.0), ("merge_commits", 1.0), ("churn", 24.0), ("additions", 20.0), ("deletions", 4.0), ("files_changed", 4.0)];
        for (key, value) in want {
            let a = metric(&app, org, key, &day).await;
            close(sum(&a, "value"), value);
            assert_eq!(a.points.len(), 1);
            assert_eq!(a.points[0].stats["value"], a.summary["value"], "{key}");
        }
        // Repo scope: the fork alone has one commit.
        let fork_q = MetricQuery { scope: Some("repo".into()), scope_id: Some(fork.to_string()), ..day.clone() };
        close(sum(&metric(&app, org, "commits", &fork_q).await, "value"), 1.0);
        // Person scope and an empty day elsewhere: counts are 0.
        let person = MetricQuery { scope: Some("person".into()), scope_id: Some(alice.to_string()), ..q("2024-03-01", "2024-03-02", "day") };
        let a = metric(&app, org, "churn", &person).await;
        assert_eq!(a.points[1].stats["value"], json!(0));
        close(sum(&a, "value"), 24.0);
    }

    async fn golden_pr_phases_and_the_no_review_variant(db: &TestDb) {
        let s = &db.store;
        let org = org(s, "acme").await;
        let r = repo(s, org, "acme/web").await;
        let alice = identity(s, org, "Alice", false).await;
        let bob = identity(s, org, "Bob", false).await;
        let bot = identity(s, org, "renovate[bot]", true).await;
        let reviews = [
            review("self", Some(alice), "alice", "commented", at(1, 16, 0), true),
            review("bot", Some(bot), "renovate[bot]", "approved", at(1, 17, 0), false),
            review("r1", Some(bob), "bob", "commented", at(2, 10, 0), false),
            review("r2", Some(bob), "bob", "approved", at(2, 16, 0), false),
        ];
        write_pr(s, org, &pr(r, 1, Some(alice), at(1, 15, 0), Some(at(3, 9, 0))), Some(at(1, 9, 0)), &reviews).await;
        // Re-sync of the same rows: idempotent.
        write_pr(s, org, &pr(r, 1, Some(alice), at(1, 15, 0), Some(at(3, 9, 0))), Some(at(1, 9, 0)), &reviews).await;
        write_pr(s, org, &pr(r, 2, Some(alice), at(1, 15, 0), Some(at(3, 9, 0))), Some(at(1, 9, 0)), &[]).await;
        write_pr(s, org, &pr(r, 3, Some(bob), at(20, 10, 0), None), None, &[]).await;
        let app = app(s);
        let window = q("2024-03-01", "2024-03-07", "week");
        let reviewed = MetricQuery { scope: Some("person".into()), scope_id: Some(alice.to_string()), ..window.clone() };
        let m = |key: &'static str| { let app = &app; let w = &window; async move { metric(app, org, key, w).await } };
        close(sum(&m("pr_cycle_time").await, "p50"), 42.0 * H);
        assert_eq!(m("pr_cycle_time").await.summary["count"], json!(2));
        close(sum(&m("pr_lead_time").await, "p50"), 48.0 * H);
        close(sum(&m("pr_coding_time").await, "p90"), 6.0 * H);
        for (key, hours) in [("pr_pickup_time", 19.0), ("pr_review_time", 6.0), ("pr_merge_time", 17.0)] {
            let a = m(key).await;
            assert_eq!(a.summary["count"], json!(1), "{key}: the unreviewed PR is not in it");
            close(sum(&a, "p50"), hours * H);
            close(sum(&a, "mean"), hours * H);
        }
        close(sum(&m("pr_merged").await, "value"), 2.0);
        close(sum(&m("pr_merged_without_review").await, "value"), 1.0);
        close(sum(&m("pr_size").await, "p50"), 35.0);
        close(sum(&m("pr_opened").await, "value"), 2.0);
        // The first non-self, non-bot review came 19 h after opening, on 03-02.
        let latency = m("review_latency").await;
        close(sum(&latency, "p50"), 19.0 * H);
        close(sum(&m("reviews_given").await, "value"), 3.0);
        let bob_q = MetricQuery { scope: Some("person".into()), scope_id: Some(bob.to_string()), ..window.clone() };
        close(sum(&metric(&app, org, "reviews_given", &bob_q).await, "value"), 2.0);
        close(sum(&metric(&app, org, "pr_cycle_time", &reviewed).await, "p50"), 42.0 * H);
        // Nulls over no items, count 0.
        let empty = metric(&app, org, "pr_cycle_time", &q("2024-03-11", "2024-03-12", "day")).await;
        assert_eq!((empty.summary["count"].clone(), empty.summary["p50"].clone()), (json!(0), json!(null)));
        // WIP: PR 3 is open from 03-20 on; PRs 1 and 2 were open at the end of 03-01 and 03-02.
        let wip = metric(&app, org, "pr_wip", &q("2024-03-01", "2024-03-03", "day")).await;
        let values: Vec<_> = wip.points.iter().map(|p| p.stats["value"].clone()).collect();
        assert_eq!(values, [json!(2), json!(2), json!(0)]);
        close(sum(&wip, "mean"), 4.0 / 3.0);
    }

    async fn golden_work_items_with_the_reopen_variant_and_wip(db: &TestDb) {
        let s = &db.store;
        let org = org(s, "acme").await;
        let alice = identity(s, org, "Alice", false).await;
        let bob = identity(s, org, "Bob", false).await;
        let golden = [
            tr("todo", "in_progress", at(2, 0, 0)),
            tr("in_progress", "blocked", at(3, 0, 0)),
            tr("blocked", "in_progress", at(4, 0, 0)),
            tr("in_progress", "in_review", at(5, 0, 0)),
            tr("in_review", "done", at(5, 12, 0)),
        ];
        let mut reopened = golden.to_vec();
        reopened.push(tr("done", "in_progress", at(6, 0, 0)));
        reopened.push(tr("in_progress", "done", at(6, 6, 0)));
        write_item(s, org, &item("ENG-1", Some("ENG"), Some(alice), at(1, 0, 0), "done"), &golden).await;
        write_item(s, org, &item("OPS-1", Some("OPS"), Some(bob), at(1, 0, 0), "done"), &reopened).await;
        let mut c = s.acquire().await.unwrap();
        let eng = teams::create(&mut c.conn(), org, "eng", "Engineering", &["ENG".to_owned()], at(1, 0, 0)).await.unwrap();
        drop(c);
        // Team attribution is recomputed with the facts.
        write_item(s, org, &item("ENG-1", Some("ENG"), Some(alice), at(1, 0, 0), "done"), &golden).await;
        let app = app(s);
        let per = |who: domain::IdentityId| MetricQuery { scope: Some("person".into()), scope_id: Some(who.to_string()), ..q("2024-03-01", "2024-03-07", "week") };
        let a = per(alice);
        close(sum(&metric(&app, org, "item_cycle_time", &a).await, "p50"), 84.0 * H);
        close(sum(&metric(&app, org, "item_lead_time", &a).await, "p50"), 108.0 * H);
        let fe = sum(&metric(&app, org, "flow_efficiency", &a).await, "value");
        assert!((fe - 0.714286).abs() < 1e-6, "{fe}");
        let b = per(bob);
        close(sum(&metric(&app, org, "item_cycle_time", &b).await, "p50"), 102.0 * H);
        let fe = sum(&metric(&app, org, "flow_efficiency", &b).await, "value");
        assert!((fe - 0.647059).abs() < 1e-6, "{fe}");
        // The reopened item completes on 03-06; the golden one on 03-05.
        let daily = metric(&app, org, "items_completed", &q("2024-03-05", "2024-03-06", "day")).await;
        let v: Vec<_> = daily.points.iter().map(|p| p.stats["value"].clone()).collect();
        assert_eq!(v, [json!(1), json!(1)]);
        // WIP at each day's end, 03-01…03-06: the golden vector plus the reopened item.
        let wip = metric(&app, org, "wip", &q("2024-03-01", "2024-03-06", "day")).await;
        let v: Vec<_> = wip.points.iter().map(|p| p.stats["value"].clone()).collect();
        assert_eq!(v, [json!(0), json!(2), json!(2), json!(2), json!(0), json!(0)]);
        // Their age at each day's end: both started 03-02 00:00; the reopened one is WIP again
        // at the end of 03-06 but finished by then (done 06:00), so it is not.
        let age = metric(&app, org, "wip_age", &q("2024-03-01", "2024-03-06", "day")).await;
        let p50: Vec<_> = age.points.iter().map(|p| p.stats["p50"].clone()).collect();
        let h = |x: f64| json!(x * H);
        assert_eq!(p50, [json!(null), h(24.0), h(48.0), h(72.0), json!(null), json!(null)]);
        let counts: Vec<_> = age.points.iter().map(|p| p.stats["count"].clone()).collect();
        assert_eq!(counts, [json!(0), json!(2), json!(2), json!(2), json!(0), json!(0)]);
        // A week is read at its last day's end (weeks start on Monday): Friday 03-01 … Sunday
        // 03-03, both blocked at 48 h; then 03-04 … 03-07, both done by then.
        let week = metric(&app, org, "wip_age", &q("2024-03-01", "2024-03-07", "week")).await;
        let p50: Vec<_> = week.points.iter().map(|p| p.stats["p50"].clone()).collect();
        assert_eq!(p50, [h(48.0), json!(null)]);
        let counts: Vec<_> = week.points.iter().map(|p| p.stats["count"].clone()).collect();
        assert_eq!(counts, [json!(2), json!(0)]);
        let team = MetricQuery { scope: Some("team".into()), scope_id: Some(eng.to_string()), ..q("2024-03-01", "2024-03-07", "week") };
        close(sum(&metric(&app, org, "items_completed", &team).await, "value"), 1.0);
        close(sum(&metric(&app, org, "items_created", &team).await, "value"), 1.0);
        close(sum(&metric(&app, org, "items_canceled", &team).await, "value"), 0.0);
    }

    async fn scopes_bots_other_orgs_and_bad_parameters(db: &TestDb) {
        let s = &db.store;
        let org = org(s, "acme").await;
        let other = org_other(s).await;
        let r = repo(s, org, "acme/web").await;
        let theirs = repo(s, other, "other/web").await;
        let alice = identity(s, org, "Alice", false).await;
        let bot = identity(s, org, "dependabot[bot]", true).await;
        commit(s, org, r, "a1", Some(alice), at(1, 13, 0), 1, &[("src/a.rs", 1, 1, false, false)]).await;
        commit(s, org, r, "b1", Some(bot), at(1, 14, 0), 1, &[("deps.txt", 5, 5, false, false)]).await;
        let mut c = s.acquire().await.unwrap();
        let team = teams::create(&mut c.conn(), org, "web", "Web", &[], at(1, 0, 0)).await.unwrap();
        teams::add_member(&mut c.conn(), org, team, alice, at(1, 0, 0)).await.unwrap();
        teams::add_member(&mut c.conn(), org, team, bot, at(1, 0, 0)).await.unwrap();
        drop(c);
        let app = app(s);
        let day = q("2024-03-01", "2024-03-01", "day");
        let with = |scope: &str, id: String| MetricQuery { scope: Some(scope.into()), scope_id: Some(id), ..day.clone() };
        // Bots count for the repo and the org, not for people or teams.
        close(sum(&metric(&app, org, "churn", &day).await, "value"), 12.0);
        close(sum(&metric(&app, org, "churn", &with("team", team.to_string())).await, "value"), 2.0);
        close(sum(&metric(&app, org, "commits", &with("person", bot.to_string())).await, "value"), 0.0);
        // The repo filter together with the team.
        let both = MetricQuery { repo_id: Some(r.to_string()), ..with("team", team.to_string()) };
        close(sum(&metric(&app, org, "commits", &both).await, "value"), 1.0);

        let err = |key: &'static str, q: MetricQuery| { let app = &app; async move { app.metric(&viewer(org), key, &q).await.unwrap_err() } };
        let e = err("commits", with("repo", theirs.to_string())).await;
        assert_eq!((e.kind, e.code), (ErrorKind::NotFound, "not_found"));
        let e = err("commits", with("team", domain::TeamId::new().to_string())).await;
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(err("no_such_metric", day.clone()).await.kind, ErrorKind::NotFound);
        for (q, field) in [
            (MetricQuery { scope: Some("galaxy".into()), ..day.clone() }, "scope"),
            (MetricQuery { scope: Some("repo".into()), ..day.clone() }, "scope_id"),
            (with("repo", "nope".into()), "scope_id"),
            (MetricQuery { grain: Some("hour".into()), ..day.clone() }, "grain"),
            (MetricQuery { from: Some("2024-13-01".into()), ..day.clone() }, "from"),
            (MetricQuery { from: Some("2024-03-02".into()), ..day.clone() }, "from"),
            (MetricQuery { stats: Some("p50".into()), ..day.clone() }, "stats"),
        ] {
            let e = err("commits", q).await;
            assert_eq!((e.kind, e.code, e.details["field"].as_str()), (ErrorKind::BadRequest, "invalid_query", Some(field)), "{e:?}");
        }
        let e = err("commits", q("2023-01-01", "2024-01-02", "day")).await;
        assert_eq!((e.kind, e.code), (ErrorKind::BadRequest, "window_too_large"));
        assert!(e.message.contains("367 days") && e.message.contains("366"), "{}", e.message);
        assert_eq!(app.metric(&viewer(org), "commits", &q("2023-01-01", "2024-12-31", "week")).await.unwrap().points.len(), 106);
        assert_eq!(err("commits", q("2022-01-01", "2024-12-31", "week")).await.code, "window_too_large");
        assert_eq!(app.metric_catalog(&viewer(org)).len(), 27);
    }
}

async fn org_other(s: &store::Store) -> domain::OrgId {
    org(s, "other").await
}
