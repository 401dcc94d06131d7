//! Work items in a window (analytics spec §9.5): the per-item rows of one population with their
//! `work_item_facts` values, and for WIP their transitions. Deleted items count nowhere.
//!
//! A team's items are those whose facts list the team (`team_ids`, attributed by the
//! recompute per §8); that JSON list is filtered here rather than in SQL, which keeps the
//! query portable.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::{OrgId, TeamId, WorkItemId};

use super::{Arg, Scope, Sql, fetch_built};
use crate::{Conn, Id, JsonText, Result, Ts};

/// Which items a metric reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemPopulation {
    /// Completed in the window (throughput, cycle and lead time, flow efficiency).
    Completed,
    /// Canceled in the window.
    Canceled,
    /// Created in the window.
    Created,
    /// Possibly in progress at some day's end of the window: created before it ends, not
    /// completed or canceled before it starts; read with their transitions.
    Wip,
}

/// One item with its facts (durations in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    /// The item.
    pub id: WorkItemId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Normalised current status.
    pub status: String,
    /// First start.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion.
    pub completed_at: Option<DateTime<Utc>>,
    /// Cancellation.
    pub canceled_at: Option<DateTime<Utc>>,
    /// Cycle time.
    pub cycle_s: Option<f64>,
    /// Lead time.
    pub lead_s: Option<f64>,
    /// Active time over the cycle.
    pub active_s: Option<f64>,
    /// Wait time over the cycle.
    pub wait_s: Option<f64>,
    /// `(occurred_at, from_status, to_status)` in `seq` order; read for [`ItemPopulation::Wip`]
    /// only.
    pub transitions: Vec<(DateTime<Utc>, Option<String>, String)>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: Id,
    created_at: Ts,
    status: String,
    started_at: Option<Ts>,
    completed_at: Option<Ts>,
    canceled_at: Option<Ts>,
    cycle_s: Option<f64>,
    lead_s: Option<f64>,
    active_s: Option<f64>,
    wait_s: Option<f64>,
    team_ids: Option<JsonText<Vec<TeamId>>>,
}

#[derive(sqlx::FromRow)]
struct TransitionRow {
    work_item_id: Id,
    occurred_at: Ts,
    from_status: Option<String>,
    to_status: String,
}

fn where_clause(sql: &mut Sql, scope: &Scope, population: ItemPopulation, f: &str, t: &str) {
    sql.push(&format!(
        " FROM work_items w LEFT JOIN work_item_facts f ON f.org_id = w.org_id \
         AND f.work_item_id = w.id WHERE w.org_id = $1 AND w.deleted_at IS NULL AND {}",
        match population {
            ItemPopulation::Completed => {
                format!("f.completed_at >= {f} AND f.completed_at < {t}")
            }
            ItemPopulation::Canceled => format!("f.canceled_at >= {f} AND f.canceled_at < {t}"),
            ItemPopulation::Created => format!("w.created_at >= {f} AND w.created_at < {t}"),
            ItemPopulation::Wip => format!(
                "w.created_at < {t} AND (f.completed_at IS NULL OR f.completed_at >= {f}) \
                 AND (f.canceled_at IS NULL OR f.canceled_at >= {f})"
            ),
        }
    ));
    sql.repo("w.repo_id", scope);
    // Team attribution comes from the facts (below), so only the person goes to SQL.
    sql.who(
        "w.assignee_identity_id",
        &Scope {
            team: None,
            ..*scope
        },
    );
}

/// The items of `population` for `scope` in `[from, to)`, ordered by id.
pub async fn items(
    conn: &mut Conn<'_>,
    org: OrgId,
    scope: &Scope,
    population: ItemPopulation,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ItemRow>> {
    let built = |select: &str| {
        let mut sql = Sql::new(org);
        let (f, t) = (
            sql.arg(Arg::Ts(Ts::new(from))),
            sql.arg(Arg::Ts(Ts::new(to))),
        );
        sql.push(select);
        where_clause(&mut sql, scope, population, &f, &t);
        sql
    };
    let sql = built(
        "SELECT w.id, w.created_at, w.status, f.started_at, f.completed_at, f.canceled_at, \
         f.cycle_s, f.lead_s, f.active_s, f.wait_s, f.team_ids",
    );
    let rows: Vec<Raw> = fetch_built!(conn, sql, Raw)?;
    let mut out: BTreeMap<Id, ItemRow> = rows
        .into_iter()
        .filter(|r| match scope.team {
            None => true,
            Some(team) => r.team_ids.as_ref().is_some_and(|ids| ids.0.contains(&team)),
        })
        .map(|r| {
            let row = ItemRow {
                id: r.id.into(),
                created_at: r.created_at.get(),
                status: r.status,
                started_at: r.started_at.map(Ts::get),
                completed_at: r.completed_at.map(Ts::get),
                canceled_at: r.canceled_at.map(Ts::get),
                cycle_s: r.cycle_s,
                lead_s: r.lead_s,
                active_s: r.active_s,
                wait_s: r.wait_s,
                transitions: Vec::new(),
            };
            (r.id, row)
        })
        .collect();
    if population == ItemPopulation::Wip && !out.is_empty() {
        let mut sql = built(
            "SELECT t.work_item_id, t.occurred_at, t.from_status, t.to_status \
             FROM work_item_transitions t WHERE t.org_id = $1 AND t.work_item_id IN (SELECT w.id",
        );
        sql.push(") ORDER BY t.work_item_id, t.seq");
        let transitions: Vec<TransitionRow> = fetch_built!(conn, sql, TransitionRow)?;
        for t in transitions {
            if let Some(item) = out.get_mut(&t.work_item_id) {
                item.transitions
                    .push((t.occurred_at.get(), t.from_status, t.to_status));
            }
        }
    }
    Ok(out.into_values().collect())
}
