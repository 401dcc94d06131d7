//! Verifying a license key or SaaS entitlement (entitlements spec §10): the ordered pipeline,
//! where the first failure stops and the claims are never interpreted before the signature
//! verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::anchors::{Anchor, Purpose};
use crate::claims::{BadClaim, Claims, ISSUER};

/// Largest accepted token.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Tolerated clock skew for `nbf` and `iat` (seconds).
pub const SKEW_S: i64 = 300;
/// Header members that would let a token choose its own key.
const FORBIDDEN_HEADER: [&str; 5] = ["crit", "jku", "jwk", "x5u", "x5c"];

/// Why a token was refused, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Code {
    /// Size, segments or header JSON.
    Malformed,
    /// `alg` is not `EdDSA`.
    BadAlg,
    /// A forbidden header member.
    BadHeader,
    /// The kid is not compiled in for this purpose.
    UnknownKid,
    /// The signature does not verify.
    BadSignature,
    /// A claim is missing or wrong.
    BadClaims,
    /// `iss` is not the vendor.
    WrongIssuer,
    /// The jti is revoked.
    Revoked,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future (the clock is behind).
    IssuedInFuture,
    /// This deployment is not listed.
    WrongDeployment,
    /// A SaaS entitlement for another org.
    WrongSubject,
    /// Past `exp + grace_days`.
    Expired,
}

impl Code {
    /// The stable code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Malformed => "license_malformed",
            Code::BadAlg => "license_bad_alg",
            Code::BadHeader => "license_bad_header",
            Code::UnknownKid => "license_unknown_kid",
            Code::BadSignature => "license_bad_signature",
            Code::BadClaims => "license_bad_claims",
            Code::WrongIssuer => "license_wrong_issuer",
            Code::Revoked => "license_revoked",
            Code::NotYetValid => "license_not_yet_valid",
            Code::IssuedInFuture => "license_issued_in_future",
            Code::WrongDeployment => "license_wrong_deployment",
            Code::WrongSubject => "entitlement_wrong_subject",
            Code::Expired => "license_expired",
        }
    }
}

/// A refused token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Why.
    pub code: Code,
    /// The claim at fault (`license_bad_claims`).
    pub claim: Option<&'static str>,
    /// The verified claims, when the refusal came after the signature (kept for display).
    pub claims: Option<Box<Claims>>,
    /// The kid, once known.
    pub kid: Option<String>,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())?;
        if let Some(c) = self.claim {
            write!(f, " ({c})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// A token that passed every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signing key's id.
    pub kid: String,
    /// The claims.
    pub claims: Claims,
}

/// What the verifier expects.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// License keys or SaaS entitlements.
    pub purpose: Purpose,
    /// This instance's deployment id.
    pub deployment_id: &'a str,
    /// For SaaS pulls, the org the token must be for.
    pub subject: Option<&'a str>,
    /// Evaluation time (Unix seconds): `max(wall clock, high-water mark, max iat seen)`.
    pub at: i64,
}

/// SHA-256 of a token, for logs (never the token itself).
pub fn fingerprint(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn reject(code: Code) -> Rejected {
    Rejected {
        code,
        claim: None,
        claims: None,
        kid: None,
    }
}

/// One unpadded base64url segment. Only the signature may be empty: an empty string is the
/// encoding of zero octets, and an unsecured JWS (`alg: none`, RFC 7515 §A.5) has exactly that,
/// so it is refused by the algorithm check (step 3) rather than as malformed. Zero signature
/// octets can never verify (step 6).
fn segment(s: &str, may_be_empty: bool) -> Result<Vec<u8>, Rejected> {
    if (s.is_empty() && !may_be_empty) || s.contains('=') {
        return Err(reject(Code::Malformed));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| reject(Code::Malformed))
}

/// Runs the pipeline of spec §10 against `anchors` and the revoked jti list.
pub fn verify(
    token: &str,
    anchors: &[Anchor],
    revoked: &[&str],
    expect: &Expect<'_>,
) -> Result<Verified, Rejected> {
    // 1. Size and shape.
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(reject(Code::Malformed));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
        return Err(reject(Code::Malformed));
    };
    let header = segment(header_b64, false)?;
    let payload = segment(payload_b64, false)?;
    let signature = segment(signature_b64, true)?;
    // 2. Header.
    let header: Value = serde_json::from_slice(&header).map_err(|_| reject(Code::Malformed))?;
    let header = header.as_object().ok_or_else(|| reject(Code::Malformed))?;
    let (Some(alg), Some(_typ), Some(kid)) = (
        header.get("alg").and_then(Value::as_str),
        header.get("typ").and_then(Value::as_str),
        header.get("kid").and_then(Value::as_str),
    ) else {
        return Err(reject(Code::Malformed));
    };
    // 3. Algorithm.
    if alg != "EdDSA" {
        return Err(reject(Code::BadAlg));
    }
    // 4. No key material or critical extensions from the token.
    if FORBIDDEN_HEADER.iter().any(|m| header.contains_key(*m)) {
        return Err(reject(Code::BadHeader));
    }
    let with_kid = |mut r: Rejected| {
        r.kid = Some(kid.to_owned());
        r
    };
    // 5. A compiled-in key for this purpose.
    let anchor = anchors
        .iter()
        .find(|a| a.kid == kid && a.purpose == expect.purpose)
        .ok_or_else(|| with_kid(reject(Code::UnknownKid)))?;
    // 6. Strict Ed25519 over the signing input.
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| with_kid(reject(Code::BadSignature)))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    anchor
        .key
        .verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| with_kid(reject(Code::BadSignature)))?;
    // 7. Claims (only now is the payload read).
    let payload: Value = serde_json::from_slice(&payload).map_err(|_| {
        let mut r = with_kid(reject(Code::BadClaims));
        r.claim = Some("payload");
        r
    })?;
    let claims = Claims::from_json(&payload).map_err(|BadClaim(c)| {
        let mut r = with_kid(reject(Code::BadClaims));
        r.claim = Some(c);
        r
    })?;
    let after = |code: Code| Rejected {
        code,
        claim: None,
        claims: Some(Box::new(claims.clone())),
        kid: Some(kid.to_owned()),
    };
    // 8–13.
    if claims.iss != ISSUER {
        return Err(after(Code::WrongIssuer));
    }
    if revoked.contains(&claims.jti.as_str()) {
        return Err(after(Code::Revoked));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > expect.at.saturating_add(SKEW_S))
    {
        return Err(after(Code::NotYetValid));
    }
    if claims.iat > expect.at.saturating_add(SKEW_S) {
        return Err(after(Code::IssuedInFuture));
    }
    if !claims
        .deployment_ids
        .iter()
        .any(|d| d == expect.deployment_id)
    {
        return Err(after(Code::WrongDeployment));
    }
    let subject_ok = match expect.purpose {
        Purpose::License => true,
        Purpose::Entitlement => {
            uuid::Uuid::parse_str(&claims.sub).is_ok()
                && expect.subject.is_none_or(|s| s == claims.sub)
        }
    };
    if !subject_ok {
        return Err(after(Code::WrongSubject));
    }
    if expect.at >= claims.grace_ends_at() {
        return Err(after(Code::Expired));
    }
    Ok(Verified {
        kid: kid.to_owned(),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::{Value, json};

    use super::*;
    use crate::anchors::{Anchor, Purpose};
    use crate::sign::{sign, sign_with_header};

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn anchors() -> Vec<Anchor> {
        vec![
            Anchor {
                kid: "lic-1",
                purpose: Purpose::License,
                key: key(1).verifying_key(),
            },
            Anchor {
                kid: "ent-1",
                purpose: Purpose::Entitlement,
                key: key(2).verifying_key(),
            },
        ]
    }

    fn payload() -> Value {
        json!({
            "iss": "fullchaos.studio", "sub": "cus_1", "jti": "0b6f7c1e-5d8a-4f2b-9a51-3c8d2e7f4a10",
            "iat": NOW - DAY, "nbf": NOW - DAY, "exp": NOW + 365 * DAY, "tier": "enterprise",
            "features": {"audit_log": true, "future_key": true}, "limits": {"users": 250, "orgs": -1},
            "deployment_ids": ["self-hosted", "acme-prod"], "grace_days": 30
        })
    }

    fn expect(at: i64) -> Expect<'static> {
        Expect {
            purpose: Purpose::License,
            deployment_id: "self-hosted",
            subject: None,
            at,
        }
    }

    fn check(token: &str, at: i64) -> Result<Verified, Code> {
        verify(
            token,
            &anchors(),
            &["11111111-1111-4111-8111-111111111111"],
            &expect(at),
        )
        .map_err(|r| r.code)
    }

    fn with(f: impl FnOnce(&mut Value)) -> String {
        let mut p = payload();
        f(&mut p);
        sign(&p, "lic-1", &key(1))
    }

    #[test]
    fn a_valid_key_verifies_with_its_claims() {
        let v = check(&sign(&payload(), "lic-1", &key(1)), NOW).unwrap();
        assert_eq!(v.kid, "lic-1");
        assert_eq!(v.claims.tier, domain::Tier::Enterprise);
        assert_eq!(v.claims.limits["users"], 250);
        assert!(
            v.claims.features.contains_key("future_key"),
            "unknown keys are kept"
        );
    }

    #[test]
    fn every_pipeline_step_has_its_code() {
        let good = sign(&payload(), "lic-1", &key(1));
        let (h, rest) = good.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let header = |v: Value| sign_with_header(&v, &payload(), &key(1));
        let cases: Vec<(String, Code)> = vec![
            ("a.b".into(), Code::Malformed),
            (format!("{good}="), Code::Malformed),
            ("x".repeat(MAX_TOKEN_BYTES + 1), Code::Malformed),
            (
                header(json!({"alg": "EdDSA", "kid": "lic-1"})),
                Code::Malformed,
            ),
            (
                header(json!({"alg": "none", "typ": "JWT", "kid": "lic-1"})),
                Code::BadAlg,
            ),
            (
                header(json!({"alg": "HS256", "typ": "JWT", "kid": "lic-1"})),
                Code::BadAlg,
            ),
            (format!("{h}.{p}."), Code::BadSignature),
            (format!("{h}..{s}"), Code::Malformed),
            (format!(".{p}.{s}"), Code::Malformed),
            (
                format!(
                    "{}.{p}.",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"lic-1"}"#)
                ),
                Code::BadAlg,
            ),
            (
                header(json!({"alg": "EdDSA", "typ": "JWT", "kid": "lic-1", "jwk": {}})),
                Code::BadHeader,
            ),
            (
                header(json!({"alg": "EdDSA", "typ": "JWT", "kid": "lic-1", "crit": ["x"]})),
                Code::BadHeader,
            ),
            (sign(&payload(), "nope", &key(1)), Code::UnknownKid),
            (sign(&payload(), "ent-1", &key(2)), Code::UnknownKid),
            (sign(&payload(), "lic-1", &key(3)), Code::BadSignature),
            (format!("{h}.{p}.{}", &s[..s.len() - 2]), Code::BadSignature),
            (with(|p| p["tier"] = json!("platinum")), Code::BadClaims),
            (with(|p| p["limits"]["users"] = json!(-2)), Code::BadClaims),
            (with(|p| p["grace_days"] = json!(91)), Code::BadClaims),
            (with(|p| p["deployment_ids"] = json!([])), Code::BadClaims),
            (
                with(|p| {
                    p.as_object_mut().unwrap().remove("exp");
                }),
                Code::BadClaims,
            ),
            (with(|p| p["iss"] = json!("evil")), Code::WrongIssuer),
            (
                with(|p| p["jti"] = json!("11111111-1111-4111-8111-111111111111")),
                Code::Revoked,
            ),
            (with(|p| p["nbf"] = json!(NOW + 301)), Code::NotYetValid),
            (with(|p| p["iat"] = json!(NOW + 301)), Code::IssuedInFuture),
            (
                with(|p| p["deployment_ids"] = json!(["other"])),
                Code::WrongDeployment,
            ),
            (
                with(|p| {
                    p["exp"] = json!(NOW - 31 * DAY);
                }),
                Code::Expired,
            ),
        ];
        for (token, code) in cases {
            assert_eq!(
                check(&token, NOW).err(),
                Some(code),
                "{}",
                &token[..token.len().min(80)]
            );
        }
        // Within the skew and within grace the token is still good.
        assert!(check(&with(|p| p["nbf"] = json!(NOW + 299)), NOW).is_ok());
        assert!(check(&with(|p| p["exp"] = json!(NOW - 29 * DAY)), NOW).is_ok());
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        use hmac_free::hs256;
        let pk = key(1).verifying_key().to_bytes();
        let token = hs256(
            &pk,
            &json!({"alg": "HS256", "typ": "JWT", "kid": "lic-1"}),
            &payload(),
        );
        assert_eq!(check(&token, NOW).err(), Some(Code::BadAlg));
    }

    /// A forged HS256 token, built by hand so the test needs no HMAC crate: the point is that
    /// the algorithm check refuses it before any key is used.
    mod hmac_free {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use serde_json::Value;
        use sha2::{Digest, Sha256};

        pub fn hs256(secret: &[u8], header: &Value, payload: &Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(payload.to_string())
            );
            let mut k = [0u8; 64];
            k[..secret.len()].copy_from_slice(secret);
            let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).chain(input.bytes()).collect();
            let inner = Sha256::digest(&inner);
            let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(inner).collect();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(Sha256::digest(&outer)))
        }
    }

    #[test]
    fn entitlements_need_an_org_subject_and_the_entitlement_purpose() {
        let org = "7d0c6f9e-0000-4000-8000-000000000001";
        let mut p = payload();
        p["sub"] = json!(org);
        let token = sign(&p, "ent-1", &key(2));
        let e = |subject| Expect {
            purpose: Purpose::Entitlement,
            deployment_id: "self-hosted",
            subject,
            at: NOW,
        };
        assert!(verify(&token, &anchors(), &[], &e(Some(org))).is_ok());
        assert_eq!(
            verify(
                &token,
                &anchors(),
                &[],
                &e(Some("7d0c6f9e-0000-4000-8000-000000000002"))
            )
            .unwrap_err()
            .code,
            Code::WrongSubject
        );
        assert_eq!(
            check(&token, NOW).err(),
            Some(Code::UnknownKid),
            "an entitlement is not a license"
        );
        let not_uuid = sign(&payload(), "ent-1", &key(2));
        assert_eq!(
            verify(&not_uuid, &anchors(), &[], &e(None))
                .unwrap_err()
                .code,
            Code::WrongSubject
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn any_single_byte_change_fails(index in 0usize..10_000, byte in 0u8..=255) {
            let token = sign(&payload(), "lic-1", &key(1));
            let mut bytes = token.clone().into_bytes();
            let i = index % bytes.len();
            proptest::prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            proptest::prop_assume!(changed != token);
            proptest::prop_assert!(check(&changed, NOW).is_err());
        }
    }
}
