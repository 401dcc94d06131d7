//! The analytics repositories behind metrics, on SQLite and PostgreSQL: re-syncing the same PR,
//! its commits and reviews, or the same work item writes no second row; transitions are
//! replaced; teams and members; facts are replaced whole; and the metric reads return one
//! population of one org and scope (bots left out of people and teams).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{DateTime, TimeZone, Utc};
use domain::{IdentityId, OrgId, RepoId};
use store::analytics::facts::{self, PrMetrics};
use store::analytics::metrics::code::commits;
use store::analytics::metrics::items::{ItemPopulation, items};
use store::analytics::metrics::prs::{PrPopulation, merged as merged_prs, prs, reviews_given};
use store::analytics::metrics::{Scope, identity_exists, repo_exists, team_exists};
use store::analytics::pull_requests::{self, PrCommit, PullRequest, Review};
use store::analytics::teams;
use store::analytics::work_items::{self, Transition, WorkItem};
use store::{Conn, Id, Ts, backend_tests, on_conn, sqlx};

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap()
}

async fn count(c: &mut Conn<'_>, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    on_conn!(c, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *c).await).unwrap()
}

async fn org(c: &mut Conn<'_>, slug: &str) -> OrgId {
    let id = OrgId::new();
    store::identity::orgs::insert(c, id, slug, slug, at(1, 0))
        .await
        .unwrap();
    id
}

async fn repo(c: &mut Conn<'_>, org: OrgId, name: &str) -> RepoId {
    let id = RepoId::new();
    on_conn!(c, c => sqlx::query(
        "INSERT INTO repos (org_id, id, provider, full_name, is_active, excluded_paths, \
         created_at, updated_at) VALUES ($1, $2, 'github', $3, TRUE, '[]', $4, $4)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(name).bind(Ts::new(at(1, 0)))
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    id
}

async fn identity(c: &mut Conn<'_>, org: OrgId, bot: bool) -> IdentityId {
    let id = IdentityId::new();
    on_conn!(c, c => sqlx::query(
        "INSERT INTO identities (org_id, id, display_name, is_bot, created_at) \
         VALUES ($1, $2, 'x', $3, $4)")
        .bind(Id::from(org)).bind(Id::from(id)).bind(bot).bind(Ts::new(at(1, 0)))
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    id
}

async fn commit(
    c: &mut Conn<'_>,
    org: OrgId,
    repo: RepoId,
    sha: &str,
    author: IdentityId,
    parents: i64,
) {
    on_conn!(c, c => sqlx::query(
        "INSERT INTO commits (org_id, repo_id, sha, author_name, author_email, \
         author_identity_id, authored_at, committer_name, committer_email, committed_at, \
         parent_count, subject, additions, deletions, files_changed, stats_state) \
         VALUES ($1, $2, $3, 'a', 'a@x', $4, $5, 'a', 'a@x', $5, $6, 's', 0, 0, 0, 'complete')")
        .bind(Id::from(org)).bind(Id::from(repo)).bind(sha).bind(Id::from(author))
        .bind(Ts::new(at(2, 12))).bind(parents)
        .execute(&mut *c).await.map(|_| ()))
    .unwrap();
    for path in ["b.rs", "a.rs"] {
        on_conn!(c, c => sqlx::query(
            "INSERT INTO commit_files (org_id, repo_id, sha, path, additions, deletions, \
             is_binary, change, is_excluded) VALUES ($1, $2, $3, $4, 3, 1, FALSE, 'M', FALSE)")
            .bind(Id::from(org)).bind(Id::from(repo)).bind(sha).bind(path)
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
    }
}

fn pr(repo: RepoId, author: IdentityId, title: &str) -> PullRequest {
    PullRequest {
        repo_id: repo,
        number: 7,
        provider: "github".into(),
        external_id: Some("n7".into()),
        title: title.into(),
        state: "merged".into(),
        is_draft: false,
        author_login: Some("alice".into()),
        author_identity_id: Some(author),
        head_ref: None,
        base_ref: None,
        labels: vec!["x".into()],
        created_at: at(1, 15),
        updated_at: at(3, 9),
        first_commit_at: None,
        first_review_at: None,
        first_comment_at: None,
        last_approval_at: None,
        merged_at: Some(at(3, 9)),
        closed_at: Some(at(3, 9)),
        merge_commit_sha: None,
        additions: Some(1),
        deletions: Some(2),
        changed_files: Some(1),
        commit_count: Some(1),
        size_state: "complete".into(),
    }
}

fn item(key: &str, title: &str, assignee: Option<IdentityId>) -> WorkItem {
    WorkItem {
        provider: "jira".into(),
        external_key: key.into(),
        integration_id: None,
        repo_id: None,
        project_key: Some("ENG".into()),
        title: title.into(),
        item_type: "bug".into(),
        type_raw: None,
        status: "done".into(),
        status_raw: None,
        status_source: None,
        resolution_raw: None,
        labels: vec![],
        assignee_identity_id: assignee,
        reporter_identity_id: None,
        story_points: Some(3.0),
        parent_key: None,
        url: None,
        created_at: at(1, 0),
        updated_at: at(5, 0),
        deleted_at: None,
    }
}

fn tr(from: &str, to: &str, t: DateTime<Utc>) -> Transition {
    Transition {
        occurred_at: t,
        from_status: Some(from.into()),
        to_status: to.into(),
        from_raw: None,
        to_raw: None,
        actor_identity_id: None,
        source: "changelog".into(),
    }
}

backend_tests! {
    async fn resyncing_prs_commits_and_reviews_writes_no_second_row(db: &TestDb) {
        let mut pc = db.store.acquire().await.unwrap();
        let c = &mut pc.conn();
        let o = org(c, "acme").await;
        let r = repo(c, o, "acme/web").await;
        let alice = identity(c, o, false).await;
        let bob = identity(c, o, false).await;
        let reviews = [Review { review_id: "1".into(), reviewer_login: Some("bob".into()), reviewer_identity_id: Some(bob), state: "approved".into(), submitted_at: at(2, 10), is_self: false }];
        let pcs = [PrCommit { sha: "s1".into(), authored_at: at(1, 9) }, PrCommit { sha: "s2".into(), authored_at: at(1, 8) }];
        for title in ["first", "renamed"] {
            pull_requests::upsert(c, o, &pr(r, alice, title)).await.unwrap();
            pull_requests::upsert_commits(c, o, r, 7, &pcs).await.unwrap();
            pull_requests::upsert_reviews(c, o, r, 7, &reviews).await.unwrap();
        }
        assert_eq!((count(c, "pull_requests").await, count(c, "pull_request_commits").await, count(c, "reviews").await), (1, 2, 1));
        let t = pull_requests::timeline(c, o, r, 7).await.unwrap().unwrap();
        assert_eq!((t.commits_first_authored_at, t.reviews.len(), t.reviews[0].identity_is_bot), (Some(at(1, 8)), 1, false));
        assert_eq!(pull_requests::keys_in_range(c, o, at(3, 0), at(4, 0)).await.unwrap(), [(r, 7)]);
        let other = org(c, "other").await;
        assert!(pull_requests::timeline(c, other, r, 7).await.unwrap().is_none(), "never across orgs");

        let mut m = PrMetrics { repo_id: r, number: 7, cycle_s: Some(1.5), lead_s: None, coding_s: None, pickup_s: None, review_s: None, merge_s: None, review_latency_s: Some(2.0), size: Some(3), size_bucket: Some("XS".into()), reviewed_before_merge: true, merged_at: Some(at(3, 9)) };
        facts::upsert_pr_metrics(c, o, &m).await.unwrap();
        m.cycle_s = Some(2.5);
        facts::upsert_pr_metrics(c, o, &m).await.unwrap();
        let merged = merged_prs(c, o, &Scope::default(), at(3, 0), at(4, 0)).await.unwrap();
        assert_eq!((merged.len(), merged[0].cycle_s, merged[0].merged_at), (1, Some(2.5), at(3, 9)));
        assert!(merged_prs(c, o, &Scope::default(), at(4, 0), at(5, 0)).await.unwrap().is_empty(), "half-open window");
        let as_bob = Scope { person: Some(bob), ..Scope::default() };
        assert!(prs(c, o, &as_bob, PrPopulation::Opened, at(1, 0), at(2, 0)).await.unwrap().is_empty());
        assert_eq!(reviews_given(c, o, &as_bob, at(1, 0), at(5, 0)).await.unwrap(), [at(2, 10)]);
        assert!(reviews_given(c, other, &Scope::default(), at(1, 0), at(5, 0)).await.unwrap().is_empty());
        assert_eq!(prs(c, o, &Scope::default(), PrPopulation::Open, at(1, 0), at(5, 0)).await.unwrap().len(), 1, "open during the window");
    }

    async fn work_items_upsert_by_key_and_replace_their_transitions(db: &TestDb) {
        let mut pc = db.store.acquire().await.unwrap();
        let c = &mut pc.conn();
        let o = org(c, "acme").await;
        let alice = identity(c, o, false).await;
        let id = work_items::upsert(c, o, &item("ENG-1", "a", Some(alice))).await.unwrap();
        work_items::replace_transitions(c, o, id, &[tr("todo", "in_progress", at(2, 0)), tr("in_progress", "done", at(3, 0))]).await.unwrap();
        let again = work_items::upsert(c, o, &item("ENG-1", "renamed", Some(alice))).await.unwrap();
        assert_eq!(id, again, "the natural key keeps the id");
        work_items::replace_transitions(c, o, id, &[tr("todo", "done", at(4, 0))]).await.unwrap();
        assert_eq!((count(c, "work_items").await, count(c, "work_item_transitions").await), (1, 1));
        let t = work_items::timeline(c, o, id).await.unwrap().unwrap();
        assert_eq!(t.transitions, [(at(4, 0), Some("todo".to_owned()), "done".to_owned())]);
        assert_eq!(work_items::ids_in_range(c, o, at(4, 0), at(4, 1)).await.unwrap(), [id]);

        let team = teams::create(c, o, "eng", "Eng", &["ENG".to_owned()], at(1, 0)).await.unwrap();
        let f = facts::ItemFacts { work_item_id: id, started_at: None, completed_at: Some(at(4, 0)), canceled_at: None, cycle_s: None, lead_s: Some(10.0), active_s: None, wait_s: None, team_ids: vec![team] };
        facts::upsert_item_facts(c, o, &f).await.unwrap();
        facts::upsert_item_facts(c, o, &f).await.unwrap();
        let of_team = Scope { team: Some(team), ..Scope::default() };
        let done = items(c, o, &of_team, ItemPopulation::Completed, at(4, 0), at(5, 0)).await.unwrap();
        assert_eq!((done.len(), done[0].lead_s), (1, Some(10.0)));
        let other_team = teams::create(c, o, "ops", "Ops", &[], at(1, 0)).await.unwrap();
        let none = Scope { team: Some(other_team), ..Scope::default() };
        assert!(items(c, o, &none, ItemPopulation::Completed, at(4, 0), at(5, 0)).await.unwrap().is_empty());
        let wip = items(c, o, &Scope::default(), ItemPopulation::Wip, at(3, 0), at(4, 0)).await.unwrap();
        assert_eq!(wip[0].transitions.len(), 1, "WIP rows carry their transitions");
    }

    async fn teams_members_and_scoped_code_reads(db: &TestDb) {
        let mut pc = db.store.acquire().await.unwrap();
        let c = &mut pc.conn();
        let o = org(c, "acme").await;
        let r = repo(c, o, "acme/web").await;
        let alice = identity(c, o, false).await;
        let bot = identity(c, o, true).await;
        let team = teams::create(c, o, "web", "Web", &[], at(1, 0)).await.unwrap();
        teams::add_member(c, o, team, alice, at(1, 0)).await.unwrap();
        teams::add_member(c, o, team, alice, at(1, 0)).await.unwrap();
        teams::add_member(c, o, team, bot, at(1, 0)).await.unwrap();
        assert_eq!(teams::members(c, o, team).await.unwrap().len(), 2);
        assert_eq!(teams::list(c, o).await.unwrap()[0].slug, "web");
        assert!(teams::set_project_keys(c, o, team, &["WEB*".to_owned()]).await.unwrap());
        assert_eq!(teams::get(c, o, team).await.unwrap().unwrap().project_keys, ["WEB*"]);
        commit(c, o, r, "a", alice, 1).await;
        commit(c, o, r, "b", bot, 1).await;
        commit(c, o, r, "m", alice, 2).await;
        let all = commits(c, o, &Scope::default(), at(2, 0), at(3, 0)).await.unwrap();
        assert_eq!(all.len(), 3);
        let a = all.iter().find(|x| x.sha == "a").unwrap();
        assert_eq!(a.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a.rs", "b.rs"]);
        assert!(all.iter().find(|x| x.sha == "m").unwrap().files.is_empty(), "merge files are not read");
        let of_team = Scope { team: Some(team), ..Scope::default() };
        assert_eq!(commits(c, o, &of_team, at(2, 0), at(3, 0)).await.unwrap().len(), 2, "the bot is left out");
        let bot_only = Scope { person: Some(bot), ..Scope::default() };
        assert!(commits(c, o, &bot_only, at(2, 0), at(3, 0)).await.unwrap().is_empty());
        assert!(teams::remove_member(c, o, team, alice).await.unwrap());
        assert!(!teams::remove_member(c, o, team, alice).await.unwrap());
        assert!(commits(c, o, &of_team, at(2, 0), at(3, 0)).await.unwrap().is_empty());

        let other = org(c, "other").await;
        assert!(repo_exists(c, o, r).await.unwrap() && !repo_exists(c, other, r).await.unwrap());
        assert!(team_exists(c, o, team).await.unwrap() && !team_exists(c, other, team).await.unwrap());
        assert!(identity_exists(c, o, bot).await.unwrap() && !identity_exists(c, other, bot).await.unwrap());
        assert!(commits(c, other, &Scope::default(), at(2, 0), at(3, 0)).await.unwrap().is_empty());
    }
}
