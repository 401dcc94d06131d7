//! The password policy and Argon2id hashing (identity spec §2.8).
//!
//! Policy: 12–128 Unicode code points after NFC (no trimming), not in the bundled list of
//! common passwords (case-insensitive), not the email or its local part. No composition rules.
//! Hashing: Argon2id, m = 19456 KiB, t = 2, p = 1, 16-byte salt, 32-byte output, PHC string; a
//! hash with other parameters is reported as needing a rehash after a successful check.

use std::sync::OnceLock;

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::email::EmailNorm;

/// Why a password was refused (`weak_password {reasons}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeakReason {
    /// Fewer than 12 code points.
    TooShort,
    /// More than 128 code points.
    TooLong,
    /// In the common-password list.
    Common,
    /// Equal to the email address or its local part.
    MatchesEmail,
}

impl WeakReason {
    /// The reason's code in the `weak_password` body.
    pub const fn as_str(self) -> &'static str {
        match self {
            WeakReason::TooShort => "too_short",
            WeakReason::TooLong => "too_long",
            WeakReason::Common => "common",
            WeakReason::MatchesEmail => "matches_email",
        }
    }
}

/// Shortest accepted password, in code points.
pub const MIN_CHARS: usize = 12;
/// Longest accepted password, in code points.
pub const MAX_CHARS: usize = 128;

static COMMON: &str = include_str!("../data/common-passwords.txt");

fn is_common(password: &str) -> bool {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| COMMON.lines().collect());
    list.binary_search(&password.to_lowercase().as_str())
        .is_ok()
}

/// Checks `password` against the policy; every failed rule is listed.
pub fn check_policy(password: &str, email: Option<&EmailNorm>) -> Result<(), Vec<WeakReason>> {
    let normalized: String = password.nfc().collect();
    let chars = normalized.chars().count();
    let mut reasons = Vec::new();
    if chars < MIN_CHARS {
        reasons.push(WeakReason::TooShort);
    }
    if chars > MAX_CHARS {
        reasons.push(WeakReason::TooLong);
    }
    if is_common(&normalized) {
        reasons.push(WeakReason::Common);
    }
    if let Some(email) = email {
        let lower = normalized.to_lowercase();
        if lower == email.as_str() || lower == email.local_part() {
            reasons.push(WeakReason::MatchesEmail);
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Argon2id with the parameters of the spec (or, with the `insecure-fast-hashing` feature,
/// cheap ones for test suites).
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.argon.params())
            .finish()
    }
}

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub ok: bool,
    /// The stored hash uses other parameters; store a fresh hash.
    pub needs_rehash: bool,
}

/// A stored hash that is not a valid PHC string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored password hash is unreadable")]
pub struct CorruptHash;

/// Whether this build hashes with the cheap test profile (`insecure-fast-hashing`); reported by
/// `dev-health version --json` and refused for the shipped binary by `scripts/check-deps`.
pub const INSECURE_FAST_HASHING: bool = cfg!(feature = "insecure-fast-hashing");

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// The hasher with the configured parameters.
    pub fn new() -> Self {
        let (m, t) = if INSECURE_FAST_HASHING {
            (256, 1)
        } else {
            (19_456, 2)
        };
        let params = Params::new(m, t, 1, Some(32)).unwrap_or_default();
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        }
    }

    /// Hashes with a fresh 16-byte salt; returns the PHC string. CPU-heavy: call it on a
    /// blocking thread.
    pub fn hash(&self, password: &str) -> String {
        let normalized: String = password.nfc().collect();
        let salt: [u8; 16] = rand::random();
        let mut out = [0u8; 32];
        // Inputs are bounded (policy) and the parameters fixed, so hashing cannot fail.
        let _ = self
            .argon
            .hash_password_into(normalized.as_bytes(), &salt, &mut out);
        let params = self.argon.params();
        let b64 =
            |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, b);
        format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            b64(&salt),
            b64(&out)
        )
    }

    /// Checks `password` against a stored PHC string, in constant time.
    pub fn verify(&self, password: &str, phc: &str) -> Result<Verified, CorruptHash> {
        let parsed = PasswordHash::new(phc).map_err(|_| CorruptHash)?;
        let normalized: String = password.nfc().collect();
        let ok = Argon2::default()
            .verify_password(normalized.as_bytes(), &parsed)
            .is_ok();
        let needs_rehash =
            ok && Params::try_from(&parsed).map_or(true, |p| &p != self.argon.params());
        Ok(Verified { ok, needs_rehash })
    }

    /// Spends the same work as a real check without an account, so unknown emails and
    /// SSO-only accounts answer in the same time as wrong passwords.
    pub fn verify_dummy(&self, password: &str) {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| self.hash("dummy password for timing equalization"));
        let _ = self.verify(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> EmailNorm {
        EmailNorm::parse("grace.hopper@example.com").unwrap()
    }

    #[test]
    fn policy_lists_every_failed_rule() {
        assert_eq!(
            check_policy("correct horse battery staple", Some(&email())),
            Ok(())
        );
        assert_eq!(
            check_policy("password", None),
            Err(vec![WeakReason::TooShort, WeakReason::Common])
        );
        assert_eq!(
            check_policy("QWERTY123456", None),
            Err(vec![WeakReason::Common]),
            "case-insensitive"
        );
        assert_eq!(
            check_policy(&"x".repeat(129), None),
            Err(vec![WeakReason::TooLong])
        );
        assert_eq!(
            check_policy("Grace.Hopper@Example.com", Some(&email())),
            Err(vec![WeakReason::MatchesEmail])
        );
        assert_eq!(
            check_policy("grace.hopper", Some(&email())),
            Err(vec![WeakReason::MatchesEmail])
        );
        assert_eq!(check_policy(" leading-space1", None), Ok(()), "no trimming");
        // 12 code points, more bytes: é as e + combining accent is NFC-normalized to one.
        assert_eq!(check_policy("caf\u{0065}\u{0301}-au-lait-1", None), Ok(()));
        assert_eq!(
            check_policy(
                "e\u{0301}e\u{0301}e\u{0301}e\u{0301}e\u{0301}e\u{0301}",
                None
            ),
            Err(vec![WeakReason::TooShort])
        );
    }

    #[test]
    fn the_bundled_list_is_sorted_and_large() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() >= 10_000);
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "sorted and unique for binary search"
        );
    }

    #[test]
    fn hashes_verify_and_report_stale_parameters() {
        let hasher = PasswordHasher::new();
        let phc = hasher.hash("correct horse battery staple");
        assert!(phc.starts_with("$argon2id$v=19$"));
        assert_eq!(
            hasher.verify("correct horse battery staple", &phc),
            Ok(Verified {
                ok: true,
                needs_rehash: false
            })
        );
        assert_eq!(
            hasher.verify("wrong horse battery staple", &phc),
            Ok(Verified {
                ok: false,
                needs_rehash: false
            })
        );
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, Some(32)).unwrap(),
        );
        let old = PasswordHasher { argon: other }.hash("correct horse battery staple");
        assert_eq!(
            hasher.verify("correct horse battery staple", &old),
            Ok(Verified {
                ok: true,
                needs_rehash: true
            })
        );
        assert_eq!(hasher.verify("x", "not a phc string"), Err(CorruptHash));
        hasher.verify_dummy("anything");
    }
}
