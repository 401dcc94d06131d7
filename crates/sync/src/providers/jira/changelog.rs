//! Jira changelogs (spec §7.2): every history item with `field == "status"` becomes a
//! transition. A changelog longer than the search embedded is read in full from
//! `GET /rest/api/3/issue/{key}/changelog`.

use analytics::identity::Alias;
use analytics::status_map::{self, OrgMappings, Raw};
use analytics::work_item::Status;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::JiraSite;
use crate::providers::error::Error;
use crate::providers::http::{HttpClient, encode_component};
use crate::providers::pass::{MAX_PAGES, PAGE_SIZE};
use crate::providers::records::{Transition, TransitionSource, person};
use crate::providers::timefmt;

/// A Jira user (assignee, reporter, changelog author).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub(crate) account_id: String,
    pub(crate) email_address: Option<String>,
    pub(crate) display_name: Option<String>,
}

impl User {
    /// The identity observation of this account.
    pub(crate) fn observation(&self) -> analytics::identity::Observation {
        person(
            Alias::Jira(self.account_id.clone()),
            self.email_address.clone(),
            self.display_name.clone(),
        )
    }
}

/// One changed field.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Item {
    pub(crate) field: String,
    pub(crate) from_string: Option<String>,
    pub(crate) to_string: Option<String>,
}

/// One changelog entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct History {
    pub(crate) author: Option<User>,
    #[serde(deserialize_with = "timefmt::de")]
    pub(crate) created: DateTime<Utc>,
    #[serde(default)]
    pub(crate) items: Vec<Item>,
}

/// The changelog embedded by `expand=changelog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Embedded {
    #[serde(default)]
    pub(crate) max_results: u64,
    #[serde(default)]
    pub(crate) total: u64,
    #[serde(default)]
    pub(crate) histories: Vec<History>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    values: Vec<History>,
    #[serde(default)]
    is_last: bool,
    #[serde(default)]
    total: u64,
}

/// The whole changelog of `key`: the embedded one when it is complete, else every page.
pub(crate) async fn full(
    http: &HttpClient,
    site: &JiraSite,
    key: &str,
    embedded: Option<Embedded>,
) -> Result<Vec<History>, Error> {
    let embedded = embedded.unwrap_or(Embedded {
        max_results: 0,
        total: 0,
        histories: Vec::new(),
    });
    let complete = embedded.total <= embedded.max_results
        || u64::try_from(embedded.histories.len()).unwrap_or(0) >= embedded.total;
    if complete {
        return Ok(embedded.histories);
    }
    let mut out = Vec::new();
    let mut pages = 0u32;
    loop {
        pages += 1;
        let url = site.url(&format!(
            "/rest/api/3/issue/{}/changelog?startAt={}&maxResults={PAGE_SIZE}",
            encode_component(key),
            out.len()
        ));
        let page: Page = http.get(&url, None).await?.json()?;
        let empty = page.values.is_empty();
        out.extend(page.values);
        let seen = u64::try_from(out.len()).unwrap_or(u64::MAX);
        if page.is_last || empty || seen >= page.total || pages >= MAX_PAGES {
            return Ok(out);
        }
    }
}

/// The status transitions of a changelog, in time order. Names resolve with the category
/// each name had where the pass saw it (`category_of`); the last transition into the item's
/// current status takes the item's own status, so Done + Duplicate ends `canceled`.
pub(crate) fn transitions(
    histories: &[History],
    current: (&str, Status),
    category_of: &dyn Fn(&str) -> Option<String>,
    mappings: &OrgMappings,
) -> Vec<Transition> {
    let resolve = |name: &str| {
        let category = category_of(name);
        status_map::resolve(
            status_map::Provider::Jira,
            &Raw {
                status: name,
                category: category.as_deref(),
                ..Raw::default()
            },
            mappings,
        )
        .0
    };
    let mut ordered: Vec<&History> = histories.iter().collect();
    ordered.sort_by_key(|h| h.created);
    let mut out: Vec<Transition> = ordered
        .iter()
        .flat_map(|h| {
            h.items
                .iter()
                .filter(|i| i.field == "status")
                .map(move |i| (h, i))
        })
        .filter_map(|(h, i)| {
            let to_raw = i.to_string.clone()?;
            Some(Transition {
                seq: 0,
                occurred_at: h.created,
                from_status: i.from_string.as_deref().map(resolve),
                to_status: resolve(&to_raw),
                from_raw: i.from_string.clone(),
                to_raw: Some(to_raw),
                actor: h.author.as_ref().map(User::observation),
                source: TransitionSource::Changelog,
            })
        })
        .collect();
    if let Some(last) = out.last_mut()
        && last.to_raw.as_deref() == Some(current.0)
    {
        last.to_status = current.1;
    }
    for (seq, t) in out.iter_mut().enumerate() {
        t.seq = u32::try_from(seq).unwrap_or(u32::MAX);
    }
    out
}
