//! The metric services behind `GET /api/v1/metrics` and `GET /api/v1/metrics/{key}`
//! (`analytics:read`), and the range recompute behind `dev-health metrics recompute`.

use chrono::{DateTime, Utc};
use domain::OrgId;
use domain::permission::marker::AnalyticsRead;
use serde::Serialize;
use serde_json::{Map, Value};

use super::catalog::{self, CatalogEntry};
use super::compute::series;
use super::recompute::{Recomputed, recompute_range};
use super::request::{MetricQuery, check_scope, parse, today};
use super::series::{Point, compute};
use super::window::Grain;
use crate::authz::Authorized;
use crate::{App, AppError, ErrorKind, Result};

/// One metric over a window: a point per bucket and the window's summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricAnswer {
    /// The metric key.
    pub metric: &'static str,
    /// Its unit (`seconds` for durations).
    pub unit: &'static str,
    /// `day` or `week`.
    pub grain: Grain,
    /// `org`, `repo`, `team` or `person`.
    pub scope: &'static str,
    /// The scope's id (none for the org).
    pub scope_id: Option<String>,
    /// The window's first instant (a Monday for weeks).
    pub from: DateTime<Utc>,
    /// The instant just after the window.
    pub to: DateTime<Utc>,
    /// The requested statistics, in order.
    pub stats: Vec<&'static str>,
    /// One per bucket, oldest first; empty buckets carry counts of 0 and null durations.
    pub points: Vec<Point>,
    /// The same statistics over the whole window, from its per-item values.
    pub summary: Map<String, Value>,
}

impl App {
    /// `GET /api/v1/metrics`: every metric with its unit, population, scopes and statistics.
    pub fn metric_catalog(&self, _a: &Authorized<AnalyticsRead>) -> Vec<CatalogEntry> {
        catalog::entries()
    }

    /// `GET /api/v1/metrics/{key}`: metric `key` for the caller's org over the query's window
    /// and scope. Bad input is 400 naming the field; an unknown metric or a scope id outside
    /// the org is 404.
    pub async fn metric(
        &self,
        a: &Authorized<AnalyticsRead>,
        key: &str,
        query: &MetricQuery,
    ) -> Result<MetricAnswer> {
        let org = a.org_id()?;
        let req = parse(key, query, today(self.clock().now()))?;
        let mut c = self.store().acquire().await?;
        let mut conn = c.conn();
        check_scope(&mut conn, org, &req.scope).await?;
        let samples = series(&mut conn, org, &req.scope, req.def.key, &req.window).await?;
        let (points, summary) = compute(&req.window, &samples, &req.stats);
        Ok(MetricAnswer {
            metric: req.def.key,
            unit: req.def.unit,
            grain: req.window.grain,
            scope: req.scope_kind,
            scope_id: req.scope_id,
            from: req.window.from(),
            to: req.window.to(),
            stats: req.stats,
            points,
            summary,
        })
    }

    /// `dev-health metrics recompute --from --to`: rebuilds the derived facts of the org's rows
    /// in `[from, to)` (an operator command; no principal).
    pub async fn recompute_metrics(
        &self,
        org: OrgId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Recomputed> {
        if from >= to {
            return Err(AppError::new(
                ErrorKind::BadRequest,
                "invalid_range",
                "--from must be before --to.",
            ));
        }
        let mut tx = self.store().begin_write().await?;
        let done = recompute_range(&mut tx.conn(), org, from, to).await?;
        tx.commit().await?;
        Ok(done)
    }
}
