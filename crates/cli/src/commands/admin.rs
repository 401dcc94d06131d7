//! `dev-health admin …`: user creation for scripted installs, the platform admin flag, and
//! reading the mail outbox on installs without SMTP.

use std::path::Path;

use app::identity::NewUserInput;

use crate::cli::{AdminCommand, AdminUsersCommand, PlatformAdminCommand};
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
    };
    store.close().await;
    result
}
