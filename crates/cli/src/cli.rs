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
    /// Issue, inspect and verify license keys offline.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Administer users and platform admins (scripted installs, recovery).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Sync repositories and work items into the analytics store.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Maintain the derived metric facts.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// The license service: Stripe webhooks, entitlements and license keys (its own config
    /// file and database).
    #[command(subcommand, name = "license-svc")]
    LicenseSvc(LicenseSvcCommand),
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

/// `metrics` subcommands.
#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Rebuild the PR and work-item facts of rows opened, merged, created, changed or
    /// transitioned in [--from, --to): the same result as the incremental updates of syncs.
    Recompute {
        /// The organization, by id or slug.
        #[arg(long)]
        org: String,
        /// Start, inclusive (YYYY-MM-DD, UTC midnight, or an RFC 3339 time).
        #[arg(long, value_name = "DATE", value_parser = parse_time)]
        from: chrono::DateTime<chrono::Utc>,
        /// End, exclusive.
        #[arg(long, value_name = "DATE", value_parser = parse_time)]
        to: chrono::DateTime<chrono::Utc>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `sync` subcommands.
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Sync the commits of a local git repository (registered on first use).
    Git {
        /// The repository (a work tree or a bare repository).
        path: std::path::PathBuf,
        /// The organization, by id or slug.
        #[arg(long)]
        org: String,
        /// The branch to sync (default: the branch HEAD points at).
        #[arg(long)]
        branch: Option<String>,
        /// On the first sync only, read commits committed since this date (YYYY-MM-DD, UTC
        /// midnight, or an RFC 3339 time); later syncs continue from the synced tip.
        #[arg(long, value_name = "DATE", value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sync a GitHub repository's pull requests (and with --issues its issues).
    Github(crate::commands::sync_providers::GithubArgs),
    /// Sync a GitLab project's merge requests.
    Gitlab(crate::commands::sync_providers::GitlabArgs),
    /// Sync the work items of a Jira or Linear integration.
    #[command(name = "work-items")]
    WorkItems(crate::commands::sync_providers::WorkItemsArgs),
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
    /// The instance license (self-hosted).
    #[command(subcommand)]
    License(AdminLicenseCommand),
    /// Entitlement decisions.
    #[command(subcommand)]
    Entitlements(AdminEntitlementsCommand),
    /// Billing (SaaS): repair an org's entitlement from license-svc.
    #[command(subcommand)]
    Billing(AdminBillingCommand),
}

/// `admin billing` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminBillingCommand {
    /// Pull the org's entitlement from license-svc and apply it like a push (repairs a lost
    /// push; a newer one already in force is kept).
    Resync {
        /// Org id or slug.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `admin license` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminLicenseCommand {
    /// Install or replace the license key (refused while DEV_HEALTH_LICENSE is set).
    Install {
        /// The key, or @FILE to read it from a file.
        token: String,
    },
    /// Make every running server re-read its DEV_HEALTH_LICENSE file within a second.
    Reload,
    /// Show the license status.
    Status,
    /// Reset the clock high-water mark to this machine's clock (audited).
    ClockReset {
        /// Required: the mark guards against clock rollback.
        #[arg(long)]
        confirm: bool,
    },
}

/// `admin entitlements` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminEntitlementsCommand {
    /// Why each feature is or is not available to an org (reads the database directly).
    Explain {
        /// Org id or slug.
        #[arg(long)]
        org: String,
        /// One feature key (all 16 without it).
        #[arg(long)]
        feature: Option<domain::Feature>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
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

/// `license` subcommands (entitlements spec §9).
#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Generate a signing key pair: writes `<kid>.pk8.pem` (0600) and prints the trust anchor.
    Keygen {
        /// Key id.
        #[arg(long)]
        kid: String,
        /// `license` or `entitlement`.
        #[arg(long)]
        purpose: String,
        /// Directory for the private key.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Sign a license key and print it.
    Issue(Box<IssueArgs>),
    /// Decode a token WITHOUT verifying it.
    Inspect {
        /// The token, `@file`, or `-` for stdin.
        token: String,
    },
    /// Verify a token against the compiled trust anchors (exit 0 usable, 2 rejected).
    Verify {
        /// The token, `@file`, or `-` for stdin.
        token: String,
        /// The deployment id to check (default: DEV_HEALTH_DEPLOYMENT_ID or `self-hosted`).
        #[arg(long)]
        deployment_id: Option<String>,
        /// Evaluate at this time (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `license issue` options.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// PKCS#8 PEM private key file.
    #[arg(
        long,
        required_unless_present = "test_key",
        conflicts_with = "test_key"
    )]
    pub key: Option<std::path::PathBuf>,
    /// Sign with the public test license key (builds with the `test-keys` feature only).
    #[arg(long)]
    pub test_key: bool,
    /// Key id (default with --test-key: dh-test-license-1).
    #[arg(long)]
    pub kid: Option<String>,
    /// Customer id.
    #[arg(long)]
    pub sub: String,
    /// community, team or enterprise.
    #[arg(long)]
    pub tier: String,
    /// Valid for this many days from now (or --exp).
    #[arg(long, conflicts_with = "exp", required_unless_present = "exp")]
    pub days: Option<i64>,
    /// Expiry (RFC 3339).
    #[arg(long)]
    pub exp: Option<String>,
    /// Allowed deployment ids (repeat).
    #[arg(long = "deployment-id", required = true)]
    pub deployment_ids: Vec<String>,
    /// Not valid before (RFC 3339).
    #[arg(long)]
    pub nbf: Option<String>,
    /// Issue time (RFC 3339; default now).
    #[arg(long)]
    pub iat: Option<String>,
    /// A feature value, `key=true|false` (repeat).
    #[arg(long = "feature")]
    pub features: Vec<String>,
    /// A limit, `key=n` with -1 for unlimited (repeat).
    #[arg(long = "limit")]
    pub limits: Vec<String>,
    /// Grace days after expiry (default by tier: 0, 14, 30).
    #[arg(long)]
    pub grace_days: Option<i64>,
    /// Token id (default: a new UUID).
    #[arg(long)]
    pub jti: Option<String>,
    /// Allow an expiry or issue time in the past (tests need expired keys).
    #[arg(long)]
    pub allow_past: bool,
}

/// `license-svc` subcommands (billing spec §13).
#[derive(Debug, Subcommand)]
pub enum LicenseSvcCommand {
    /// Run the service (webhooks, the /v1 API, the outbox worker and the scheduler).
    Serve {
        /// Listen address (overrides `listen`).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Apply the license-svc schema to its database.
    Migrate,
    /// Inspect Stripe events.
    #[command(subcommand)]
    Events(SvcEventsCommand),
    /// Inspect and replay pushes to ops.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Self-hosted license keys.
    #[command(subcommand)]
    License(SvcLicenseCommand),
    /// Correct stored subscriptions from Stripe (also runs nightly inside `serve`).
    Reconcile {
        /// Only report what differs.
        #[arg(long)]
        dry_run: bool,
    },
    /// Inspect, re-push and comp-grant SaaS entitlements.
    #[command(subcommand)]
    Entitlements(SvcEntitlementsCommand),
}

/// `license-svc entitlements` subcommands.
#[derive(Debug, Subcommand)]
pub enum SvcEntitlementsCommand {
    /// The org's stored entitlement, its billing summary and comp grant (JSON).
    Show {
        /// The org.
        #[arg(long, value_name = "ID")]
        org: uuid::Uuid,
    },
    /// Re-sign the current entitlement with a fresh `iat` and enqueue it (after ops restored a
    /// backup).
    Push {
        /// The org.
        #[arg(long, value_name = "ID", required_unless_present = "all")]
        org: Option<uuid::Uuid>,
        /// Every org.
        #[arg(long)]
        all: bool,
    },
    /// Grant a comp tier until a date (audited; pushed like any change).
    Grant {
        /// The org.
        #[arg(long, value_name = "ID")]
        org: uuid::Uuid,
        /// `team` or `enterprise`.
        #[arg(long)]
        tier: String,
        /// Last day (YYYY-MM-DD, UTC; at most 366 days ahead).
        #[arg(long)]
        until: chrono::NaiveDate,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who (default: the OS user).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Remove an org's comp grant.
    Ungrant {
        /// The org.
        #[arg(long, value_name = "ID")]
        org: uuid::Uuid,
        /// Who (default: the OS user).
        #[arg(long)]
        actor: Option<String>,
    },
}

/// `license-svc events` subcommands.
#[derive(Debug, Subcommand)]
pub enum SvcEventsCommand {
    /// Recorded events, newest first, one JSON object per line.
    List {
        /// Only this outcome (applied, no_change, stale, ignored, unhandled, unlinked, unknown_price, unknown_status, error).
        #[arg(long)]
        outcome: Option<String>,
        /// Only this event type.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only events received on or after this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Process a stored event again (after a fix for an `error` outcome).
    Reprocess {
        /// The event id.
        event_id: String,
    },
}

/// `license-svc license` subcommands.
#[derive(Debug, Subcommand)]
pub enum SvcLicenseCommand {
    /// Sign, store and print a key.
    Issue {
        /// The customer (its license-svc id).
        #[arg(long)]
        customer: uuid::Uuid,
        /// `team` or `enterprise`.
        #[arg(long)]
        tier: String,
        /// Valid for this many days.
        #[arg(long, conflicts_with = "exp")]
        days: Option<i64>,
        /// Valid until this date (YYYY-MM-DD, UTC midnight).
        #[arg(long)]
        exp: Option<chrono::NaiveDate>,
        /// A deployment id (repeat for several).
        #[arg(long = "deployment-id", required = true)]
        deployment_ids: Vec<String>,
        /// `feature=true|false` (repeatable).
        #[arg(long = "feature")]
        features: Vec<String>,
        /// `limit=N` (repeatable; -1 = unlimited).
        #[arg(long = "limit")]
        limits: Vec<String>,
        /// Who is issuing it (default: the OS user).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Revoke a key.
    Revoke {
        /// The key's jti.
        jti: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who (default: the OS user).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Keys, newest first (tokens omitted).
    List {
        /// Only this customer.
        #[arg(long)]
        customer: Option<uuid::Uuid>,
        /// Only this status (active, superseded, revoked).
        #[arg(long)]
        status: Option<String>,
    },
    /// One key with its token.
    Show {
        /// The key's jti.
        jti: String,
    },
}

/// `license-svc outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Outbox rows, newest first, one JSON object per line.
    List {
        /// Only this status (pending, delivered, superseded, dead).
        #[arg(long)]
        status: Option<String>,
        /// Only this org.
        #[arg(long, value_name = "ID")]
        org: Option<uuid::Uuid>,
    },
    /// Set rows back to pending with no attempts.
    Replay {
        /// One row.
        id: Option<i64>,
        /// An org's dead rows.
        #[arg(long, value_name = "ID")]
        org: Option<uuid::Uuid>,
        /// Every dead row.
        #[arg(long)]
        all_dead: bool,
    },
}

/// A date (midnight UTC) or an RFC 3339 time (`--since`, `--from`, `--to`).
fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("{s:?} is not a date; give YYYY-MM-DD or an RFC 3339 time"))
}
