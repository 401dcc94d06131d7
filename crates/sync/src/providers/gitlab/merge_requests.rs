//! GitLab merge requests (spec §6): listed by `updated_at` ascending after the cursor, which
//! advances after each page; every changed MR gets its detail, diffs (size), commits, notes
//! (reviews) and approvals. A failed notes fetch leaves the MR out, marks the pass partial and
//! keeps the cursor where it was, so the next run reads the MR again.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::reviews::{self, Approvals, Note};
use super::{GitlabProject, User};
use crate::providers::error::Error;
use crate::providers::http::{HttpClient, url_key};
use crate::providers::pass::{MAX_PAGES, PAGE_SIZE, Pass, PassInput, Progress, max_time};
use crate::providers::records::{
    CodeHost, PrCommit, PrState, PullRequest, SizeState, review_times,
};
use crate::providers::timefmt;

#[derive(Debug, Deserialize)]
struct Listed {
    iid: i64,
    #[serde(deserialize_with = "timefmt::de")]
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct Detail {
    id: i64,
    iid: i64,
    title: String,
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    work_in_progress: bool,
    author: Option<User>,
    #[serde(default)]
    labels: Vec<String>,
    source_branch: Option<String>,
    target_branch: Option<String>,
    #[serde(deserialize_with = "timefmt::de")]
    created_at: DateTime<Utc>,
    #[serde(deserialize_with = "timefmt::de")]
    updated_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    merged_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    closed_at: Option<DateTime<Utc>>,
    merge_commit_sha: Option<String>,
    squash_commit_sha: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Diff {
    #[serde(default)]
    diff: String,
    #[serde(default)]
    too_large: bool,
    #[serde(default)]
    collapsed: bool,
}

#[derive(Debug, Deserialize)]
struct Commit {
    id: String,
    author_name: Option<String>,
    author_email: Option<String>,
    #[serde(deserialize_with = "timefmt::de")]
    authored_date: DateTime<Utc>,
}

/// One pass over a project's merge requests.
pub async fn merge_requests(
    http: &HttpClient,
    project: &GitlabProject,
    input: PassInput<'_>,
) -> Result<Pass<PullRequest>, Error> {
    let mut p = Progress::new(&input);
    let mut first = project.url(&format!(
        "/merge_requests?state=all&order_by=updated_at&sort=asc&per_page={PAGE_SIZE}"
    ));
    if let Some(since) = p.since {
        first.push_str("&updated_after=");
        first.push_str(&since.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    let mut url = Some(
        input
            .checkpoint
            .and_then(|c| c.next.clone())
            .unwrap_or_else(|| first.clone()),
    );
    let mut frozen = false;
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
            // Only a single-page listing keeps an ETag (below), so 304 means nothing changed.
            p.counts.not_modified += 1;
            break;
        }
        let next = page.next_page();
        if page_url == first
            && next.is_none()
            && let Some(tag) = page.etag()
        {
            p.etags.push((url_key(&first), tag));
        }
        let listed: Vec<Listed> = page.json()?;
        for mr in listed {
            p.observe(mr.updated_at);
            if p.unchanged(input.known, &mr.iid.to_string(), mr.updated_at) {
                continue;
            }
            match fetch(http, project, mr.iid).await {
                Ok(Some(record)) => {
                    p.counts.fetched += 1;
                    p.items.push(record);
                }
                Ok(None) => {
                    p.counts.partial += 1;
                    frozen = true;
                }
                Err(e) => return p.stop(e, Some(page_url)),
            }
        }
        if !frozen {
            p.cursor = max_time(p.cursor, p.high_water);
        }
        if pages >= MAX_PAGES {
            break;
        }
        url = next;
    }
    Ok(p.complete(!frozen))
}

/// Detail, diffs, commits, notes and approvals of one MR; `None` when the notes could not be
/// read (the run is partial).
async fn fetch(
    http: &HttpClient,
    project: &GitlabProject,
    iid: i64,
) -> Result<Option<PullRequest>, Error> {
    let mr = |path: &str| project.url(&format!("/merge_requests/{iid}{path}"));
    let detail: Detail = http.get(&mr(""), None).await?.json()?;
    let diffs: Vec<Diff> = http
        .get_all(&mr(&format!("/diffs?per_page={PAGE_SIZE}")), usize::MAX)
        .await?;
    let commits: Vec<Commit> = http
        .get_all(&mr(&format!("/commits?per_page={PAGE_SIZE}")), usize::MAX)
        .await?;
    let notes: Vec<Note> = match http
        .get_all(
            &mr(&format!(
                "/notes?sort=asc&order_by=created_at&per_page={PAGE_SIZE}"
            )),
            usize::MAX,
        )
        .await
    {
        Ok(notes) => notes,
        Err(e @ Error::Deferred { .. }) => return Err(e),
        Err(e) => {
            tracing::warn!(iid, error = %e, "merge request notes unreadable; run is partial");
            return Ok(None);
        }
    };
    let approvals: Approvals = http.get(&mr("/approvals"), None).await?.json()?;
    Ok(Some(assemble(detail, &diffs, commits, &notes, &approvals)))
}

/// Added and deleted lines of a diff body (`+`/`-` lines, file headers excluded).
fn count_lines(diff: &str) -> (i64, i64) {
    diff.lines().fold((0, 0), |(a, d), line| {
        if line.starts_with('+') && !line.starts_with("+++") {
            (a + 1, d)
        } else if line.starts_with('-') && !line.starts_with("---") {
            (a, d + 1)
        } else {
            (a, d)
        }
    })
}

fn assemble(
    d: Detail,
    diffs: &[Diff],
    commits: Vec<Commit>,
    notes: &[Note],
    approvals: &Approvals,
) -> PullRequest {
    let author = d.author.map(|u| u.username);
    let (additions, deletions) = diffs
        .iter()
        .map(|f| count_lines(&f.diff))
        .fold((0, 0), |(a, d), (x, y)| (a + x, d + y));
    let partial = diffs.iter().any(|f| f.too_large || f.collapsed);
    let commits: Vec<PrCommit> = commits
        .into_iter()
        .map(|c| PrCommit {
            sha: c.id,
            authored_at: c.authored_date,
            author: analytics::identity::Observation {
                email: c.author_email,
                account: None,
                name: c.author_name,
            },
        })
        .collect();
    let reviews = reviews::rebuild(author.as_deref(), notes, approvals);
    let (first_review_at, last_approval_at) = review_times(&reviews, d.merged_at);
    let state = match d.state.as_str() {
        _ if d.merged_at.is_some() => PrState::Merged,
        "merged" => PrState::Merged,
        "closed" => PrState::Closed,
        _ => PrState::Open,
    };
    PullRequest {
        provider: CodeHost::Gitlab,
        number: d.iid,
        external_id: d.id.to_string(),
        title: d.title,
        state,
        is_draft: d.draft || d.work_in_progress,
        author_login: author,
        head_ref: d.source_branch,
        base_ref: d.target_branch,
        labels: d.labels,
        created_at: d.created_at,
        updated_at: d.updated_at,
        first_commit_at: commits.iter().map(|c| c.authored_at).min(),
        first_review_at,
        first_comment_at: None,
        last_approval_at,
        merged_at: d.merged_at,
        closed_at: d.closed_at,
        merge_commit_sha: d.merge_commit_sha.or(d.squash_commit_sha),
        additions: Some(additions),
        deletions: Some(deletions),
        changed_files: Some(i64::try_from(diffs.len()).unwrap_or(i64::MAX)),
        commit_count: Some(i64::try_from(commits.len()).unwrap_or(i64::MAX)),
        size_state: if partial {
            SizeState::Partial
        } else {
            SizeState::Complete
        },
        commits,
        reviews,
        commits_truncated: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_plus_and_minus_lines_only() {
        let diff = "--- a/x\n+++ b/x\n@@ -1,2 +1,3 @@\n context\n-old\n+new\n+more\n";
        assert_eq!(count_lines(diff), (2, 1));
    }
}
