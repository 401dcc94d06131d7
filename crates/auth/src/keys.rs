//! The server's symmetric keys, derived from one master secret (identity spec §8.3).
//!
//! The JWT, refresh-MAC, CSRF, throttle-key and secrets-at-rest keys are separate: each is
//! HKDF-SHA256 of the master secret with its own label, so one leaked derived key does not
//! reveal the others. There is no built-in key: the master secret always comes from
//! configuration, an environment variable or a generated key file (regression guard 8).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::access::{KeyError, KeyRing, SigningKey};
use crate::secrets::{SecretKeyError, SecretKeys};
use crate::token::RefreshKey;

/// The master secret (at least 32 bytes).
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Why the keys could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    /// Fewer than 32 bytes.
    #[error("the master key must be at least 32 bytes (got {0})")]
    Short(usize),
    /// Not base64.
    #[error("the master key is not valid base64")]
    Encoding,
    /// A derived key was refused.
    #[error(transparent)]
    Signing(#[from] KeyError),
    /// A derived key was refused.
    #[error(transparent)]
    Secrets(#[from] SecretKeyError),
}

impl MasterKey {
    /// Wraps raw bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, MasterKeyError> {
        if bytes.len() < 32 {
            return Err(MasterKeyError::Short(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// Parses the base64 (standard or URL-safe, padding optional) form used in configuration.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let t = text.trim().trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(t.replace('+', "-").replace('/', "_"))
            .map_err(|_| MasterKeyError::Encoding)?;
        Self::new(bytes)
    }

    /// A fresh random key, as base64 (for generated key files).
    pub fn generate_base64() -> String {
        let bytes: [u8; 32] = rand::random();
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte maximum, so expand cannot fail.
        let _ = Hkdf::<Sha256>::new(None, &self.0).expand(label.as_bytes(), &mut out);
        out
    }

    /// A short id of this master key, so a rotated master gets new kids.
    fn kid(&self) -> String {
        hex::encode(&self.derive("dev-health kid v1")[..4])
    }
}

/// A keyed MAC for derived identifiers (throttle keys, CSRF tokens, device ids).
#[derive(Clone)]
pub struct MacKey([u8; 32]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

impl MacKey {
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The MAC of `parts` (length-prefixed, so part boundaries matter), base64url.
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(parts))
    }

    /// Checks a value from [`MacKey::sign`] in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &str) -> bool {
        bool::from(self.sign(parts).as_bytes().ct_eq(tag.as_bytes()))
    }
}

/// Every key the server uses, derived from the master secret.
#[derive(Debug, Clone)]
pub struct ServerKeys {
    /// Signs and verifies access JWTs.
    pub access: KeyRing,
    /// MACs refresh-token ids.
    pub refresh: RefreshKey,
    /// CSRF synchronizer tokens and the pre-session cookie.
    pub csrf: MacKey,
    /// Login throttle keys, per-address mail caps and device cookies.
    pub throttle: MacKey,
    /// Secrets at rest.
    pub secrets: SecretKeys,
    /// The license clock high-water mark's MAC (entitlements spec §13).
    pub license_clock: MacKey,
}

impl ServerKeys {
    /// Derives every key from `master`; `issuer` is the public URL (the JWT `iss`).
    pub fn derive(master: &MasterKey, issuer: &str) -> Result<Self, MasterKeyError> {
        let kid = master.kid();
        let access = KeyRing::new(
            SigningKey::new(kid.clone(), master.derive("dev-health jwt v1").to_vec())?,
            Vec::new(),
            issuer,
        )?;
        let refresh = RefreshKey::new(master.derive("dev-health refresh v1").to_vec())
            .map_err(|_| MasterKeyError::Short(0))?;
        let secrets = SecretKeys::new(
            &kid,
            &[(kid.clone(), master.derive("dev-health secrets v1").to_vec())],
        )?;
        Ok(Self {
            access,
            refresh,
            csrf: MacKey(master.derive("dev-health csrf v1")),
            throttle: MacKey(master.derive("dev-health throttle v1")),
            secrets,
            license_clock: MacKey(master.derive("dev-health license clock v1")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_distinct_and_stable() {
        let m = MasterKey::new(vec![7; 32]).unwrap();
        assert_ne!(m.derive("a"), m.derive("b"));
        assert_eq!(m.derive("a"), m.derive("a"));
        let k = ServerKeys::derive(&m, "https://dh.example").unwrap();
        let tag = k.csrf.sign(&[b"sid"]);
        assert!(k.csrf.verify(&[b"sid"], &tag));
        assert!(!k.throttle.verify(&[b"sid"], &tag), "keys are separate");
        assert!(
            !k.csrf.verify(&[b"si", b"d"], &tag),
            "parts are length-prefixed"
        );
    }

    #[test]
    fn short_or_garbled_master_keys_are_refused() {
        assert_eq!(
            MasterKey::new(vec![0; 31]).unwrap_err(),
            MasterKeyError::Short(31)
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            MasterKeyError::Encoding
        );
        let generated = MasterKey::generate_base64();
        assert!(MasterKey::from_base64(&generated).is_ok());
    }
}
