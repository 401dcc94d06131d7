//! The entitlement engine's application side (entitlements spec §5–§16): it gathers the inputs
//! of [`domain::entitlement::decide`] — kill switches, org overrides, the org's SaaS entitlement
//! or the instance license verified offline, the time high-water mark — into one in-memory
//! snapshot per org, and answers every gate from it.
//!
//! Snapshots are dropped when an input changes: this replica drops its own at once; other
//! replicas hear a PostgreSQL `NOTIFY` (or, on SQLite, poll the version rows every 500 ms), so a
//! change is visible everywhere within a second. Time-driven changes need no notification:
//! a snapshot is rebuilt once its `valid_until` (the next ladder or override boundary) passes.

mod admin;
mod clock;
mod errors;
mod gate;
mod instance;
mod invalidate;
mod receiver;
mod snapshot;
mod status;

pub use admin::{KillSwitchInput, OverrideInput, OverrideView};
pub use clock::ClockView;
pub use instance::{LicenseSource, ReloadError};
pub use receiver::{Accepted, MAX_PUSH_BYTES, Via};
pub use snapshot::{FeatureState, OrgSnapshot, TokenView};
pub use status::{Explain, LicenseStatus};
use std::path::PathBuf;

pub(crate) use snapshot::Engine;

/// How the instance is operated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One instance license for every org (`DEV_HEALTH_LICENSE` or an installed key).
    SelfHosted,
    /// Each org's entitlement is pushed by the license service.
    Saas,
}

impl Mode {
    /// `self_hosted` or `saas`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::SelfHosted => "self_hosted",
            Mode::Saas => "saas",
        }
    }
}

/// Where `DEV_HEALTH_LICENSE` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseSetting {
    /// The token itself (three base64url segments); read once at start.
    Value(String),
    /// A file holding the token; watched and re-read on change, `SIGHUP` or `admin license reload`.
    File(PathBuf),
}

impl LicenseSetting {
    /// Spec §14: three base64url segments are the token, anything else is a path.
    pub fn parse(raw: &str) -> LicenseSetting {
        let t = raw.trim();
        let segments: Vec<&str> = t.split('.').collect();
        let b64 = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if segments.len() == 3 && segments.iter().all(|s| b64(s)) {
            LicenseSetting::Value(t.to_owned())
        } else {
            LicenseSetting::File(PathBuf::from(raw))
        }
    }
}

/// A deployment id that failed `[a-z0-9][a-z0-9._-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "deployment id {0:?} is not valid: use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
)]
pub struct BadDeploymentId(pub String);

/// Entitlement settings.
#[derive(Debug, Clone)]
pub struct EntitlementConfig {
    /// Self-hosted or SaaS.
    pub mode: Mode,
    /// This instance's deployment id (`DEV_HEALTH_DEPLOYMENT_ID`, default `self-hosted`).
    pub deployment_id: String,
    /// `DEV_HEALTH_LICENSE` (self-hosted only; ignored with a warning in SaaS mode).
    pub license: Option<LicenseSetting>,
    /// Trusted keys; the compiled-in anchors unless a test says otherwise.
    pub anchors: &'static [license::Anchor],
}

impl EntitlementConfig {
    /// Settings with the compiled-in anchors; checks the deployment id.
    pub fn new(
        mode: Mode,
        deployment_id: &str,
        license: Option<LicenseSetting>,
    ) -> Result<Self, BadDeploymentId> {
        check_deployment_id(deployment_id)?;
        Ok(Self {
            mode,
            deployment_id: deployment_id.to_owned(),
            license: if mode == Mode::SelfHosted {
                license
            } else {
                None
            },
            anchors: license::anchors::compiled(),
        })
    }

    /// A self-hosted instance with the default deployment id and no license (community).
    pub fn community() -> Self {
        Self {
            mode: Mode::SelfHosted,
            deployment_id: "self-hosted".into(),
            license: None,
            anchors: license::anchors::compiled(),
        }
    }
}

/// Spec §11: `[a-z0-9][a-z0-9._-]{0,62}`.
pub fn check_deployment_id(id: &str) -> Result<(), BadDeploymentId> {
    if license::claims::valid_deployment_id(id) {
        Ok(())
    } else {
        Err(BadDeploymentId(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_values_are_tokens_or_paths() {
        assert_eq!(
            LicenseSetting::parse(" eyJh.eyJi.c2ln \n"),
            LicenseSetting::Value("eyJh.eyJi.c2ln".into())
        );
        assert_eq!(
            LicenseSetting::parse("/etc/dev-health/license.jwt"),
            LicenseSetting::File("/etc/dev-health/license.jwt".into())
        );
        assert_eq!(
            LicenseSetting::parse("license.v1.jwt"),
            LicenseSetting::Value("license.v1.jwt".into()),
            "three plain segments read as a token (spec §14)"
        );
        assert_eq!(
            LicenseSetting::parse("./license.jwt"),
            LicenseSetting::File("./license.jwt".into())
        );
    }

    #[test]
    fn deployment_ids_follow_the_pattern() {
        for ok in ["self-hosted", "acme-prod", "a", "saas-prod", "x.y_z-1"] {
            assert!(check_deployment_id(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "-acme", "Acme", "acme prod", "acme/prod", long.as_str()] {
            assert!(check_deployment_id(bad).is_err(), "{bad}");
        }
    }
}
