//! Secrets at rest (identity spec §8.3): AES-256-GCM with a fresh 96-bit nonce per encryption,
//! in the envelope `dhenc:v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
//!
//! The associated data binds a ciphertext to its place, `<table>:<column>:<row id>:<org id>`,
//! so a value copied into another row or org does not decrypt. Keys carry ids: the active key
//! encrypts, every configured key decrypts, so keys rotate without downtime. A failed
//! decryption is an error, never a plaintext fallback.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "dhenc:v1:";

/// Where a ciphertext lives; becomes the associated data.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// Table name.
    pub table: &'a str,
    /// Column name.
    pub column: &'a str,
    /// The row's id.
    pub row_id: &'a str,
    /// The row's org, or `""` for global rows.
    pub org_id: &'a str,
}

impl Place<'_> {
    fn aad(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.table, self.column, self.row_id, self.org_id
        )
    }
}

/// Why keys could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyError {
    /// Not exactly 32 bytes.
    #[error("secrets key {0:?} must be exactly 32 bytes")]
    Length(String),
    /// A kid that cannot appear in the envelope.
    #[error("secrets key id {0:?} must be 1-32 letters, digits, '-' or '_'")]
    BadKid(String),
    /// The active kid names no key.
    #[error("the active secrets key {0:?} is not configured")]
    NoActive(String),
}

/// Why a value did not decrypt (`500 secret_unavailable`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not an envelope of this version.
    #[error("not a dhenc:v1 envelope")]
    Malformed,
    /// Encrypted with a key that is not configured.
    #[error("encrypted with unknown key {0:?}")]
    UnknownKey(String),
    /// Wrong key, wrong place or modified data.
    #[error("the value does not decrypt here")]
    Authentication,
}

/// The configured keys.
#[derive(Clone)]
pub struct SecretKeys {
    active: String,
    keys: BTreeMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeys")
            .field("active", &self.active)
            .field("kids", &self.keys.keys())
            .finish()
    }
}

impl SecretKeys {
    /// Loads `keys` (kid → 32 bytes); `active` encrypts.
    pub fn new(active: &str, keys: &[(String, Vec<u8>)]) -> Result<Self, SecretKeyError> {
        let mut map = BTreeMap::new();
        for (kid, bytes) in keys {
            let kid_ok = (1..=32).contains(&kid.len())
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !kid_ok {
                return Err(SecretKeyError::BadKid(kid.clone()));
            }
            let cipher = Aes256Gcm::new_from_slice(bytes)
                .ok()
                .filter(|_| bytes.len() == 32)
                .ok_or_else(|| SecretKeyError::Length(kid.clone()))?;
            map.insert(kid.clone(), cipher);
        }
        if !map.contains_key(active) {
            return Err(SecretKeyError::NoActive(active.to_owned()));
        }
        Ok(Self {
            active: active.to_owned(),
            keys: map,
        })
    }

    /// Encrypts `plaintext` for `place` with the active key.
    pub fn encrypt(&self, plaintext: &[u8], place: &Place<'_>) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let aad = place.aad();
        let cipher = &self.keys[&self.active];
        // Encryption with a valid key only fails for inputs beyond GCM's 64 GiB bound.
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut body = Vec::with_capacity(12 + sealed.len());
        body.extend_from_slice(&nonce_bytes);
        body.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.active, URL_SAFE_NO_PAD.encode(body))
    }

    /// Decrypts an envelope stored at `place`.
    pub fn decrypt(&self, envelope: &str, place: &Place<'_>) -> Result<Vec<u8>, SecretError> {
        let (kid, body) = envelope
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .ok_or(SecretError::Malformed)?;
        let cipher = self
            .keys
            .get(kid)
            .ok_or_else(|| SecretError::UnknownKey(kid.to_owned()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Malformed)?;
        if body.len() < 12 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, sealed) = body.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SecretError::Malformed)?;
        let aad = place.aad();
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Authentication)
    }

    /// The key id an envelope was written with (for `admin secrets status` and rotation).
    pub fn kid_of(envelope: &str) -> Option<&str> {
        envelope
            .strip_prefix(PREFIX)?
            .split_once(':')
            .map(|(kid, _)| kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<'a>(row: &'a str, org: &'a str) -> Place<'a> {
        Place {
            table: "integrations",
            column: "secret",
            row_id: row,
            org_id: org,
        }
    }

    fn keys(active: &str) -> SecretKeys {
        SecretKeys::new(
            active,
            &[("k1".into(), vec![1; 32]), ("k2".into(), vec![2; 32])],
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_binds_the_ciphertext_to_its_place() {
        let k = keys("k1");
        let sealed = k.encrypt(b"ghp_token", &place("r1", "o1"));
        assert!(sealed.starts_with("dhenc:v1:k1:"));
        assert_eq!(
            k.decrypt(&sealed, &place("r1", "o1")).unwrap(),
            b"ghp_token"
        );
        assert_eq!(
            k.decrypt(&sealed, &place("r2", "o1")),
            Err(SecretError::Authentication),
            "other row"
        );
        assert_eq!(
            k.decrypt(&sealed, &place("r1", "o2")),
            Err(SecretError::Authentication),
            "other org"
        );
        assert_ne!(
            sealed,
            k.encrypt(b"ghp_token", &place("r1", "o1")),
            "fresh nonce each time"
        );
        assert!(!sealed.contains("ghp_token"));
    }

    #[test]
    fn refuses_modified_foreign_or_malformed_envelopes() {
        let k = keys("k1");
        let sealed = k.encrypt(b"secret", &place("r", "o"));
        // Flip a bit of the decoded tag: editing the last base64 character instead could set
        // padding bits, which strict decoding refuses as malformed before authentication.
        let (head, body) = sealed.rsplit_once(':').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(body).unwrap();
        *raw.last_mut().unwrap() ^= 1;
        let tampered = format!("{head}:{}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(
            k.decrypt(&tampered, &place("r", "o")),
            Err(SecretError::Authentication)
        );
        let other = SecretKeys::new("k3", &[("k3".into(), vec![3; 32])]).unwrap();
        assert_eq!(
            other.decrypt(&sealed, &place("r", "o")),
            Err(SecretError::UnknownKey("k1".into()))
        );
        for bad in [
            "",
            "plain",
            "dhenc:v1:k1",
            "dhenc:v1:k1:!!",
            "dhenc:v2:k1:AAAA",
            "dhenc:v1:k1:AAAA",
        ] {
            assert!(k.decrypt(bad, &place("r", "o")).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_rotate_by_switching_the_active_kid() {
        let before = keys("k1").encrypt(b"s", &place("r", "o"));
        let after = keys("k2");
        assert_eq!(after.decrypt(&before, &place("r", "o")).unwrap(), b"s");
        assert_eq!(
            SecretKeys::kid_of(&after.encrypt(b"s", &place("r", "o"))),
            Some("k2")
        );
        assert_eq!(SecretKeys::kid_of(&before), Some("k1"));
    }

    #[test]
    fn key_configuration_is_validated() {
        assert_eq!(
            SecretKeys::new("k", &[("k".into(), vec![0; 31])]).unwrap_err(),
            SecretKeyError::Length("k".into())
        );
        assert_eq!(
            SecretKeys::new("k", &[("k".into(), vec![0; 33])]).unwrap_err(),
            SecretKeyError::Length("k".into())
        );
        assert_eq!(
            SecretKeys::new("x", &[("k".into(), vec![0; 32])]).unwrap_err(),
            SecretKeyError::NoActive("x".into())
        );
        assert!(matches!(
            SecretKeys::new("a:b", &[("a:b".into(), vec![0; 32])]),
            Err(SecretKeyError::BadKid(_))
        ));
        assert_eq!(
            format!("{:?}", keys("k1")),
            r#"SecretKeys { active: "k1", kids: ["k1", "k2"] }"#
        );
    }
}
