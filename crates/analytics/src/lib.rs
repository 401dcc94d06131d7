//! Metric formulas, the percentile rule, Monte Carlo forecasts and the investment classifier.
//!
//! Pure by rule (checked by `scripts/check-deps`): no async runtime, database or HTTP crate.
//! The formulas arrive with issue 6 (`spec/analytics.md` §9–§11).

pub mod code;
pub mod identity;
pub mod percentile;
pub mod pull_request;
pub mod status_map;
pub mod team;
pub mod window;
pub mod work_item;
