//! GitHub Issues (spec §5 "Issues", §7.4): issues updated since the cursor in ascending order
//! (items with a `pull_request` key are PRs and skipped), the cursor advancing after each page,
//! and synthetic transitions rebuilt from each changed issue's events.

use analytics::status_map::{self, OrgMappings, Raw};
use analytics::work_item::Status;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::{GithubRepo, Label, User, login_person};
use crate::providers::error::Error;
use crate::providers::http::{HttpClient, url_key};
use crate::providers::pass::{MAX_PAGES, PAGE_SIZE, Pass, PassInput, Progress, max_time};
use crate::providers::records::{ItemType, Transition, TransitionSource, WorkItem, WorkProvider};
use crate::providers::timefmt;

#[derive(Debug, Deserialize)]
struct Issue {
    number: i64,
    node_id: Option<String>,
    title: String,
    state: String,
    state_reason: Option<String>,
    user: Option<User>,
    assignee: Option<User>,
    #[serde(default)]
    labels: Vec<Label>,
    html_url: Option<String>,
    #[serde(deserialize_with = "timefmt::de")]
    created_at: DateTime<Utc>,
    #[serde(deserialize_with = "timefmt::de")]
    updated_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    closed_at: Option<DateTime<Utc>>,
    /// Present on pull requests, which the issues endpoint lists too.
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Event {
    event: String,
    actor: Option<User>,
    label: Option<Label>,
    state_reason: Option<String>,
    #[serde(deserialize_with = "timefmt::de")]
    created_at: DateTime<Utc>,
}

/// One pass over a repository's issues; statuses resolve with the org's `mappings`.
pub async fn issues(
    http: &HttpClient,
    repo: &GithubRepo,
    mappings: &OrgMappings,
    input: PassInput<'_>,
) -> Result<Pass<WorkItem>, Error> {
    let mut p = Progress::new(&input);
    let mut first = repo.url(&format!(
        "/issues?state=all&sort=updated&direction=asc&per_page={PAGE_SIZE}"
    ));
    if let Some(since) = p.since {
        first.push_str("&since=");
        first.push_str(&since.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
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
        let listed: Vec<Issue> = page.json()?;
        for issue in listed {
            if issue.pull_request.is_some() {
                continue;
            }
            p.observe(issue.updated_at);
            let key = format!("{}#{}", repo.full_name(), issue.number);
            if p.unchanged(input.known, &key, issue.updated_at) {
                continue;
            }
            let events: Vec<Event> = match http
                .get_all(
                    &repo.url(&format!(
                        "/issues/{}/events?per_page={PAGE_SIZE}",
                        issue.number
                    )),
                    usize::MAX,
                )
                .await
            {
                Ok(events) => events,
                Err(e) => return p.stop(e, Some(page_url)),
            };
            p.counts.fetched += 1;
            p.items.push(assemble(repo, key, issue, events, mappings));
        }
        // The cursor advances after each page (ascending order).
        p.cursor = max_time(p.cursor, p.high_water);
        if pages >= MAX_PAGES {
            break;
        }
        url = next;
    }
    Ok(p.complete(true))
}

fn resolve(
    open: bool,
    reason: Option<&str>,
    labels: &[String],
    mappings: &OrgMappings,
) -> (Status, status_map::Source) {
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    status_map::resolve(
        status_map::Provider::GithubIssues,
        &Raw {
            open: Some(open),
            state_reason: reason,
            labels: &labels,
            ..Raw::default()
        },
        mappings,
    )
}

fn state_name(open: bool) -> String {
    if open { "open" } else { "closed" }.to_owned()
}

/// §7.4: replays the events from the labels the issue had when opened. `closed` → done or
/// canceled by `state_reason`; `reopened` → what the labels give; a label change → the newly
/// resolved status, when it changed.
fn transitions(issue: &Issue, events: &[Event], mappings: &OrgMappings) -> Vec<Transition> {
    let mut events: Vec<&Event> = events.iter().collect();
    events.sort_by_key(|e| e.created_at);
    let mut labels: Vec<String> = issue.labels.iter().map(|l| l.name.clone()).collect();
    for e in events.iter().rev() {
        match (e.event.as_str(), &e.label) {
            ("labeled", Some(l)) => labels.retain(|x| x != &l.name),
            ("unlabeled", Some(l)) => labels.push(l.name.clone()),
            _ => {}
        }
    }
    let mut open = true;
    let mut reason: Option<String> = None;
    let mut status = resolve(open, None, &labels, mappings).0;
    let mut out = Vec::new();
    for e in events {
        let was_open = open;
        match (e.event.as_str(), &e.label) {
            ("closed", _) => {
                open = false;
                reason = e
                    .state_reason
                    .clone()
                    .or_else(|| issue.state_reason.clone());
            }
            ("reopened", _) => {
                open = true;
                reason = None;
            }
            ("labeled", Some(l)) => labels.push(l.name.clone()),
            ("unlabeled", Some(l)) => labels.retain(|x| x != &l.name),
            _ => continue,
        }
        let next = resolve(open, reason.as_deref(), &labels, mappings).0;
        if next != status {
            out.push(Transition {
                seq: u32::try_from(out.len()).unwrap_or(u32::MAX),
                occurred_at: e.created_at,
                from_status: Some(status),
                to_status: next,
                from_raw: Some(state_name(was_open)),
                to_raw: Some(state_name(open)),
                actor: e.actor.as_ref().map(|a| login_person(&a.login)),
                source: TransitionSource::Event,
            });
            status = next;
        }
    }
    out
}

fn assemble(
    repo: &GithubRepo,
    key: String,
    issue: Issue,
    events: Vec<Event>,
    mappings: &OrgMappings,
) -> WorkItem {
    let labels: Vec<String> = issue.labels.iter().map(|l| l.name.clone()).collect();
    let open = issue.state == "open";
    let (status, status_source) = resolve(open, issue.state_reason.as_deref(), &labels, mappings);
    let transitions = transitions(&issue, &events, mappings);
    WorkItem {
        provider: WorkProvider::GithubIssues,
        external_key: key,
        external_id: issue.node_id.unwrap_or_else(|| issue.number.to_string()),
        project_key: repo.full_name(),
        title: issue.title,
        item_type: ItemType::from_raw(None, &labels),
        type_raw: None,
        status,
        status_source,
        status_raw: issue.state,
        status_category: issue.state_reason,
        resolution_raw: None,
        labels,
        assignee: issue.assignee.map(|u| login_person(&u.login)),
        reporter: issue.user.map(|u| login_person(&u.login)),
        story_points: None,
        parent_key: None,
        url: issue.html_url,
        created_at: issue.created_at,
        updated_at: issue.updated_at,
        started_at: None,
        completed_at: issue.closed_at,
        canceled_at: None,
        transitions,
    }
}
