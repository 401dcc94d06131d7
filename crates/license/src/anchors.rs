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

/// Every compiled-in anchor.
pub fn compiled() -> &'static [Anchor] {
    static ANCHORS: OnceLock<Vec<Anchor>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let mut out: Vec<Anchor> = PRODUCTION
            .iter()
            .filter_map(|(kid, purpose, key)| {
                Some(Anchor {
                    kid,
                    purpose: *purpose,
                    key: VerifyingKey::from_bytes(key).ok()?,
                })
            })
            .collect();
        if TEST_KEYS {
            for (kid, purpose, seed) in [
                ("dh-test-license-1", Purpose::License, TEST_LICENSE_SEED_HEX),
                (
                    "dh-test-entitlement-1",
                    Purpose::Entitlement,
                    TEST_ENTITLEMENT_SEED_HEX,
                ),
            ] {
                if let Some(k) = signing_key_from_hex(seed) {
                    out.push(Anchor {
                        kid,
                        purpose,
                        key: k.verifying_key(),
                    });
                }
            }
        }
        out
    })
}
