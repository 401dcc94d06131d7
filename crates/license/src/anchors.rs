//! Trust anchors: the public keys this binary accepts, compiled in (entitlements spec §8). No
//! environment variable, file or API can add one.
//!
//! The test kids (`dh-test-license-1`, `dh-test-entitlement-1`) exist only with the `test-keys`
//! Cargo feature; their private seeds are public on purpose (`crates/license/test-keys/`).

use std::sync::OnceLock;

use ed25519_dalek::{SigningKey, VerifyingKey};

/// What a key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Self-hosted license keys.
    License,
    /// SaaS entitlements pushed by the license service.
    Entitlement,
}

/// One accepted public key.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// Key id (the JWS `kid`).
    pub kid: &'static str,
    /// What it may sign.
    pub purpose: Purpose,
    /// The Ed25519 public key.
    pub key: VerifyingKey,
}

/// Production anchors: `(kid, purpose, public key)`. The private keys are held by the vendor
/// (license-svc), never in this repository.
const PRODUCTION: &[(&str, Purpose, [u8; 32])] = &[];

/// Whether the test kids are compiled in (reported by `dev-health version --json`).
pub const TEST_KEYS: bool = cfg!(feature = "test-keys");

/// The test license key's private seed (public on purpose; only meaningful with `test-keys`).
pub const TEST_LICENSE_SEED_HEX: &str = include_str!("../test-keys/dh-test-license-1.seed");
/// The test entitlement key's private seed.
pub const TEST_ENTITLEMENT_SEED_HEX: &str = include_str!("../test-keys/dh-test-entitlement-1.seed");

/// A signing key from a hex seed (the committed test seeds).
pub fn signing_key_from_hex(hex_seed: &str) -> Option<SigningKey> {
    let bytes = hex::decode(hex_seed.trim()).ok()?;
    let seed: [u8; 32] = bytes.try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}

fn anchor(kid: &'static str, purpose: Purpose, key: &[u8; 32]) -> Option<Anchor> {
    Some(Anchor {
        kid,
        purpose,
        key: VerifyingKey::from_bytes(key).ok()?,
    })
}

/// The production anchors only: what a release build (without `test-keys`) trusts.
///
/// Tests pass this slice to [`crate::verify`] to check what a build without the feature does,
/// whatever features the test build itself was compiled with.
pub fn production() -> &'static [Anchor] {
    static ANCHORS: OnceLock<Vec<Anchor>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        PRODUCTION
            .iter()
            .filter_map(|(kid, purpose, key)| anchor(kid, *purpose, key))
            .collect()
    })
}

/// The public test anchors (`dh-test-license-1`, `dh-test-entitlement-1`), whatever the
/// features. Only [`compiled`] decides whether a build trusts them.
pub fn test_anchors() -> Vec<Anchor> {
    [
        ("dh-test-license-1", Purpose::License, TEST_LICENSE_SEED_HEX),
        (
            "dh-test-entitlement-1",
            Purpose::Entitlement,
            TEST_ENTITLEMENT_SEED_HEX,
        ),
    ]
    .into_iter()
    .filter_map(|(kid, purpose, seed)| {
        Some(Anchor {
            kid,
            purpose,
            key: signing_key_from_hex(seed)?.verifying_key(),
        })
    })
    .collect()
}

/// Every compiled-in anchor: [`production`], plus the test kids with the `test-keys` feature.
pub fn compiled() -> &'static [Anchor] {
    static ANCHORS: OnceLock<Vec<Anchor>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let mut out = production().to_vec();
        if TEST_KEYS {
            out.extend(test_anchors());
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::token::{Code, Expect, verify};

    const NOW: i64 = 1_800_000_000;

    fn test_token() -> String {
        let key = signing_key_from_hex(TEST_LICENSE_SEED_HEX).expect("the test seed is 32 bytes");
        crate::sign::sign(
            &json!({
                "iss": "fullchaos.studio", "sub": "cus_test", "jti": "0b6f7c1e-5d8a-4f2b-9a51-3c8d2e7f4a10",
                "iat": NOW - 86_400, "exp": NOW + 365 * 86_400, "tier": "enterprise",
                "features": {}, "limits": {}, "deployment_ids": ["self-hosted"], "grace_days": 30
            }),
            "dh-test-license-1",
            &key,
        )
    }

    fn expect() -> Expect<'static> {
        Expect {
            purpose: Purpose::License,
            deployment_id: "self-hosted",
            subject: None,
            at: NOW,
        }
    }

    #[test]
    fn production_anchors_hold_no_test_kid() {
        assert!(
            production().iter().all(|a| !a.kid.starts_with("dh-test-")),
            "a test kid among the production anchors"
        );
        assert_eq!(
            production().len(),
            PRODUCTION.len(),
            "every production key decodes"
        );
    }

    #[test]
    fn a_test_kid_token_is_refused_by_the_production_anchors() {
        // What a build without `test-keys` does, whatever this test build's features are.
        let refused = verify(&test_token(), production(), &[], &expect()).unwrap_err();
        assert_eq!(refused.code, Code::UnknownKid);
        assert_eq!(refused.kid.as_deref(), Some("dh-test-license-1"));
        // The same token verifies against the test anchors, so the refusal is the kid's.
        assert!(verify(&test_token(), &test_anchors(), &[], &expect()).is_ok());
    }

    #[test]
    fn compiled_is_production_plus_test_kids_with_the_feature() {
        let kids: Vec<&str> = compiled().iter().map(|a| a.kid).collect();
        let mut want: Vec<&str> = production().iter().map(|a| a.kid).collect();
        if TEST_KEYS {
            want.extend(["dh-test-license-1", "dh-test-entitlement-1"]);
        }
        assert_eq!(kids, want);
        assert_eq!(
            verify(&test_token(), compiled(), &[], &expect()).is_ok(),
            TEST_KEYS
        );
    }
}
