//! `dev-health license-svc …`: the license service (billing spec §13) — `serve`, `migrate`, and
//! the operator commands over its own database. Its configuration is its own file
//! (`LICENSE_SVC_CONFIG`, else `--config`, else `./license-svc.toml` when present) plus the
//! environment; it never reads the ops configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::clock::SystemClock;
use license_service::config::Config;
use license_service::db::{events, outbox};
use license_service::service::Service;
use store::{DatabaseUrl, PoolOptions, Schema, Store};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::cli::{
    LicenseSvcCommand, OutboxCommand, SvcEntitlementsCommand, SvcEventsCommand, SvcLicenseCommand,
};
use crate::error::CliError;
use crate::{output, shutdown};

/// The license-svc config file: `LICENSE_SVC_CONFIG`, `--config`, or `./license-svc.toml`.
fn config_file(flag: Option<&Path>) -> Option<PathBuf> {
    std::env::var_os("LICENSE_SVC_CONFIG")
        .map(PathBuf::from)
        .or_else(|| flag.map(Path::to_path_buf))
        .or_else(|| {
            let default = PathBuf::from("license-svc.toml");
            default.is_file().then_some(default)
        })
}

fn load(flag: Option<&Path>) -> Result<Config, CliError> {
    crate::logging::init(&crate::config::LogSection::default());
    Config::load(config_file(flag).as_deref()).map_err(|e| {
        CliError::config(
            format!("license-svc configuration: {e}"),
            "see docs/license-svc.example.toml for every key and its environment variable",
        )
    })
}

async fn open(url: &DatabaseUrl) -> Result<Store, CliError> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::config(
                format!(
                    "cannot create {} for the license-svc database: {e}",
                    dir.display()
                ),
                "set LICENSE_SVC_DATABASE_URL to a writable location",
            )
        })?;
    }
    let store = Store::connect(url, &PoolOptions::default())
        .await
        .map_err(|e| {
            CliError::unavailable(
                format!(
                    "cannot open the license-svc database ({}): {e}",
                    url.redacted()
                ),
                "check LICENSE_SVC_DATABASE_URL",
            )
        })?;
    Ok(store)
}

async fn service(flag: Option<&Path>, migrate: bool) -> Result<Service, CliError> {
    let config = load(flag)?;
    let store = open(&config.database_url).await?;
    if migrate {
        store.migrate_schema(Schema::LicenseSvc).await?;
    }
    Service::new(store, config, Arc::new(SystemClock))
        .map_err(|e| CliError::config(e.to_string(), "check the stripe section of the config"))
}

/// Runs a `license-svc` subcommand.
pub async fn run(flag: Option<&Path>, cmd: LicenseSvcCommand) -> Result<(), CliError> {
    match cmd {
        LicenseSvcCommand::Serve { listen } => serve(flag, listen).await,
        LicenseSvcCommand::Migrate => {
            let svc = service(flag, false).await?;
            let applied = svc.store.migrate_schema(Schema::LicenseSvc).await?;
            output::line(format!(
                "{}: applied {applied} license-svc migration(s)",
                svc.store.url().redacted()
            ));
            Ok(())
        }
        LicenseSvcCommand::Events(SvcEventsCommand::List {
            outcome,
            kind,
            since,
            limit,
        }) => {
            let svc = service(flag, true).await?;
            let mut c = svc.store.acquire().await?;
            let rows = events::list(
                &mut c.conn(),
                outcome.as_deref(),
                kind.as_deref(),
                since
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc()),
                limit,
            )
            .await?;
            for r in rows {
                output::line(serde_json::to_string(&r).unwrap_or_default());
            }
            Ok(())
        }
        LicenseSvcCommand::Events(SvcEventsCommand::Reprocess { event_id }) => {
            let svc = service(flag, true).await?;
            let outcome = svc.reprocess(&event_id, &actor()).await.map_err(|e| {
                CliError::failure(e.to_string(), Some("see `license-svc events list`"))
            })?;
            output::line(format!("{event_id}: {outcome}"));
            Ok(())
        }
        LicenseSvcCommand::License(cmd) => license(flag, cmd).await,
        LicenseSvcCommand::Outbox(OutboxCommand::List { status, org }) => {
            let svc = service(flag, true).await?;
            let mut c = svc.store.acquire().await?;
            let status = match status.as_deref() {
                None => None,
                Some("pending") => Some(outbox::Status::Pending),
                Some("delivered") => Some(outbox::Status::Delivered),
                Some("superseded") => Some(outbox::Status::Superseded),
                Some("dead") => Some(outbox::Status::Dead),
                Some(other) => {
                    return Err(CliError::with_code(
                        64,
                        format!("unknown outbox status {other:?}"),
                        Some("use pending, delivered, superseded or dead"),
                    ));
                }
            };
            for r in outbox::list(&mut c.conn(), status, org, 1000).await? {
                output::line(serde_json::to_string(&r).unwrap_or_default());
            }
            Ok(())
        }
        LicenseSvcCommand::Outbox(OutboxCommand::Replay { id, org, all_dead }) => {
            if id.is_none() && org.is_none() && !all_dead {
                return Err(CliError::with_code(
                    64,
                    "nothing to replay",
                    Some("give an outbox id, --org ID or --all-dead"),
                ));
            }
            let svc = service(flag, true).await?;
            let now = svc.clock.now();
            let mut tx = svc.store.begin_write().await?;
            let n = outbox::replay(&mut tx.conn(), id, org, now).await?;
            license_service::db::audit::append(
                &mut tx.conn(),
                now,
                &actor(),
                "outbox.replay",
                &format!("id={id:?} org={org:?} all_dead={all_dead}"),
                None,
                Some(&serde_json::json!({"rows": n})),
            )
            .await?;
            tx.commit().await?;
            output::line(format!("{n} outbox row(s) set back to pending"));
            Ok(())
        }
        LicenseSvcCommand::Entitlements(cmd) => entitlements(flag, cmd).await,
        LicenseSvcCommand::Reconcile { dry_run } => {
            let svc = service(flag, true).await?;
            let drift = svc.reconcile(dry_run).await.map_err(|e| {
                CliError::unavailable(e.to_string(), "check stripe.api_base and STRIPE_SECRET_KEY")
            })?;
            for d in &drift {
                output::line(serde_json::to_string(d).unwrap_or_default());
            }
            output::line(format!(
                "{} subscription(s) differ from Stripe{}",
                drift.len(),
                if dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            ));
            if !dry_run && !drift.is_empty() {
                let mut c = svc.store.acquire().await?;
                license_service::db::audit::append(
                    &mut c.conn(),
                    svc.clock.now(),
                    &actor(),
                    "reconcile",
                    "stripe",
                    None,
                    Some(&serde_json::json!({"corrected": drift.len()})),
                )
                .await?;
            }
            Ok(())
        }
    }
}

async fn entitlements(flag: Option<&Path>, cmd: SvcEntitlementsCommand) -> Result<(), CliError> {
    let svc = service(flag, true).await?;
    let refused = |e: license_service::service::SvcError| CliError::failure(e.to_string(), None);
    match cmd {
        SvcEntitlementsCommand::Show { org } => {
            let mut c = svc.store.acquire().await?;
            let row = license_service::db::entitlements::get(&mut c.conn(), org)
                .await?
                .ok_or_else(|| CliError::failure(format!("no entitlement for org {org}"), None))?;
            output::line(
                serde_json::to_string_pretty(&serde_json::json!({
                    "org_id": org, "tier": row.tier.as_str(), "features": row.features,
                    "limits": row.limits, "exp": row.exp, "grace_days": row.grace_days,
                    "version": row.version, "last_iat": row.last_iat, "last_jti": row.last_jti,
                    "billing": row.billing,
                    "comp": row.comp.map(|(t, u, r)| serde_json::json!({"tier": t.as_str(), "until": u, "reason": r})),
                }))
                .unwrap_or_default(),
            );
        }
        SvcEntitlementsCommand::Push { org, all } => {
            let now = svc.clock.now();
            let orgs: Vec<Uuid> = match (org, all) {
                (Some(o), _) => vec![o],
                _ => {
                    let mut c = svc.store.acquire().await?;
                    license_service::db::entitlements::orgs(&mut c.conn()).await?
                }
            };
            for o in orgs {
                let mut tx = svc.store.begin_write().await?;
                let r = svc
                    .recompute_with(&mut tx.conn(), o, now, true)
                    .await
                    .map_err(refused)?;
                license_service::db::audit::append(
                    &mut tx.conn(),
                    now,
                    &actor(),
                    "entitlements.push",
                    &o.to_string(),
                    None,
                    None,
                )
                .await?;
                tx.commit().await?;
                output::line(format!("{o}: {r:?}"));
            }
        }
        SvcEntitlementsCommand::Grant {
            org,
            tier,
            until,
            reason,
            actor: who,
        } => {
            let who = who.unwrap_or_else(actor);
            let until = until
                .and_hms_opt(23, 59, 59)
                .map(|d| d.and_utc())
                .ok_or_else(|| CliError::with_code(64, "bad --until date", None))?;
            let req = license_service::comp::CompRequest {
                tier,
                until,
                reason,
                actor: who.clone(),
            };
            let version = svc.set_comp(org, Some(&req), &who).await.map_err(refused)?;
            output::line(format!(
                "{org}: comp granted until {until}; entitlement version {version}"
            ));
        }
        SvcEntitlementsCommand::Ungrant { org, actor: who } => {
            let version = svc
                .set_comp(org, None, &who.unwrap_or_else(actor))
                .await
                .map_err(refused)?;
            output::line(format!(
                "{org}: comp removed; entitlement version {version}"
            ));
        }
    }
    Ok(())
}

async fn license(flag: Option<&Path>, cmd: SvcLicenseCommand) -> Result<(), CliError> {
    let svc = service(flag, true).await?;
    let refused = |e: license_service::service::SvcError| CliError::failure(e.to_string(), None);
    match cmd {
        SvcLicenseCommand::Issue {
            customer,
            tier,
            days,
            exp,
            deployment_ids,
            features,
            limits,
            actor: who,
        } => {
            let pair = |s: &str| -> Result<(String, String), CliError> {
                s.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| CliError::with_code(64, format!("{s:?} is not key=value"), None))
            };
            let mut f = std::collections::BTreeMap::new();
            for s in &features {
                let (k, v) = pair(s)?;
                let v = v.parse::<bool>().map_err(|_| {
                    CliError::with_code(
                        64,
                        format!("--feature {k}: {v:?} is not true or false"),
                        None,
                    )
                })?;
                f.insert(k, v);
            }
            let mut l = std::collections::BTreeMap::new();
            for s in &limits {
                let (k, v) = pair(s)?;
                let v = v.parse::<i64>().map_err(|_| {
                    CliError::with_code(64, format!("--limit {k}: {v:?} is not a number"), None)
                })?;
                l.insert(k, v);
            }
            let req = license_service::selfhosted::IssueRequest {
                customer_id: customer,
                tier,
                days,
                exp: exp
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc().timestamp()),
                deployment_ids,
                features: f,
                limits: l,
                grace_days: None,
            };
            let issued = svc
                .issue_license(&req, &who.unwrap_or_else(actor))
                .await
                .map_err(refused)?;
            output::line(issued.token.unwrap_or_default());
        }
        SvcLicenseCommand::Revoke {
            jti,
            reason,
            actor: who,
        } => {
            svc.revoke_license(&jti, &reason, &who.unwrap_or_else(actor))
                .await
                .map_err(refused)?;
            output::line(format!("{jti}: revoked"));
        }
        SvcLicenseCommand::List { customer, status } => {
            let mut c = svc.store.acquire().await?;
            let rows = license_service::db::licenses::list(
                &mut c.conn(),
                customer,
                status.as_deref(),
                false,
            )
            .await?;
            for r in rows {
                output::line(serde_json::to_string(&r).unwrap_or_default());
            }
        }
        SvcLicenseCommand::Show { jti } => {
            let mut c = svc.store.acquire().await?;
            let l = license_service::db::licenses::get(&mut c.conn(), &jti)
                .await?
                .ok_or_else(|| {
                    CliError::failure(
                        format!("no license {jti}"),
                        Some("see `license-svc license list`"),
                    )
                })?;
            output::line(serde_json::to_string_pretty(&l).unwrap_or_default());
        }
    }
    Ok(())
}

/// The OS user, for `admin_audit`.
fn actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .map_or_else(|_| "cli".to_owned(), |u| format!("cli:{u}"))
}

async fn serve(flag: Option<&Path>, listen: Option<String>) -> Result<(), CliError> {
    // Before anything records a metric.
    license_service::http::metrics::handle();
    let svc = service(flag, true).await?;
    let addr = listen.unwrap_or_else(|| svc.config.listen.to_string());
    let listener = TcpListener::bind(&addr).await.map_err(|e| {
        CliError::config(
            format!("license-svc cannot listen on {addr}: {e}"),
            "choose another address with --listen or `listen`",
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failure(e.to_string(), None))?;
    let stop = shutdown::on_signal();
    let worker = {
        let svc = svc.clone();
        let stop = stop.clone();
        tokio::spawn(async move { svc.run_outbox(stop).await })
    };
    let scheduler = {
        let svc = svc.clone();
        let stop = stop.clone();
        tokio::spawn(async move { svc.run_scheduler(stop).await })
    };
    tracing::info!(address = %local, "license-svc serving");
    output::line(format!("license-svc listening on http://{local}"));
    let router = license_service::http::router(svc);
    license_service::http::serve(listener, router, stop.clone())
        .await
        .map_err(|e| CliError::failure(format!("license-svc failed: {e}"), None))?;
    stop.cancel();
    let _ = worker.await;
    let _ = scheduler.await;
    Ok(())
}
