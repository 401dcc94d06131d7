//! Service-to-service authentication, ops → license-svc (billing spec §6.1): HMAC-signed
//! requests with a key id, a timestamp and a one-time nonce.
//!
//! ```text
//! Authorization: DH-HMAC-SHA256 kid=ops-2026-1,ts=1767225600,nonce=<22 chars base64url>,sig=<base64url>
//! canonical = "DH-HMAC-SHA256\n" METHOD "\n" path "?" sorted_query "\n" ts "\n" nonce "\n" hex(sha256(body))
//! ```
//!
//! This module checks steps 1–3 (key and scope, ±300 s, the signature in constant time); the
//! caller records the nonce (step 4) and treats a duplicate as a replay. Every failure is the
//! same `unauthorized`: the reason goes to a counter, never to the caller.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The scheme name.
pub const SCHEME: &str = "DH-HMAC-SHA256";
/// Largest accepted distance between `ts` and now.
pub const SKEW_S: i64 = 300;

/// What a key may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// ops: checkout, portal, entitlement reads.
    Ops,
    /// ops comp keys: only `/v1/entitlements/{org_id}/comp`.
    OpsComp,
    /// admin keys: `/v1/licenses*`.
    Admin,
}

/// The inbound keys: kid → (secret, scope). Two kids are valid at once during a rotation.
#[derive(Clone, Default)]
pub struct Keys(BTreeMap<String, (Vec<u8>, Scope)>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Why keys could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Shorter than 32 bytes.
    #[error("service key {0:?} must be at least 32 random bytes")]
    Short(String),
    /// The same kid twice.
    #[error("service key id {0:?} is configured twice")]
    Duplicate(String),
}

impl Keys {
    /// Adds a key (secrets of at least 32 bytes).
    pub fn add(&mut self, kid: &str, secret: &[u8], scope: Scope) -> Result<(), KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::Short(kid.to_owned()));
        }
        if self.0.contains_key(kid) {
            return Err(KeyError::Duplicate(kid.to_owned()));
        }
        self.0.insert(kid.to_owned(), (secret.to_vec(), scope));
        Ok(())
    }
}

/// A request as the signature sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path, e.g. `/v1/checkout`.
    pub path: &'a str,
    /// The raw query string without `?` (may be empty).
    pub query: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

/// Why a request was refused (for the counter; the caller only ever answers `unauthorized`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Missing or malformed header.
    Malformed,
    /// Unknown kid.
    UnknownKey,
    /// The key's scope does not reach this route.
    WrongScope,
    /// `ts` more than 300 s from now.
    Skew,
    /// The signature does not match.
    BadSignature,
}

/// A request that passed steps 1–3; record `nonce` (expiring at `ts + 600`) to finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key used.
    pub kid: String,
    /// The signed timestamp.
    pub ts: i64,
    /// The one-time nonce.
    pub nonce: String,
}

fn canonical(r: &Request<'_>, ts: i64, nonce: &str) -> String {
    let mut pairs: Vec<&str> = r.query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    format!(
        "{SCHEME}\n{}\n{}?{}\n{ts}\n{nonce}\n{}",
        r.method.to_ascii_uppercase(),
        r.path,
        pairs.join("&"),
        hex::encode(Sha256::digest(r.body))
    )
}

fn mac(secret: &[u8], canonical: &str) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(canonical.as_bytes());
    m.finalize().into_bytes().into()
}

/// The `Authorization` value for `r` (the ops side). `nonce` is 16 random bytes, base64url.
pub fn authorization(kid: &str, secret: &[u8], r: &Request<'_>, ts: i64, nonce: &str) -> String {
    let sig = URL_SAFE_NO_PAD.encode(mac(secret, &canonical(r, ts, nonce)));
    format!("{SCHEME} kid={kid},ts={ts},nonce={nonce},sig={sig}")
}

/// Checks `header` for `r` against `keys`, for a route that needs `scope`.
pub fn verify(
    header: &str,
    r: &Request<'_>,
    keys: &Keys,
    scope: Scope,
    now: i64,
) -> Result<Verified, Refusal> {
    let params = header
        .strip_prefix(SCHEME)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or(Refusal::Malformed)?;
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for pair in params.split(',') {
        let (k, v) = pair.trim().split_once('=').ok_or(Refusal::Malformed)?;
        if fields.insert(k, v).is_some() {
            return Err(Refusal::Malformed);
        }
    }
    let field = |k: &str| fields.get(k).copied().ok_or(Refusal::Malformed);
    let (kid, ts, nonce, sig) = (field("kid")?, field("ts")?, field("nonce")?, field("sig")?);
    if fields.len() != 4 {
        return Err(Refusal::Malformed);
    }
    let ts: i64 = ts.parse().map_err(|_| Refusal::Malformed)?;
    let nonce_ok = nonce.len() == 22 && URL_SAFE_NO_PAD.decode(nonce).is_ok_and(|b| b.len() == 16);
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| Refusal::Malformed)?;
    if !nonce_ok {
        return Err(Refusal::Malformed);
    }
    // 1. The key and its scope.
    let (secret, key_scope) = keys.0.get(kid).ok_or(Refusal::UnknownKey)?;
    if *key_scope != scope {
        return Err(Refusal::WrongScope);
    }
    // 2. Time.
    if now.abs_diff(ts) > SKEW_S.unsigned_abs() {
        return Err(Refusal::Skew);
    }
    // 3. The signature, in constant time.
    let expected = mac(secret, &canonical(r, ts, nonce));
    if !bool::from(expected.as_slice().ct_eq(&sig)) {
        return Err(Refusal::BadSignature);
    }
    Ok(Verified {
        kid: kid.to_owned(),
        ts,
        nonce: nonce.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &[u8] = b"0123456789abcdef0123456789abcdef-ops";
    const NONCE: &str = "AAECAwQFBgcICQoLDA0ODw";

    fn keys() -> Keys {
        let mut k = Keys::default();
        k.add("ops-2026-1", OPS, Scope::Ops).unwrap();
        k.add(
            "ops-2026-2",
            b"another secret of at least 32 bytes!",
            Scope::Ops,
        )
        .unwrap();
        k.add(
            "admin-1",
            b"admin secret of at least thirty-two bytes",
            Scope::Admin,
        )
        .unwrap();
        k
    }

    fn req<'a>(query: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            method: "POST",
            path: "/v1/checkout",
            query,
            body,
        }
    }

    #[test]
    fn a_signed_request_verifies_and_every_change_is_refused() {
        let r = req("b=2&a=1", br#"{"org_id":"x"}"#);
        let header = authorization("ops-2026-1", OPS, &r, 1000, NONCE);
        let ok = verify(&header, &r, &keys(), Scope::Ops, 1000).unwrap();
        assert_eq!(
            (ok.kid.as_str(), ok.ts, ok.nonce.as_str()),
            ("ops-2026-1", 1000, NONCE)
        );
        // The query is canonicalized: the same pairs in another order verify.
        assert!(verify(&header, &req("a=1&b=2", r.body), &keys(), Scope::Ops, 1000).is_ok());
        assert!(verify(&header, &r, &keys(), Scope::Ops, 1300).is_ok());

        let changed = [
            Request { method: "PUT", ..r },
            Request {
                path: "/v1/portal",
                ..r
            },
            Request {
                query: "a=1&b=3",
                ..r
            },
            Request {
                body: br#"{"org_id":"y"}"#,
                ..r
            },
        ];
        for c in changed {
            assert_eq!(
                verify(&header, &c, &keys(), Scope::Ops, 1000),
                Err(Refusal::BadSignature),
                "{c:?}"
            );
        }
        assert_eq!(
            verify(&header, &r, &keys(), Scope::Ops, 1301),
            Err(Refusal::Skew)
        );
        assert_eq!(
            verify(&header, &r, &keys(), Scope::Ops, 699),
            Err(Refusal::Skew)
        );
        assert_eq!(
            verify(&header, &r, &keys(), Scope::Admin, 1000),
            Err(Refusal::WrongScope)
        );
        let rotated = authorization(
            "ops-2026-2",
            b"another secret of at least 32 bytes!",
            &r,
            1000,
            NONCE,
        );
        assert!(
            verify(&rotated, &r, &keys(), Scope::Ops, 1000).is_ok(),
            "two kids during a rotation"
        );
        let forged = authorization(
            "ops-2026-1",
            b"a guessed secret that is long enough",
            &r,
            1000,
            NONCE,
        );
        assert_eq!(
            verify(&forged, &r, &keys(), Scope::Ops, 1000),
            Err(Refusal::BadSignature)
        );
        let unknown = authorization("ops-2025-9", OPS, &r, 1000, NONCE);
        assert_eq!(
            verify(&unknown, &r, &keys(), Scope::Ops, 1000),
            Err(Refusal::UnknownKey)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let r = req("", b"");
        let good = authorization("ops-2026-1", OPS, &r, 1000, NONCE);
        let sig = good.rsplit_once("sig=").unwrap().1;
        let cases = [
            String::new(),
            format!("Bearer {sig}"),
            good.replace(SCHEME, "DH-HMAC-SHA1"),
            format!("{SCHEME} kid=ops-2026-1,ts=1000,nonce={NONCE}"),
            format!("{SCHEME} kid=ops-2026-1,ts=abc,nonce={NONCE},sig={sig}"),
            format!("{SCHEME} kid=ops-2026-1,ts=1000,nonce=short,sig={sig}"),
            format!("{SCHEME} kid=ops-2026-1,ts=1000,nonce={NONCE},sig={sig},extra=1"),
            format!("{SCHEME} kid=ops-2026-1,kid=admin-1,ts=1000,nonce={NONCE},sig={sig}"),
            format!("{SCHEME} kid=ops-2026-1,ts=1000,nonce={NONCE},sig=!!"),
        ];
        for h in cases {
            assert_eq!(
                verify(&h, &r, &keys(), Scope::Ops, 1000),
                Err(Refusal::Malformed),
                "{h:?}"
            );
        }
        assert!(verify(&good, &r, &keys(), Scope::Ops, 1000).is_ok());
    }

    #[test]
    fn keys_are_long_and_unique() {
        let mut k = Keys::default();
        assert_eq!(
            k.add("a", b"short", Scope::Ops),
            Err(KeyError::Short("a".into()))
        );
        k.add("a", &[7; 32], Scope::Ops).unwrap();
        assert_eq!(
            k.add("a", &[8; 32], Scope::Admin),
            Err(KeyError::Duplicate("a".into()))
        );
        assert_eq!(format!("{k:?}"), r#"["a"]"#, "secrets are never printed");
    }
}
