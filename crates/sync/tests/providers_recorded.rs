//! The GitHub and GitLab connectors against responses recorded from the live APIs, headers
//! included (`fixtures/providers/recorded/`, provenance in its SOURCES.md). No public recording
//! covers one whole pull request, so a pass is stitched from recordings of different PRs: the
//! values asserted below are the ones those recordings hold. Limits, 5xx and deferrals are
//! scripted on top, as the live APIs cannot be made to send them on cue.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::{BTreeMap, HashMap};

use analytics::status_map::OrgMappings;
use analytics::work_item::Status;
use chrono::{DateTime, Duration, Utc};
use support::fake::{Canned, Fake};
use support::{TestClient, at, gh, gl, t0};
use sync::providers::github::{self, GithubRepo};
use sync::providers::gitlab::{self, GitlabProject};
use sync::providers::records::{PrState, PullRequest, ReviewState, SizeState, WorkItem};
use sync::providers::{Pass, PassEnd, PassInput};

/// Gitea recorded through a GitHub Enterprise-style base (`/api/v3`); its `Link` headers point
/// at api.github.com's `/repositories/{id}/…`, which the fake serves at its root.
fn gitea_test_repo(fake: &Fake) -> GithubRepo {
    GithubRepo {
        api: format!("{}/api/v3", fake.base),
        owner: "go-gitea".into(),
        name: "test_repo".into(),
    }
}

fn gitea_project(fake: &Fake) -> GitlabProject {
    GitlabProject {
        api: format!("{}/api/v4", fake.base),
        id: "15578026".into(),
    }
}

/// PR 4 of the recorded list, as a previous pass stored it (its detail was never recorded).
fn pr_4_known() -> HashMap<String, DateTime<Utc>> {
    HashMap::from([("4".to_owned(), at("2025-03-16T15:46:20Z"))])
}

const PULLS: &str = "/api/v3/repos/go-gitea/test_repo/pulls";

/// A first pass over the recorded PR list, PR 4 already stored.
async fn first_pr_pass(c: &TestClient, fake: &Fake) -> Pass<PullRequest> {
    let (etags, known) = (HashMap::new(), pr_4_known());
    github::pull_requests(
        &c.http,
        &gitea_test_repo(fake),
        PassInput::fresh(&etags, &known),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn github_pull_requests_parse_as_recorded_and_an_unchanged_list_costs_one_304() {
    let fake = Fake::start("recorded/github").await;
    let c = gh();
    let pass = first_pr_pass(&c, &fake).await;
    assert_eq!(pass.end, PassEnd::Complete);
    assert_eq!((pass.counts.listed, pass.counts.unchanged), (2, 1));
    // List, then PR 3's detail, commits and reviews; PR 4 is unchanged.
    assert_eq!(c.http.requests(), 4);
    assert!(fake.hits().iter().all(|h| h.authorization.is_some()));

    let [pr] = pass.items.as_slice() else {
        panic!("one PR expected, got {:?}", pass.items);
    };
    // Detail: octokit.rb's recording of PR 1 in its test repository (logins sanitised).
    assert_eq!(pr.number, 1);
    assert_eq!(pr.external_id, "11444794");
    assert_eq!(pr.state, PrState::Open);
    assert_eq!(pr.author_login.as_deref(), Some("<GITHUB_LOGIN>"));
    assert_eq!(
        (pr.head_ref.as_deref(), pr.base_ref.as_deref()),
        (Some("feature-branch"), Some("master"))
    );
    assert_eq!(pr.created_at, at("2014-01-13T09:34:04Z"));
    assert_eq!(
        (
            pr.additions,
            pr.deletions,
            pr.changed_files,
            pr.commit_count
        ),
        (Some(1), Some(0), Some(1), Some(1))
    );
    assert_eq!(pr.size_state, SizeState::Complete);
    assert_eq!(pr.merged_at, None);
    // Commits: octokit.rb's recording of octokit.rb PR 67.
    assert_eq!(pr.commits.len(), 1);
    assert_eq!(
        pr.commits[0].sha,
        "2097821c7c5aa4dc02a2cc54d5ca51968b373f95"
    );
    assert_eq!(
        pr.commits[0].author.email.as_deref(),
        Some("koichiro@meadowy.org")
    );
    assert_eq!(pr.first_commit_at, Some(at("2012-01-31T10:47:47Z")));
    // Reviews: Gitea's recording of go-gitea/test_repo PR 3, three approvals.
    let reviews: Vec<(&str, ReviewState, DateTime<Utc>)> = pr
        .reviews
        .iter()
        .map(|r| {
            (
                r.reviewer_login.as_deref().unwrap(),
                r.state,
                r.submitted_at.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reviews,
        [
            (
                "jolheiser",
                ReviewState::Approved,
                at("2019-11-12T21:35:24Z")
            ),
            (
                "zeripath",
                ReviewState::Approved,
                at("2019-11-12T21:35:36Z")
            ),
            ("lafriks", ReviewState::Approved, at("2019-11-12T21:38:00Z")),
        ]
    );
    assert_eq!(pr.first_review_at, Some(at("2019-11-12T21:35:24Z")));

    // The list's recorded weak ETag is kept; sent back, it is answered 304 and nothing is read.
    let recorded_etag = "W/\"5d8135a4b8204fb8548ef5b2153ecdecb0d676e2907ecd115101ba728a27c4d2\"";
    assert_eq!(
        pass.etags
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<Vec<_>>(),
        [recorded_etag]
    );
    let etags: HashMap<String, String> = pass.etags.iter().cloned().collect();
    let known = pr_4_known();
    let c2 = gh();
    fake.clear_log();
    let again = github::pull_requests(
        &c2.http,
        &gitea_test_repo(&fake),
        PassInput {
            cursor: pass.cursor,
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(again.end, PassEnd::Complete);
    assert!(again.items.is_empty());
    assert_eq!(again.counts.not_modified, 1);
    let hits = fake.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].status, 304);
    assert_eq!(hits[0].if_none_match.as_deref(), Some(recorded_etag));
}

#[tokio::test]
async fn github_secondary_limit_429_and_5xx_around_recordings_give_the_same_pr() {
    let reference = first_pr_pass(&gh(), &Fake::start("recorded/github").await)
        .await
        .items;
    let fake = Fake::start("recorded/github").await;
    fake.inject("GET", PULLS, 1, Canned::github_secondary());
    fake.inject("GET", &format!("{PULLS}/3"), 2, Canned::server_error(502));
    fake.inject(
        "GET",
        &format!("{PULLS}/3/reviews"),
        1,
        Canned::retry_after(429, 17),
    );
    let c = gh();
    let pass = first_pr_pass(&c, &fake).await;
    assert_eq!(pass.end, PassEnd::Complete);
    assert_eq!(pass.items, reference);
    let waits = c.waits_s();
    assert_eq!(waits.len(), 4, "{waits:?}");
    assert_eq!(waits[0], 60, "a secondary limit waits at least a minute");
    assert_eq!(waits[3], 17, "a 429 waits its Retry-After");
    assert_eq!(c.http.requests(), 4 + 4);
}

fn by_key(items: &[WorkItem]) -> BTreeMap<String, WorkItem> {
    items
        .iter()
        .map(|i| (i.external_key.clone(), i.clone()))
        .collect()
}

#[tokio::test]
async fn github_issues_follow_the_recorded_link_and_a_resumed_pass_stores_nothing_twice() {
    let fake = Fake::start("recorded/github").await;
    // The page the recorded `Link: rel="next"` names waits beyond the run budget once.
    fake.inject_query(
        "GET",
        "/repositories/220672974/issues",
        "page=2",
        1,
        Canned::retry_after(429, 1200),
    );
    let mappings = OrgMappings::default();
    let c = gh();
    let etags = HashMap::new();
    let known: HashMap<String, DateTime<Utc>> = HashMap::new();
    let repo = gitea_test_repo(&fake);
    let first = github::issues(&c.http, &repo, &mappings, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    let PassEnd::Deferred {
        resume_at,
        checkpoint,
    } = first.end.clone()
    else {
        panic!("expected a deferral, got {:?}", first.end);
    };
    assert_eq!(resume_at, t0() + Duration::seconds(1200));
    assert_eq!(
        checkpoint.next.as_deref(),
        Some(
            format!(
                "{}/repositories/220672974/issues?direction=asc&page=2&per_page=2&sort=created&state=all",
                fake.base
            )
            .as_str()
        ),
        "the checkpoint is the recorded Link target"
    );
    let a = by_key(&first.items);
    assert_eq!(
        a.keys().map(String::as_str).collect::<Vec<_>>(),
        ["go-gitea/test_repo#1", "go-gitea/test_repo#2"]
    );
    let one = &a["go-gitea/test_repo#1"];
    assert_eq!(one.labels, ["bug", "good first issue"]);
    assert_eq!(one.status_category.as_deref(), Some("completed"));
    assert_eq!(one.status, Status::Done);
    assert_eq!(one.created_at, at("2019-11-09T17:00:29Z"));
    assert_eq!(one.completed_at, Some(at("2019-11-12T20:22:22Z")));
    assert!(one.transitions.is_empty(), "the recorded events list is []");
    assert_eq!(first.cursor, Some(at("2019-11-12T22:07:14Z")));

    // The store keeps what came back; the resumed pass starts at the checkpoint and reads the
    // recorded last page (`[]`, no Link).
    let known: HashMap<String, DateTime<Utc>> =
        a.iter().map(|(k, i)| (k.clone(), i.updated_at)).collect();
    let c2 = gh();
    let second = github::issues(
        &c2.http,
        &repo,
        &mappings,
        PassInput {
            cursor: first.cursor,
            checkpoint: Some(&checkpoint),
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second.end, PassEnd::Complete);
    assert!(
        second
            .items
            .iter()
            .all(|i| !a.contains_key(&i.external_key))
    );
    assert_eq!(c2.http.requests(), 1);
}

#[tokio::test]
async fn gitlab_merge_request_parses_as_recorded_and_pages_by_the_recorded_link() {
    let fake = Fake::start("recorded/gitlab").await;
    let list = "/api/v4/projects/15578026/merge_requests";
    fake.inject_query("GET", list, "page=2", 1, Canned::retry_after(429, 1200));
    let c = gl();
    let etags = HashMap::new();
    let known = HashMap::from([("4".to_owned(), at("2025-11-25T13:46:43.471Z"))]);
    let pass = gitlab::merge_requests(
        &c.http,
        &gitea_project(&fake),
        PassInput::fresh(&etags, &known),
    )
    .await
    .unwrap();
    let PassEnd::Deferred { checkpoint, .. } = pass.end.clone() else {
        panic!("expected a deferral, got {:?}", pass.end);
    };
    // The recorded page 1 says `X-Next-Page: 2` and names page 2 in `Link`; Link wins.
    let next = checkpoint.next.unwrap();
    assert!(
        next.starts_with(&format!(
            "{}{list}?id=15578026&order_by=created_at&page=2&per_page=2",
            fake.base
        )),
        "{next}"
    );
    assert!(fake.hits().iter().all(|h| h.authorization.is_some()));

    let [mr] = pass.items.as_slice() else {
        panic!("one MR expected, got {:?}", pass.items);
    };
    // Detail, commits, notes and diffs: danger-js's recordings of gitlab-org/gitlab-ce!27117.
    assert_eq!((mr.number, mr.external_id.as_str()), (27117, "27253868"));
    assert_eq!(mr.state, PrState::Merged);
    assert_eq!(mr.author_login.as_deref(), Some("smcgivern"));
    assert_eq!(mr.created_at, at("2019-04-08T10:59:38.140Z"));
    assert_eq!(mr.merged_at, Some(at("2019-04-09T13:57:11.931Z")));
    assert_eq!(
        mr.merge_commit_sha.as_deref(),
        Some("58d4099c1469dba9ff850733ba29da11f6eeb158")
    );
    assert_eq!(mr.commit_count, Some(2));
    assert_eq!(mr.first_commit_at, Some(at("2019-04-08T09:50:39Z")));
    assert_eq!(mr.changed_files, Some(1));
    assert_eq!(
        (mr.additions, mr.deletions),
        (Some(DIFF_ADDED), Some(DIFF_DELETED))
    );
    // Reviews rebuilt from the 15 recorded notes: other people's comments and approvals; the
    // author's notes and system notes such as "assigned to" or "merged" are not reviews. The
    // approvals endpoint (Gitea's recording of its MR 1) adds two approvers with no note.
    // (The recording lists notes newest first; order carries no meaning, so compare sorted.)
    let mut reviews: Vec<(&str, ReviewState, Option<DateTime<Utc>>)> = mr
        .reviews
        .iter()
        .map(|r| {
            (
                r.reviewer_login.as_deref().unwrap(),
                r.state,
                r.submitted_at,
            )
        })
        .collect();
    reviews.sort_by_key(|&(login, _, at)| (at.is_none(), at, login));
    assert_eq!(
        reviews,
        [
            (
                "gitlab-bot",
                ReviewState::Commented,
                Some(at("2019-04-08T11:12:37.422Z"))
            ),
            (
                "reprazent",
                ReviewState::Approved,
                Some(at("2019-04-09T06:46:03.790Z"))
            ),
            (
                "reprazent",
                ReviewState::Commented,
                Some(at("2019-04-09T06:46:04.013Z"))
            ),
            (
                "dbalexandre",
                ReviewState::Approved,
                Some(at("2019-04-09T13:56:37.218Z"))
            ),
            (
                "dbalexandre",
                ReviewState::Commented,
                Some(at("2019-04-09T13:56:58.560Z"))
            ),
            ("axifive", ReviewState::Approved, None),
            ("zeripath", ReviewState::Approved, None),
        ]
    );
    assert_eq!(mr.first_review_at, Some(at("2019-04-08T11:12:37.422Z")));
    assert_eq!(mr.last_approval_at, Some(at("2019-04-09T13:56:37.218Z")));
}

/// `+`/`-` lines of the recorded diff of `danger/roulette/Dangerfile` (counted by hand in the
/// fixture: 17 added, 4 removed, over two hunks).
const DIFF_ADDED: i64 = 17;
const DIFF_DELETED: i64 = 4;
