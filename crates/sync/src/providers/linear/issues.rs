//! The Linear issue pass (spec §7.3). The cursor is the largest `updatedAt` seen, stored when
//! the pass completes; the GraphQL `endCursor` of the page being read is the checkpoint.

use analytics::identity::Alias;
use analytics::status_map::{self, OrgMappings, Raw};
use analytics::work_item::Status;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::LinearWorkspace;
use super::query::{self, Answer, History, HistoryData, Issue, IssuesData, State};
use crate::providers::error::Error;
use crate::providers::http::HttpClient;
use crate::providers::pass::{MAX_PAGES, Pass, PassInput, Progress};
use crate::providers::records::{
    ItemType, Transition, TransitionSource, WorkItem, WorkProvider, person,
};

/// Linear's page size for issues (complexity grows with nested connections).
const ISSUES_PER_PAGE: u32 = 50;

/// The lower bound of a first pass: everything.
const EPOCH: &str = "1970-01-01T00:00:00.000Z";

async fn graphql<T: DeserializeOwned>(
    http: &HttpClient,
    ws: &LinearWorkspace,
    query: &str,
    variables: serde_json::Value,
) -> Result<T, Error> {
    let answer: Answer<T> = http
        .post_json(
            &ws.endpoint,
            &json!({ "query": query, "variables": variables }),
        )
        .await?
        .json()?;
    answer.data.ok_or_else(|| Error::Decode {
        url: ws.endpoint.clone(),
        message: "a GraphQL answer without data".to_owned(),
    })
}

/// One pass over the workspace's issues; statuses resolve with the org's `mappings`.
pub async fn issues(
    http: &HttpClient,
    ws: &LinearWorkspace,
    mappings: &OrgMappings,
    input: PassInput<'_>,
) -> Result<Pass<WorkItem>, Error> {
    let mut p = Progress::new(&input);
    let since = p.since.map_or(EPOCH.to_owned(), |s| {
        s.to_rfc3339_opts(SecondsFormat::Millis, true)
    });
    // `None` is the first page; a checkpoint holds the `after` of the page it stopped in.
    let mut after: Option<String> = input.checkpoint.and_then(|c| c.next.clone());
    let mut pages = 0u32;
    loop {
        pages += 1;
        let vars = json!({ "first": ISSUES_PER_PAGE, "after": after, "since": since });
        let data: IssuesData = match graphql(http, ws, query::ISSUES, vars).await {
            Ok(d) => d,
            Err(e) => return p.stop(e, after),
        };
        for issue in data.issues.nodes {
            p.observe(issue.updated_at);
            if p.unchanged(input.known, &issue.identifier, issue.updated_at) {
                continue;
            }
            let history = match full_history(http, ws, &issue).await {
                Ok(h) => h,
                Err(e) => return p.stop(e, after),
            };
            p.counts.fetched += 1;
            p.items.push(assemble(issue, &history, mappings));
        }
        match data.issues.page_info {
            Some(info) if info.has_next_page && pages < MAX_PAGES => after = info.end_cursor,
            _ => break,
        }
        if after.is_none() {
            break;
        }
    }
    Ok(p.complete(true))
}

/// The issue's history: the embedded first page, then `issue(id) { history(after:) }`.
async fn full_history(
    http: &HttpClient,
    ws: &LinearWorkspace,
    issue: &Issue,
) -> Result<Vec<History>, Error> {
    let Some(first) = &issue.history else {
        return Ok(Vec::new());
    };
    let mut out = first.nodes.clone();
    let mut info = first.page_info.clone();
    let mut pages = 0u32;
    while let Some(page) = info.take().filter(|i| i.has_next_page) {
        pages += 1;
        let Some(cursor) = page.end_cursor else { break };
        let vars = json!({ "id": issue.id, "after": cursor });
        let data: HistoryData = graphql(http, ws, query::HISTORY, vars).await?;
        out.extend(data.issue.history.nodes);
        if pages >= MAX_PAGES {
            break;
        }
        info = data.issue.history.page_info;
    }
    Ok(out)
}

fn resolve(state: &State, mappings: &OrgMappings) -> (Status, status_map::Source) {
    status_map::resolve(
        status_map::Provider::Linear,
        &Raw {
            status: &state.name,
            category: Some(&state.kind),
            ..Raw::default()
        },
        mappings,
    )
}

fn transitions(history: &[History], mappings: &OrgMappings) -> Vec<Transition> {
    let mut ordered: Vec<&History> = history.iter().filter(|h| h.to_state.is_some()).collect();
    ordered.sort_by_key(|h| h.created_at);
    ordered
        .into_iter()
        .enumerate()
        .filter_map(|(seq, h)| {
            let to = h.to_state.as_ref()?;
            Some(Transition {
                seq: u32::try_from(seq).unwrap_or(u32::MAX),
                occurred_at: h.created_at,
                from_status: h.from_state.as_ref().map(|s| resolve(s, mappings).0),
                to_status: resolve(to, mappings).0,
                from_raw: h.from_state.as_ref().map(|s| s.name.clone()),
                to_raw: Some(to.name.clone()),
                actor: h
                    .actor
                    .as_ref()
                    .map(|a| person(Alias::Linear(a.id.clone()), None, None)),
                source: TransitionSource::History,
            })
        })
        .collect()
}

fn user(u: &query::User) -> analytics::identity::Observation {
    person(Alias::Linear(u.id.clone()), u.email.clone(), u.name.clone())
}

fn assemble(issue: Issue, history: &[History], mappings: &OrgMappings) -> WorkItem {
    let (status, status_source) = resolve(&issue.state, mappings);
    let labels: Vec<String> = issue
        .labels
        .map(|c| c.nodes.into_iter().map(|l| l.name).collect())
        .unwrap_or_default();
    let created_at: DateTime<Utc> = issue.created_at;
    WorkItem {
        provider: WorkProvider::Linear,
        project_key: issue.team.map(|t| t.key).unwrap_or_default(),
        external_key: issue.identifier,
        external_id: issue.id,
        title: issue.title,
        item_type: ItemType::from_raw(None, &labels),
        type_raw: None,
        status,
        status_source,
        status_raw: issue.state.name,
        status_category: Some(issue.state.kind),
        resolution_raw: None,
        labels,
        assignee: issue.assignee.as_ref().map(user),
        reporter: issue.creator.as_ref().map(user),
        story_points: issue.estimate,
        parent_key: issue.parent.map(|p| p.identifier),
        url: issue.url,
        created_at,
        updated_at: issue.updated_at,
        started_at: issue.started_at,
        completed_at: issue.completed_at,
        canceled_at: issue.canceled_at,
        transitions: transitions(history, mappings),
    }
}
