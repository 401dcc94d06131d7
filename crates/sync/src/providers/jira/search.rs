//! The Jira issue pass (spec §7.2): `GET /rest/api/3/search/jql` over the configured
//! projects, updated since the cursor (written in the user's zone with minute resolution),
//! oldest first, following `nextPageToken` until `isLast`; the cursor advances after each page.

use std::collections::HashMap;

use analytics::status_map::{self, OrgMappings, Raw};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::JiraSite;
use super::changelog::{self, Embedded, User};
use crate::providers::error::Error;
use crate::providers::http::{HttpClient, encode_component};
use crate::providers::pass::{MAX_PAGES, PAGE_SIZE, Pass, PassInput, Progress, max_time};
use crate::providers::records::{ItemType, WorkItem, WorkProvider};
use crate::providers::timefmt;

/// JQL has minute resolution: the cursor always re-reads at least this much.
const JQL_OVERLAP: Duration = Duration::minutes(2);

const FIELDS: &str = "summary,status,resolution,issuetype,labels,assignee,reporter,created,updated,resolutiondate,priority,parent";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    #[serde(default)]
    issues: Vec<Issue>,
    next_page_token: Option<String>,
    #[serde(default)]
    is_last: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Issue {
    id: String,
    key: String,
    fields: Fields,
    changelog: Option<Embedded>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Category {
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JiraStatus {
    name: String,
    status_category: Option<Category>,
}

#[derive(Debug, Deserialize)]
struct Parent {
    key: String,
}

#[derive(Debug, Deserialize)]
struct Fields {
    summary: String,
    status: JiraStatus,
    resolution: Option<Named>,
    issuetype: Option<Named>,
    #[serde(default)]
    labels: Vec<String>,
    assignee: Option<User>,
    reporter: Option<User>,
    #[serde(deserialize_with = "timefmt::de")]
    created: DateTime<Utc>,
    #[serde(deserialize_with = "timefmt::de")]
    updated: DateTime<Utc>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    resolutiondate: Option<DateTime<Utc>>,
    parent: Option<Parent>,
    /// Custom fields (story points).
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}

/// The search URL of the first page.
fn first_url(site: &JiraSite, since: Option<DateTime<Utc>>) -> String {
    let projects = site.projects.join(", ");
    let mut jql = format!("project in ({projects})");
    if let Some(since) = since {
        let local = (since - JQL_OVERLAP).with_timezone(&site.utc_offset);
        jql.push_str(&format!(
            " AND updated >= \"{}\"",
            local.format("%Y/%m/%d %H:%M")
        ));
    }
    jql.push_str(" ORDER BY updated ASC");
    let mut fields = FIELDS.to_owned();
    if let Some(f) = &site.story_points_field {
        fields.push(',');
        fields.push_str(f);
    }
    site.url(&format!(
        "/rest/api/3/search/jql?jql={}&fields={}&expand=changelog&maxResults={PAGE_SIZE}",
        encode_component(&jql),
        encode_component(&fields)
    ))
}

/// One pass over the site's issues; statuses resolve with the org's `mappings`.
pub async fn issues(
    http: &HttpClient,
    site: &JiraSite,
    mappings: &OrgMappings,
    input: PassInput<'_>,
) -> Result<Pass<WorkItem>, Error> {
    let mut p = Progress::new(&input);
    let first = first_url(site, p.since);
    let mut url = Some(
        input
            .checkpoint
            .and_then(|c| c.next.clone())
            .unwrap_or(first),
    );
    let mut categories: HashMap<String, String> = HashMap::new();
    let mut pages = 0u32;
    while let Some(page_url) = url.take() {
        pages += 1;
        let page: SearchPage = match http.get(&page_url, None).await {
            Ok(resp) => resp.json()?,
            Err(e) => return p.stop(e, Some(page_url)),
        };
        for issue in &page.issues {
            if let Some(c) = &issue.fields.status.status_category {
                categories.insert(issue.fields.status.name.clone(), c.key.clone());
            }
        }
        for issue in page.issues {
            p.observe(issue.fields.updated);
            if p.unchanged(input.known, &issue.key, issue.fields.updated) {
                continue;
            }
            let key = issue.key.clone();
            let histories = match changelog::full(http, site, &key, issue.changelog).await {
                Ok(h) => h,
                Err(e) => return p.stop(e, Some(page_url)),
            };
            let category_of = |name: &str| categories.get(name).cloned();
            p.counts.fetched += 1;
            p.items.push(assemble(
                site,
                issue.id,
                key,
                issue.fields,
                &histories,
                &category_of,
                mappings,
            ));
        }
        p.cursor = max_time(p.cursor, p.high_water);
        let last = page.is_last.unwrap_or(page.next_page_token.is_none());
        url = match page.next_page_token {
            Some(token) if !last && pages < MAX_PAGES => Some(with_token(&page_url, &token)),
            _ => None,
        };
    }
    Ok(p.complete(true))
}

/// `url` with its `nextPageToken` set to `token`.
fn with_token(url: &str, token: &str) -> String {
    let base = url.split("&nextPageToken=").next().unwrap_or(url);
    format!("{base}&nextPageToken={}", encode_component(token))
}

fn assemble(
    site: &JiraSite,
    id: String,
    key: String,
    f: Fields,
    histories: &[changelog::History],
    category_of: &dyn Fn(&str) -> Option<String>,
    mappings: &OrgMappings,
) -> WorkItem {
    let category = f.status.status_category.map(|c| c.key);
    let resolution = f.resolution.map(|r| r.name);
    let (status, status_source) = status_map::resolve(
        status_map::Provider::Jira,
        &Raw {
            status: &f.status.name,
            category: category.as_deref(),
            resolution: resolution.as_deref(),
            ..Raw::default()
        },
        mappings,
    );
    let transitions =
        changelog::transitions(histories, (&f.status.name, status), category_of, mappings);
    let type_raw = f.issuetype.map(|t| t.name);
    let story_points = site
        .story_points_field
        .as_ref()
        .and_then(|field| f.other.get(field))
        .and_then(serde_json::Value::as_f64);
    WorkItem {
        provider: WorkProvider::Jira,
        project_key: key
            .split_once('-')
            .map_or(key.as_str(), |(p, _)| p)
            .to_owned(),
        url: Some(site.url(&format!("/browse/{key}"))),
        external_key: key,
        external_id: id,
        title: f.summary,
        item_type: ItemType::from_raw(type_raw.as_deref(), &f.labels),
        type_raw,
        status,
        status_source,
        status_raw: f.status.name,
        status_category: category,
        resolution_raw: resolution,
        labels: f.labels,
        assignee: f.assignee.as_ref().map(User::observation),
        reporter: f.reporter.as_ref().map(User::observation),
        story_points,
        parent_key: f.parent.map(|p| p.key),
        created_at: f.created,
        updated_at: f.updated,
        started_at: None,
        completed_at: f.resolutiondate,
        canceled_at: None,
        transitions,
    }
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;

    #[test]
    fn the_cursor_is_written_in_the_users_zone_minus_the_overlap() {
        let site = JiraSite {
            base: "https://acme.atlassian.net".into(),
            projects: vec!["DEV".into(), "OPS".into()],
            story_points_field: None,
            utc_offset: FixedOffset::east_opt(3600).unwrap_or_else(|| unreachable!()),
        };
        let since = DateTime::parse_from_rfc3339("2024-03-04T09:55:30Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let url = first_url(&site, since);
        assert!(
            url.contains(&encode_component(
                "project in (DEV, OPS) AND updated >= \"2024/03/04 10:53\" ORDER BY updated ASC"
            )),
            "{url}"
        );
    }
}
