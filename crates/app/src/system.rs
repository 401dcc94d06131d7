//! Liveness and readiness of this process.

use serde::Serialize;
use store::MigrationStatus;

use crate::App;

/// One readiness check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed, or a short status.
    pub detail: String,
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// True when every check passed.
    pub ready: bool,
    /// Database reachable.
    pub database: Check,
    /// Schema matches this binary.
    pub migrations: Check,
    /// The migration details, when the database answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_status: Option<MigrationStatus>,
}

impl App {
    /// Checks that the database answers and that its schema is exactly what this binary
    /// expects. Never fails: a failing check is part of the answer.
    pub async fn readiness(&self) -> Readiness {
        let database = match self.store().ping().await {
            Ok(()) => Check {
                ok: true,
                detail: "reachable".into(),
            },
            Err(e) => Check {
                ok: false,
                detail: e.to_string(),
            },
        };
        let (migrations, migration_status) = if database.ok {
            match self.store().migration_status().await {
                Ok(s) if s.is_current() => (
                    Check {
                        ok: true,
                        detail: "current".into(),
                    },
                    Some(s),
                ),
                Ok(s) => {
                    let detail = format!(
                        "{:?}: pending {:?}, unknown {:?}, broken {:?}; run `dev-health migrate`",
                        s.state, s.pending, s.unknown, s.broken
                    );
                    (Check { ok: false, detail }, Some(s))
                }
                Err(e) => (
                    Check {
                        ok: false,
                        detail: e.to_string(),
                    },
                    None,
                ),
            }
        } else {
            (
                Check {
                    ok: false,
                    detail: "database unreachable".into(),
                },
                None,
            )
        };
        Readiness {
            ready: database.ok && migrations.ok,
            database,
            migrations,
            migration_status,
        }
    }
}
