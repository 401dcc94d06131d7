//! Metrics from stored data (analytics spec §9): the catalog, the metric query over a window
//! and scope, and the recompute of the derived per-item facts that sync calls after writing
//! rows.
//!
//! Request path: `metric` validates the query ([`request`]), checks the scope ids against the
//! caller's org (another org's id answers 404), reads one population's rows ([`compute`]),
//! and turns them into buckets and a window summary ([`series`]) with the pure formulas of the
//! `analytics` crate.

pub mod catalog;
mod compute;
pub mod recompute;
mod request;
mod series;
mod service;
mod teams;
pub mod window;

pub use recompute::{Recomputed, recompute_pull_requests, recompute_range, recompute_work_items};
pub use request::MetricQuery;
pub use series::Point;
pub use service::MetricAnswer;
pub use teams::TeamChoice;
