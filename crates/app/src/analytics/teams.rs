//! The org's teams as a filter needs them (id and name), for readers of metrics.
//!
//! Metric pages narrow any metric to one team (`team_id`), which `analytics:read` already
//! allows; listing the teams' names under the same permission lets those pages offer the
//! filter without asking for `teams:read` as well. Members and project keys stay with the
//! teams API.

use domain::TeamId;
use domain::permission::marker::AnalyticsRead;
use serde::Serialize;
use store::analytics::teams;

use crate::authz::Authorized;
use crate::{App, Result};

/// One team to pick in a filter.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TeamChoice {
    /// Id (what the metric query takes).
    pub id: TeamId,
    /// Display name (what people read; never the raw id).
    pub name: String,
}

impl App {
    /// The caller's org's teams, by name then slug.
    pub async fn team_choices(&self, a: &Authorized<AnalyticsRead>) -> Result<Vec<TeamChoice>> {
        let org = a
            .scope()
            .map(|s| s.org_id())
            .ok_or_else(crate::authz::unauthenticated)?;
        let mut c = self.store().acquire().await?;
        let mut list: Vec<(String, String, TeamId)> = teams::list(&mut c.conn(), org)
            .await?
            .into_iter()
            .map(|t| (t.name.to_lowercase(), t.name, t.id))
            .collect();
        list.sort();
        Ok(list
            .into_iter()
            .map(|(_, name, id)| TeamChoice { id, name })
            .collect())
    }
}
