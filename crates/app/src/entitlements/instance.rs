//! The self-hosted instance license from `DEV_HEALTH_LICENSE` (entitlements spec §14): a value
//! read once at start, or a file re-read when its content changes, on `SIGHUP` and on
//! `admin license reload`. A candidate replaces the applied license only when it is usable or
//! the applied one is not; a failed reload keeps the last good license and is reported.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::LicenseSetting;

/// Where the applied license came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseSource {
    /// `DEV_HEALTH_LICENSE` holding the token.
    Env,
    /// The file `DEV_HEALTH_LICENSE` points to.
    File,
    /// Installed through the API or `admin license install`.
    Admin,
    /// Pushed by the license service (SaaS).
    Push,
}

/// A license as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) token: String,
    pub(crate) source: LicenseSource,
    pub(crate) loaded_at: DateTime<Utc>,
}

/// The last failed reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadError {
    /// A `license_*` code, or `license_unreadable` for a file that could not be read.
    pub code: String,
    /// When.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Loaded {
    applied: Option<Applied>,
    /// Fingerprint of the file content last looked at (valid or not), to skip unchanged reads.
    seen: Option<String>,
    error: Option<ReloadError>,
    checked_at: Option<DateTime<Utc>>,
}

/// The env/file license of this process.
#[derive(Debug)]
pub(crate) struct Instance {
    setting: Option<LicenseSetting>,
    loaded: Mutex<Loaded>,
}

/// How a candidate token fares: `Ok(())` when usable, else its refusal code.
pub(crate) type Check<'a> = &'a dyn Fn(&str) -> Result<(), String>;

impl Instance {
    pub(crate) fn new(setting: Option<LicenseSetting>, now: DateTime<Utc>) -> Self {
        let applied = match &setting {
            Some(LicenseSetting::Value(token)) => Some(Applied {
                token: token.clone(),
                source: LicenseSource::Env,
                loaded_at: now,
            }),
            _ => None,
        };
        Self {
            setting,
            loaded: Mutex::new(Loaded {
                applied,
                checked_at: Some(now),
                ..Loaded::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `DEV_HEALTH_LICENSE` is set (then it is authoritative: installs answer 409).
    pub(crate) fn managed_by_env(&self) -> bool {
        self.setting.is_some()
    }

    /// The applied env/file license.
    pub(crate) fn applied(&self) -> Option<Applied> {
        self.lock().applied.clone()
    }

    /// The last reload failure and check time.
    pub(crate) fn reload_state(&self) -> (Option<ReloadError>, Option<DateTime<Utc>>) {
        let l = self.lock();
        (l.error.clone(), l.checked_at)
    }

    /// Re-reads the file form. With `force`, an unchanged file is checked again. Returns whether
    /// the applied license changed.
    pub(crate) fn reload(&self, force: bool, now: DateTime<Utc>, check: Check<'_>) -> bool {
        let Some(LicenseSetting::File(path)) = &self.setting else {
            return false;
        };
        let read = std::fs::read(path);
        let mut l = self.lock();
        l.checked_at = Some(now);
        let content = match read {
            Ok(bytes) if bytes.len() <= license::token::MAX_TOKEN_BYTES + 1024 => bytes,
            Ok(_) | Err(_) => {
                let first = l.applied.is_none() && l.seen.is_none();
                l.error = Some(ReloadError {
                    code: if matches!(std::fs::metadata(path), Ok(m) if m.len() > 0) {
                        "license_malformed".into()
                    } else {
                        "license_unreadable".into()
                    },
                    at: now,
                });
                l.seen = None;
                if first {
                    tracing::warn!(path = %path.display(), "the license file cannot be read; running as community");
                }
                return false;
            }
        };
        let text = String::from_utf8_lossy(&content).trim().to_owned();
        let print = license::token::fingerprint(&text);
        if !force && l.seen.as_deref() == Some(print.as_str()) {
            return false;
        }
        l.seen = Some(print);
        let candidate = check(&text);
        let current_usable = l.applied.as_ref().is_some_and(|a| check(&a.token).is_ok());
        if l.applied.as_ref().is_some_and(|a| a.token == text) {
            l.error = candidate.err().map(|code| ReloadError { code, at: now });
            return false;
        }
        match candidate {
            Ok(()) => {
                l.applied = Some(Applied {
                    token: text,
                    source: LicenseSource::File,
                    loaded_at: now,
                });
                l.error = None;
                tracing::info!(path = %path.display(), "license loaded from file");
                true
            }
            Err(code) if !current_usable => {
                tracing::warn!(path = %path.display(), code, "the license file holds no usable license");
                l.applied = Some(Applied {
                    token: text,
                    source: LicenseSource::File,
                    loaded_at: now,
                });
                l.error = Some(ReloadError { code, at: now });
                true
            }
            Err(code) => {
                tracing::warn!(path = %path.display(), code, "license reload refused; keeping the current license");
                l.error = Some(ReloadError { code, at: now });
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(t: &str) -> Result<(), String> {
        if t.starts_with("good") {
            Ok(())
        } else {
            Err("license_bad_signature".into())
        }
    }

    #[test]
    fn a_bad_file_keeps_the_good_license_and_reports_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license.jwt");
        let now = Utc::now();
        std::fs::write(&path, "good-1\n").unwrap();
        let i = Instance::new(Some(LicenseSetting::File(path.clone())), now);
        assert!(i.reload(false, now, &check));
        assert_eq!(i.applied().unwrap().token, "good-1");
        assert!(
            !i.reload(false, now, &check),
            "unchanged content is skipped"
        );

        std::fs::write(&path, "go").unwrap(); // half written
        assert!(!i.reload(false, now, &check));
        assert_eq!(i.applied().unwrap().token, "good-1");
        assert_eq!(i.reload_state().0.unwrap().code, "license_bad_signature");

        std::fs::remove_file(&path).unwrap();
        assert!(!i.reload(true, now, &check));
        assert_eq!(i.applied().unwrap().token, "good-1");
        assert_eq!(i.reload_state().0.unwrap().code, "license_unreadable");

        std::fs::write(&path, "good-2").unwrap();
        assert!(i.reload(false, now, &check));
        assert_eq!(i.applied().unwrap().token, "good-2");
        assert!(i.reload_state().0.is_none());
    }

    #[test]
    fn an_unusable_file_is_applied_when_nothing_usable_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license.jwt");
        std::fs::write(&path, "expired").unwrap();
        let i = Instance::new(Some(LicenseSetting::File(path)), Utc::now());
        assert!(i.reload(false, Utc::now(), &check));
        assert_eq!(
            i.applied().unwrap().token,
            "expired",
            "shown in the status with its error"
        );
        assert_eq!(i.reload_state().0.unwrap().code, "license_bad_signature");
    }
}
