//! GitHub pull requests (spec §5): the list sorted by `updated` descending with the stop rule,
//! then detail, commits and reviews of every changed PR. The cursor moves to the largest
//! `updated_at` seen once the pass is complete; the first list page is conditional (ETag), so
//! an unchanged repository costs one `304`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{GithubRepo, Label, User};
use crate::providers::error::Error;
use crate::providers::http::{HttpClient, url_key};
use crate::providers::pass::{MAX_PAGES, PAGE_SIZE, Pass, PassInput, Progress};
use crate::providers::records::{
    CodeHost, PrCommit, PrState, PullRequest, Review, ReviewState, SizeState, review_times,
};
use crate::providers::timefmt;

/// GitHub lists at most this many commits per PR.
const MAX_PR_COMMITS: usize = 250;

#[derive(Debug, Deserialize)]
struct Listed {
    number: i64,
    #[serde(deserialize_with = "timefmt::de")]
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct BranchRef {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Debug, Deserialize)]
struct Detail {
    id: i64,
    number: i64,
    title: String,
    state: String,
    #[serde(default)]
    draft: bool,
    user: Option<User>,
    #[serde(default)]
    labels: Vec<Label>,
    head: Option<BranchRef>,
    base: Option<BranchRef>,
    #[serde(deserialize_with = "timefmt::de")]
    created_at: DateTime<Utc>,
    #[serde(deserialize_with = "timefmt::de")]
    updated_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    closed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    merged_at: Option<DateTime<Utc>>,
    merge_commit_sha: Option<String>,
    additions: Option<i64>,
    deletions: Option<i64>,
    changed_files: Option<i64>,
    commits: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct GitActor {
    name: Option<String>,
    email: Option<String>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    date: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct CommitBody {
    author: Option<GitActor>,
}

#[derive(Debug, Deserialize)]
struct CommitEntry {
    sha: String,
    commit: CommitBody,
    author: Option<User>,
}

#[derive(Debug, Deserialize)]
struct ReviewEntry {
    id: i64,
    user: Option<User>,
    state: String,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    submitted_at: Option<DateTime<Utc>>,
}

/// One pass over a repository's pull requests.
///
/// Lists `state=all&sort=updated&direction=desc` and stops at the first PR updated before
/// `cursor − lookback`; PRs whose listed `updated_at` equals the stored one are skipped without
/// detail calls. A wait beyond the run budget ends the pass deferred, with a checkpoint at the
/// page being read.
pub async fn pull_requests(
    http: &HttpClient,
    repo: &GithubRepo,
    input: PassInput<'_>,
) -> Result<Pass<PullRequest>, Error> {
    let mut p = Progress::new(&input);
    let first = repo.url(&format!(
        "/pulls?state=all&sort=updated&direction=desc&per_page={PAGE_SIZE}"
    ));
    let mut url = Some(
        input
            .checkpoint
            .and_then(|c| c.next.clone())
            .unwrap_or_else(|| first.clone()),
    );
    let mut pages = 0u32;
    while let Some(page_url) = url.take() {
        pages += 1;
        let etag = (page_url == first)
            .then(|| input.etags.get(&url_key(&first)))
            .flatten();
        let page = match http.get(&page_url, etag.map(String::as_str)).await {
            Ok(page) => page,
            Err(e) => return p.stop(e, Some(page_url)),
        };
        if page.not_modified() {
            // The newest PRs come first: an unchanged first page means nothing changed.
            p.counts.not_modified += 1;
            break;
        }
        if page_url == first
            && let Some(tag) = page.etag()
        {
            p.etags.push((url_key(&first), tag));
        }
        let listed: Vec<Listed> = page.json()?;
        let mut reached_cursor = false;
        for pr in listed {
            if p.since.is_some_and(|since| pr.updated_at < since) {
                reached_cursor = true;
                break;
            }
            p.observe(pr.updated_at);
            if p.unchanged(input.known, &pr.number.to_string(), pr.updated_at) {
                continue;
            }
            match fetch(http, repo, pr.number).await {
                Ok(record) => {
                    p.counts.fetched += 1;
                    p.items.push(record);
                }
                Err(e) => return p.stop(e, Some(page_url)),
            }
        }
        if reached_cursor || pages >= MAX_PAGES {
            break;
        }
        url = page.next_page();
    }
    Ok(p.complete(true))
}

/// Detail, commits and reviews of one PR.
async fn fetch(http: &HttpClient, repo: &GithubRepo, number: i64) -> Result<PullRequest, Error> {
    let detail: Detail = http
        .get(&repo.url(&format!("/pulls/{number}")), None)
        .await?
        .json()?;
    let commits: Vec<CommitEntry> = http
        .get_all(
            &repo.url(&format!("/pulls/{number}/commits?per_page={PAGE_SIZE}")),
            MAX_PR_COMMITS,
        )
        .await?;
    let reviews: Vec<ReviewEntry> = http
        .get_all(
            &repo.url(&format!("/pulls/{number}/reviews?per_page={PAGE_SIZE}")),
            usize::MAX,
        )
        .await?;
    Ok(assemble(detail, commits, reviews))
}

fn assemble(d: Detail, commits: Vec<CommitEntry>, reviews: Vec<ReviewEntry>) -> PullRequest {
    let author = d.user.map(|u| u.login);
    let commits: Vec<PrCommit> = commits
        .into_iter()
        .filter_map(|c| {
            let actor = c.commit.author?;
            Some(PrCommit {
                sha: c.sha,
                authored_at: actor.date?,
                author: analytics::identity::Observation {
                    email: actor.email,
                    account: c
                        .author
                        .map(|u| analytics::identity::Alias::Github(u.login)),
                    name: actor.name,
                },
            })
        })
        .collect();
    let reviews: Vec<Review> = reviews
        .into_iter()
        .filter_map(|r| {
            let state = match r.state.as_str() {
                "APPROVED" => ReviewState::Approved,
                "CHANGES_REQUESTED" => ReviewState::ChangesRequested,
                "COMMENTED" => ReviewState::Commented,
                "DISMISSED" => ReviewState::Dismissed,
                _ => return None, // PENDING reviews are not stored.
            };
            let login = r.user.map(|u| u.login);
            Some(Review {
                review_id: r.id.to_string(),
                is_self: login.is_some()
                    && login.as_deref().map(str::to_lowercase)
                        == author.as_deref().map(str::to_lowercase),
                reviewer_login: login,
                state,
                submitted_at: r.submitted_at,
            })
        })
        .collect();
    let (first_review_at, last_approval_at) = review_times(&reviews, d.merged_at);
    let state = if d.merged_at.is_some() {
        PrState::Merged
    } else if d.state == "open" {
        PrState::Open
    } else {
        PrState::Closed
    };
    let size_known = d.additions.is_some() && d.deletions.is_some();
    PullRequest {
        provider: CodeHost::Github,
        number: d.number,
        external_id: d.id.to_string(),
        title: d.title,
        state,
        is_draft: d.draft,
        author_login: author,
        head_ref: d.head.map(|r| r.name),
        base_ref: d.base.map(|r| r.name),
        labels: d.labels.into_iter().map(|l| l.name).collect(),
        created_at: d.created_at,
        updated_at: d.updated_at,
        first_commit_at: commits.iter().map(|c| c.authored_at).min(),
        first_review_at,
        first_comment_at: None,
        last_approval_at,
        merged_at: d.merged_at,
        closed_at: d.closed_at,
        merge_commit_sha: d.merge_commit_sha,
        additions: d.additions,
        deletions: d.deletions,
        changed_files: d.changed_files,
        commits_truncated: d
            .commits
            .is_some_and(|n| usize::try_from(n).unwrap_or(0) > commits.len()),
        commit_count: d.commits,
        size_state: if size_known {
            SizeState::Complete
        } else {
            SizeState::Unknown
        },
        commits,
        reviews,
    }
}
