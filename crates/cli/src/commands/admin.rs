//! `dev-health admin …`: user creation for scripted installs, the platform admin flag, reading
//! the mail outbox on installs without SMTP, the license, entitlement explanations and the
//! billing pull repair (`admin billing resync`).

use std::path::Path;

use app::identity::NewUserInput;

use crate::cli::{
    AdminBillingCommand, AdminCommand, AdminEntitlementsCommand, AdminLicenseCommand,
    AdminUsersCommand, PlatformAdminCommand,
};
use crate::config::Overrides;
use crate::error::CliError;
use crate::output::line;
use crate::startup;

pub async fn run(file: Option<&Path>, cmd: AdminCommand) -> Result<(), CliError> {
    let loaded = startup::configure(file, Overrides::default())?;
    let store = startup::connect(&loaded).await?;
    startup::ensure_schema(&store).await?;
    let app = startup::app(store.clone(), &loaded).await?;
    let result = match cmd {
        AdminCommand::Users(AdminUsersCommand::Create {
            email,
            password,
            name,
            org,
            role,
            platform_admin,
        }) => {
            let id = app
                .create_user(NewUserInput {
                    email: email.clone(),
                    password,
                    name,
                    org_slug: org,
                    role,
                    platform_admin,
                })
                .await?;
            line(format!("created user {email} ({id})"));
            Ok(())
        }
        AdminCommand::PlatformAdmin(PlatformAdminCommand::Grant { email }) => {
            app.set_platform_admin(&email, true).await?;
            line(format!("{email} is now a platform admin"));
            Ok(())
        }
        AdminCommand::PlatformAdmin(PlatformAdminCommand::Revoke { email }) => {
            app.set_platform_admin(&email, false).await?;
            line(format!("{email} is no longer a platform admin"));
            Ok(())
        }
        AdminCommand::Emails { to } => {
            let norm = to.trim().to_lowercase();
            for m in app.pending_mail(&norm).await? {
                line(format!(
                    "To: {}\nSubject: {}\n\n{}\n",
                    m.to, m.subject, m.body
                ));
            }
            Ok(())
        }
        AdminCommand::License(cmd) => license(&app, cmd).await,
        AdminCommand::Billing(AdminBillingCommand::Resync { org, json }) => {
            let org = app.resolve_org(&org).await?;
            let r = app.resync_billing(org).await?;
            if json {
                line(serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                let what = match r.entitlement {
                    "applied" => format!(
                        "applied (version {})",
                        r.version.map_or_else(|| "?".into(), |v| v.to_string())
                    ),
                    "duplicate" => "already in force; nothing changed".into(),
                    "stale" => "a newer entitlement is already in force; nothing changed".into(),
                    _ => "license-svc has no entitlement for this org; nothing changed".into(),
                };
                line(format!(
                    "org {org}: {what}; tier {}",
                    r.billing.tier.as_str()
                ));
            }
            Ok(())
        }
        AdminCommand::Entitlements(AdminEntitlementsCommand::Explain { org, feature, json }) => {
            let org = app.resolve_org(&org).await?;
            let e = app.explain(org, feature).await?;
            if json {
                line(serde_json::to_string_pretty(&e).unwrap_or_default());
            } else {
                line(format!(
                    "org {} ({} mode), effective tier {}, evaluated at {}",
                    e.org_id,
                    e.mode.as_str(),
                    e.tier["effective"].as_str().unwrap_or("?"),
                    e.evaluated_at.to_rfc3339()
                ));
                for f in &e.features {
                    line(format!(
                        "  {:<20} {:<5} {}",
                        f["feature"].as_str().unwrap_or(""),
                        if f["allowed"].as_bool() == Some(true) {
                            "on"
                        } else {
                            "off"
                        },
                        f["reason"].as_str().unwrap_or("")
                    ));
                }
                if let Some(limits) = e.limits.as_object() {
                    for (name, l) in limits {
                        line(format!(
                            "  limit {name:<20} {} ({})",
                            l["maximum"],
                            l["source"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn license(app: &app::App, cmd: AdminLicenseCommand) -> Result<(), CliError> {
    match cmd {
        AdminLicenseCommand::Install { token } => {
            let token = match token.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path).map_err(|e| {
                    CliError::with_code(
                        64,
                        format!("cannot read {path}: {e}"),
                        Some("give the key or @FILE with the key"),
                    )
                })?,
                None => token,
            };
            let view = app.install_license(&token, None).await?;
            line(format!(
                "installed license {} ({}, expires {}); every server applies it within a second",
                view.jti.as_deref().unwrap_or("?"),
                view.tier.map_or("?", |t| t.as_str()),
                view.exp.map_or_else(|| "?".into(), |t| t.to_rfc3339()),
            ));
        }
        AdminLicenseCommand::Reload => {
            app.request_license_reload().await?;
            line("asked every server to re-read its license file");
        }
        AdminLicenseCommand::Status => {
            let status = app.license_status(None).await?;
            line(serde_json::to_string_pretty(&status).unwrap_or_default());
        }
        AdminLicenseCommand::ClockReset { confirm } => {
            if !confirm {
                return Err(CliError::with_code(
                    64,
                    "clock-reset needs --confirm",
                    Some(
                        "the mark protects against clock rollback; reset it only to repair a mark set by a wrong clock",
                    ),
                ));
            }
            let before = app.reset_clock().await?;
            line(format!(
                "clock mark reset (was {})",
                before.map_or_else(|| "unset".into(), |t| t.to_rfc3339())
            ));
        }
    }
    Ok(())
}
