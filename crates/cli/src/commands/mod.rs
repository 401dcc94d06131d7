//! One module per subcommand.

pub mod admin;
pub mod config_show;
pub mod jobs;
pub mod license;
pub mod license_svc;
pub mod metrics;
pub mod migrate;
pub mod serve;
pub mod sync;
pub mod sync_providers;
pub mod version;
pub mod worker;
