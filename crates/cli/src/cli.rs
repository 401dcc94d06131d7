//! Command-line interface definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Dev Health: engineering analytics with an enterprise layer.
#[derive(Debug, Parser)]
#[command(name = "dev-health", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: ./dev-health.toml when present).
    #[arg(long, global = true, env = "DEV_HEALTH_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ops server (API + web UI) with an in-process worker.
    Serve(ServeArgs),
    /// Run a job worker without the HTTP server.
    Worker,
    /// Apply pending database migrations (safe to run repeatedly).
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect and exercise the job queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Administer users and platform admins (scripted installs, recovery).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print version information.
    Version {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides `server.bind`).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Do not run a worker inside the server process.
    #[arg(long)]
    pub no_worker: bool,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every effective setting with its source; secrets are redacted.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `jobs` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Count jobs per queue and status.
    Stats,
    /// List jobs in a status (default: dead).
    List {
        /// queued, running, succeeded or dead.
        #[arg(long, default_value = "dead")]
        status: String,
        /// Maximum rows.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one job and its attempts.
    Show {
        /// Job id.
        id: String,
    },
    /// Enqueue diagnostic probe jobs to check that workers run them.
    Probe {
        /// Number of probes.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// How long each probe takes.
        #[arg(long, default_value_t = 0)]
        sleep_ms: u64,
        /// Make every attempt fail with this message.
        #[arg(long)]
        fail: Option<String>,
        /// Attempts before dead letter.
        #[arg(long, default_value_t = 3)]
        max_attempts: u32,
    },
}

/// `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users.
    #[command(subcommand)]
    Users(AdminUsersCommand),
    /// The platform admin flag (no API can set it).
    #[command(subcommand, name = "platform-admin")]
    PlatformAdmin(PlatformAdminCommand),
    /// Show the unsent mails to an address (installs without SMTP).
    Emails {
        /// Recipient address.
        #[arg(long)]
        to: String,
    },
}

/// `admin users` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminUsersCommand {
    /// Create a verified local user.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Password (the password policy applies); prefer DEV_HEALTH_ADMIN_PASSWORD.
        #[arg(long, env = "DEV_HEALTH_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Join the organization with this slug.
        #[arg(long)]
        org: Option<String>,
        /// Role in that organization: owner, admin, editor or viewer (default viewer).
        #[arg(long, requires = "org")]
        role: Option<domain::Role>,
        /// Make the user a platform admin.
        #[arg(long)]
        platform_admin: bool,
    },
}

/// `admin platform-admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PlatformAdminCommand {
    /// Make a user a platform admin.
    Grant {
        /// The user's email.
        email: String,
    },
    /// Take the flag away.
    Revoke {
        /// The user's email.
        email: String,
    },
}
