//! Bearer secrets that are stored hashed, never as JWTs (identity spec §2.1).
//!
//! | kind | format | at rest |
//! |---|---|---|
//! | refresh | `dhr_<id>.<mac>`, mac = base64url(HMAC-SHA256(refresh key, id)) | SHA-256 of the whole string |
//! | API | `dhp_` + 32 random bytes in base62 + 6-char base62 CRC32 (secret scanners can check it) | SHA-256; first 8 chars kept as display prefix |
//! | one-time (verify, reset, invite) | 32 random bytes, base64url | SHA-256 |

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Hex SHA-256 of a token: what the database stores and looks up by.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new one-time token: `(plaintext for the email link, hash to store)`.
pub fn one_time() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = sha256_hex(&token);
    (token, hash)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const API_PREFIX: &str = "dhp_";
const BODY_LEN: usize = 43; // 32 bytes in base62 need at most 43 digits
const CHECK_LEN: usize = 6; // CRC32 in base62 needs at most 6 digits

fn base62(mut bytes: Vec<u8>, width: usize) -> String {
    // Repeated division of a big-endian number by 62; left-padded with '0' to `width`.
    let mut digits = Vec::with_capacity(width);
    while bytes.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in &mut bytes {
            let acc = (rem << 8) | u32::from(*b);
            *b = u8::try_from(acc / 62).unwrap_or(0);
            rem = acc % 62;
        }
        digits.push(BASE62[rem as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn checksum(body: &str) -> String {
    base62(
        crc32fast::hash(body.as_bytes()).to_be_bytes().to_vec(),
        CHECK_LEN,
    )
}

/// A new API token.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// Shown to the user once.
    pub token: String,
    /// Stored and looked up by.
    pub hash: String,
    /// Kept to help users recognize the token (`dhp_XXXX`).
    pub display_prefix: String,
}

/// Generates an API token.
pub fn api_token() -> NewApiToken {
    let bytes: [u8; 32] = rand::random();
    let body = base62(bytes.to_vec(), BODY_LEN);
    let token = format!("{API_PREFIX}{body}{}", checksum(&body));
    NewApiToken {
        hash: sha256_hex(&token),
        display_prefix: token[..8].to_owned(),
        token,
    }
}

/// Whether `s` has the API-token shape and a valid checksum (a cheap filter before any lookup,
/// and what secret scanners check).
pub fn api_token_is_well_formed(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(API_PREFIX) else {
        return false;
    };
    if rest.len() != BODY_LEN + CHECK_LEN || !rest.bytes().all(|b| BASE62.contains(&b)) {
        return false;
    }
    let (body, check) = rest.split_at(BODY_LEN);
    checksum(body) == check
}

/// The key that signs refresh-token ids (at least 32 bytes, from configuration).
#[derive(Clone)]
pub struct RefreshKey(Vec<u8>);

impl std::fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshKey([redacted])")
    }
}

/// A key shorter than 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the refresh key must be at least 32 bytes")]
pub struct ShortKey;

/// A refresh token that is malformed or whose MAC does not verify (`invalid_refresh_token`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid refresh token")]
pub struct InvalidRefreshToken;

impl RefreshKey {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, ShortKey> {
        if bytes.len() < 32 {
            Err(ShortKey)
        } else {
            Ok(Self(bytes))
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// The token for refresh-token row `id`.
    pub fn mint(&self, id: Uuid) -> String {
        let mut mac = self.mac();
        mac.update(id.as_bytes());
        format!(
            "dhr_{}.{}",
            id.simple(),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The row id of a token, after checking its MAC in constant time; no database access is
    /// needed to reject a forged token.
    pub fn verify(&self, token: &str) -> Result<Uuid, InvalidRefreshToken> {
        let rest = token.strip_prefix("dhr_").ok_or(InvalidRefreshToken)?;
        let (id, mac) = rest.split_once('.').ok_or(InvalidRefreshToken)?;
        let id = Uuid::try_parse(id).map_err(|_| InvalidRefreshToken)?;
        let tag = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| InvalidRefreshToken)?;
        let mut mac = self.mac();
        mac.update(id.as_bytes());
        mac.verify_slice(&tag).map_err(|_| InvalidRefreshToken)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_tokens_carry_a_checksum_and_are_stored_hashed() {
        let t = api_token();
        assert!(
            t.token.starts_with("dhp_") && t.token.len() == 4 + 43 + 6,
            "{}",
            t.token
        );
        assert!(api_token_is_well_formed(&t.token));
        assert_eq!(t.hash, sha256_hex(&t.token));
        assert_eq!(t.display_prefix, &t.token[..8]);
        let mut tampered = t.token.clone().into_bytes();
        tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
        assert!(!api_token_is_well_formed(
            &String::from_utf8(tampered).unwrap()
        ));
        assert!(!api_token_is_well_formed("dhp_short"));
        assert_ne!(api_token().token, t.token);
    }

    #[test]
    fn base62_is_positional() {
        assert_eq!(base62(vec![0, 0], 3), "000");
        assert_eq!(base62(vec![61], 1), "z");
        assert_eq!(base62(vec![62], 2), "10");
        assert_eq!(
            base62(vec![0xff; 32], BODY_LEN).len(),
            BODY_LEN,
            "32 bytes fit in 43 digits"
        );
        assert_eq!(
            base62(vec![0xff; 4], CHECK_LEN).len(),
            CHECK_LEN,
            "a CRC32 fits in 6 digits"
        );
    }

    #[test]
    fn refresh_tokens_verify_only_with_their_key_and_unchanged() {
        let key = RefreshKey::new(vec![7; 32]).unwrap();
        let id = Uuid::now_v7();
        let token = key.mint(id);
        assert_eq!(key.verify(&token), Ok(id));
        let other = RefreshKey::new(vec![8; 32]).unwrap();
        assert_eq!(other.verify(&token), Err(InvalidRefreshToken));
        let forged = key
            .mint(Uuid::now_v7())
            .split_once('.')
            .unwrap()
            .1
            .to_owned();
        assert_eq!(
            key.verify(&format!("dhr_{}.{forged}", id.simple())),
            Err(InvalidRefreshToken)
        );
        for bad in ["", "dhr_", "dhr_x.y", "dhp_abc", &token[..token.len() - 1]] {
            assert_eq!(key.verify(bad), Err(InvalidRefreshToken), "{bad:?}");
        }
        assert_eq!(RefreshKey::new(vec![1; 31]).unwrap_err(), ShortKey);
        assert_eq!(format!("{key:?}"), "RefreshKey([redacted])");
    }

    #[test]
    fn one_time_tokens_are_random_and_hashed() {
        let (a, ha) = one_time();
        let (b, _) = one_time();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(ha, sha256_hex(&a));
    }
}
