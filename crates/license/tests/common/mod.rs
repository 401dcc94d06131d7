//! Shared by the integration tests: the public test keys, anchors built from their seeds (so no
//! Cargo feature is needed), and hostile-token helpers.
#![allow(dead_code)] // each test binary uses its own subset
#![allow(clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use license::anchors::{TEST_ENTITLEMENT_SEED_HEX, TEST_LICENSE_SEED_HEX, signing_key_from_hex};
use license::{Anchor, Purpose};
use sha2::{Digest, Sha256};

/// The kid of the public test license key.
pub const LICENSE_KID: &str = "dh-test-license-1";
/// The kid of the public test entitlement key.
pub const ENTITLEMENT_KID: &str = "dh-test-entitlement-1";

/// The test license key (seed committed under `crates/license/test-keys/`).
pub fn license_key() -> SigningKey {
    signing_key_from_hex(TEST_LICENSE_SEED_HEX).expect("the test license seed is 32 hex bytes")
}

/// The test entitlement key.
pub fn entitlement_key() -> SigningKey {
    signing_key_from_hex(TEST_ENTITLEMENT_SEED_HEX)
        .expect("the test entitlement seed is 32 hex bytes")
}

/// What a `test-keys` build trusts, built here from the seeds.
pub fn test_anchors() -> Vec<Anchor> {
    vec![
        Anchor {
            kid: LICENSE_KID,
            purpose: Purpose::License,
            key: license_key().verifying_key(),
        },
        Anchor {
            kid: ENTITLEMENT_KID,
            purpose: Purpose::Entitlement,
            key: entitlement_key().verifying_key(),
        },
    ]
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url without padding, decoded (panics on bad input: test data only).
pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// HMAC-SHA256 (RFC 2104), written out so the tests need no HMAC crate; checked against
/// RFC 4231 test case 2 by [`hmac_sha256_matches_rfc_4231`].
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// RFC 4231 test case 2 ("Jefe", "what do ya want for nothing?").
pub fn hmac_sha256_matches_rfc_4231() -> bool {
    hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?"))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
}

/// The classic key-confusion forgery: an HS256 token whose HMAC secret is the verifier's
/// Ed25519 public key.
pub fn hs256_with_public_key(header_json: &str, payload_json: &str, anchor: &Anchor) -> String {
    let input = format!("{}.{}", b64(header_json), b64(payload_json));
    let mac = hmac_sha256(anchor.key.as_bytes(), input.as_bytes());
    format!("{input}.{}", b64(mac))
}
