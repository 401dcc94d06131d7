//! The GraphQL documents and response shapes of the Linear pass.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::providers::timefmt;

/// Issues updated after `$since`, 50 per page, each with its first 50 history entries.
pub(crate) const ISSUES: &str =
    "query Issues($first: Int!, $after: String, $since: DateTimeOrDuration!) {
  issues(first: $first, after: $after, filter: { updatedAt: { gt: $since } }) {
    nodes {
      id identifier title createdAt updatedAt startedAt completedAt canceledAt estimate priority url
      state { name type }
      team { key }
      project { id name }
      parent { identifier }
      labels { nodes { name } }
      assignee { id email name }
      creator { id email name }
      history(first: 50) {
        nodes { createdAt fromState { name type } toState { name type } actor { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}";

/// The rest of one issue's history.
pub(crate) const HISTORY: &str = "query IssueHistory($id: String!, $after: String) {
  issue(id: $id) {
    history(first: 50, after: $after) {
      nodes { createdAt fromState { name type } toState { name type } actor { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}";

/// `pageInfo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    pub(crate) has_next_page: bool,
    pub(crate) end_cursor: Option<String>,
}

/// A `{ nodes }` connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection<T> {
    pub(crate) nodes: Vec<T>,
    pub(crate) page_info: Option<PageInfo>,
}

/// A workflow state.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct State {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: Option<String>,
    pub(crate) name: Option<String>,
}

/// Something with an id (history actors).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Id {
    pub(crate) id: String,
}

/// A team key.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Team {
    pub(crate) key: String,
}

/// A parent issue.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Parent {
    pub(crate) identifier: String,
}

/// A label.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Label {
    pub(crate) name: String,
}

/// One history entry; only those with a `toState` are status changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct History {
    #[serde(deserialize_with = "timefmt::de")]
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) from_state: Option<State>,
    pub(crate) to_state: Option<State>,
    pub(crate) actor: Option<Id>,
}

/// One issue.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Issue {
    pub(crate) id: String,
    pub(crate) identifier: String,
    pub(crate) title: String,
    #[serde(deserialize_with = "timefmt::de")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(deserialize_with = "timefmt::de")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    pub(crate) started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    pub(crate) completed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timefmt::de_opt")]
    pub(crate) canceled_at: Option<DateTime<Utc>>,
    pub(crate) estimate: Option<f64>,
    pub(crate) url: Option<String>,
    pub(crate) state: State,
    pub(crate) team: Option<Team>,
    pub(crate) parent: Option<Parent>,
    pub(crate) labels: Option<Connection<Label>>,
    pub(crate) assignee: Option<User>,
    pub(crate) creator: Option<User>,
    pub(crate) history: Option<Connection<History>>,
}

/// `data.issues`.
#[derive(Debug, Deserialize)]
pub(crate) struct IssuesData {
    pub(crate) issues: Connection<Issue>,
}

/// `data.issue.history`.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryData {
    pub(crate) issue: HistoryHolder,
}

/// `issue { history }`.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryHolder {
    pub(crate) history: Connection<History>,
}

/// A GraphQL answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Answer<T> {
    pub(crate) data: Option<T>,
}
