//! Access tokens: 15-minute HS256 JWTs with exactly the claims
//! `sub, email, org_id, role, sid, iat, exp, iss, aud` (identity spec §2.1–§2.2).
//!
//! Signed with the current key of a key ring (each key ≥ 32 bytes with a `kid`); older keys still
//! verify during a rotation. Verification always checks `alg` (HS256 only: `none`, other HMAC
//! sizes and asymmetric algorithms are refused), a known `kid`, the signature, `iss` and `aud`
//! exactly, all nine claims present, `exp > now − 30 s` and `iat ≤ now + 30 s`. The role claim
//! is a display hint: authorization uses the live membership.

use chrono::{DateTime, Duration, Utc};
use domain::{OrgId, Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lifetime of an access token.
pub const ACCESS_TTL: Duration = Duration::minutes(15);
/// Clock skew tolerated on `exp` and `iat`.
pub const LEEWAY: Duration = Duration::seconds(30);
/// The `aud` of every access token.
pub const AUDIENCE: &str = "dev-health-api";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    /// The user.
    pub sub: UserId,
    /// The user's email at issue time.
    pub email: String,
    /// The org the session is scoped to; null for an orgless session.
    pub org_id: Option<OrgId>,
    /// The member's role at issue time (display only); null when orgless.
    pub role: Option<Role>,
    /// The session (refresh family) id, checked on every request.
    pub sid: Uuid,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The configured public URL.
    pub iss: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
}

/// One HS256 key.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.kid)
    }
}

/// Why a key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key shorter than 32 bytes.
    #[error("signing key {0:?} is shorter than 32 bytes")]
    Short(String),
    /// The key was refused by the JWT library.
    #[error("signing key {0:?} is not usable")]
    Unusable(String),
    /// Two keys with one kid.
    #[error("two signing keys share the kid {0:?}")]
    DuplicateKid(String),
}

impl SigningKey {
    /// A key with its id.
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> Result<Self, KeyError> {
        let kid = kid.into();
        if secret.len() < 32 {
            return Err(KeyError::Short(kid));
        }
        let (Ok(encoding), Ok(decoding)) = (
            EncodingKey::from_secret(&secret),
            DecodingKey::from_secret(&secret),
        ) else {
            return Err(KeyError::Unusable(kid));
        };
        Ok(Self {
            kid,
            encoding,
            decoding,
        })
    }
}

/// Why a token was refused (`401 invalid_token`); the variant is for logs, never for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidToken(pub &'static str);

/// The keys and issuer that sign and verify access tokens.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: SigningKey,
    previous: Vec<SigningKey>,
    issuer: String,
}

/// Who a new token is for.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// The session's org and role, if any.
    pub membership: Option<(OrgId, Role)>,
    /// The session id.
    pub session_id: Uuid,
}

impl KeyRing {
    /// `current` signs; `previous` keys only verify.
    pub fn new(
        current: SigningKey,
        previous: Vec<SigningKey>,
        issuer: impl Into<String>,
    ) -> Result<Self, KeyError> {
        let mut kids = std::collections::BTreeSet::new();
        for key in std::iter::once(&current).chain(&previous) {
            if !kids.insert(key.kid.clone()) {
                return Err(KeyError::DuplicateKid(key.kid.clone()));
            }
        }
        Ok(Self {
            current,
            previous,
            issuer: issuer.into(),
        })
    }

    /// Signs a token valid for [`ACCESS_TTL`] from `now`.
    pub fn issue(&self, subject: &Subject, now: DateTime<Utc>) -> String {
        let claims = AccessClaims {
            sub: subject.user_id,
            email: subject.email.clone(),
            org_id: subject.membership.map(|(org, _)| org),
            role: subject.membership.map(|(_, role)| role),
            sid: subject.session_id,
            iat: now.timestamp(),
            exp: (now + ACCESS_TTL).timestamp(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        // Serializing a struct of plain fields with a valid key cannot fail.
        jsonwebtoken::encode(&header, &claims, &self.current.encoding).unwrap_or_default()
    }

    /// Verifies a token at `now` (see the module documentation for every check).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, InvalidToken> {
        let claims = self.verify_signed(token)?;
        claims.check_times(now)?;
        Ok(claims)
    }

    /// Every check but the clock: header, key, signature, issuer, audience and the exact claim
    /// set. Its result depends on the token text alone, so a caller may keep it briefly for the
    /// same text and run [`AccessClaims::check_times`] on each use.
    pub fn verify_signed(&self, token: &str) -> Result<AccessClaims, InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| InvalidToken("malformed"))?;
        if header.alg != Algorithm::HS256 {
            return Err(InvalidToken("algorithm"));
        }
        let kid = header.kid.ok_or(InvalidToken("kid missing"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
            .ok_or(InvalidToken("unknown kid"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false; // checked below against the injected clock
        validation.required_spec_claims.clear();
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&self.issuer]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation)
            .map_err(|_| InvalidToken("signature, issuer or audience"))?;
        const CLAIMS: [&str; 9] = [
            "sub", "email", "org_id", "role", "sid", "iat", "exp", "iss", "aud",
        ];
        let object = data.claims.as_object().ok_or(InvalidToken("claims"))?;
        if CLAIMS.iter().any(|c| !object.contains_key(*c)) {
            return Err(InvalidToken("a claim is missing"));
        }
        serde_json::from_value(data.claims).map_err(|_| InvalidToken("claims"))
    }
}

impl AccessClaims {
    /// Not expired and not issued in the future at `now`, with the leeway.
    pub fn check_times(&self, now: DateTime<Utc>) -> Result<(), InvalidToken> {
        if self.exp <= (now - LEEWAY).timestamp() {
            return Err(InvalidToken("expired"));
        }
        if self.iat > (now + LEEWAY).timestamp() {
            return Err(InvalidToken("issued in the future"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .unwrap()
    }

    fn ring(kid: &str, byte: u8) -> KeyRing {
        KeyRing::new(
            SigningKey::new(kid, vec![byte; 32]).unwrap(),
            vec![],
            "https://dh.example",
        )
        .unwrap()
    }

    fn subject() -> Subject {
        Subject {
            user_id: UserId::new(),
            email: "ann@example.com".into(),
            membership: Some((OrgId::new(), Role::Admin)),
            session_id: Uuid::now_v7(),
        }
    }

    /// A token with the given header and claims, signed HS256 with `secret`.
    fn forge(header: &serde_json::Value, claims: &serde_json::Value, secret: &[u8]) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn round_trip_with_the_nine_claims() {
        let ring = ring("k1", 1);
        let s = subject();
        let token = ring.issue(&s, now());
        let claims = ring.verify(&token, now()).unwrap();
        assert_eq!(
            (claims.sub, claims.sid, claims.role),
            (s.user_id, s.session_id, Some(Role::Admin))
        );
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            ("https://dh.example", AUDIENCE)
        );
        let orgless = Subject {
            membership: None,
            ..subject()
        };
        let claims = ring.verify(&ring.issue(&orgless, now()), now()).unwrap();
        assert_eq!((claims.org_id, claims.role), (None, None));
    }

    #[test]
    fn lifetime_is_enforced_with_30_seconds_of_leeway() {
        let ring = ring("k1", 1);
        let token = ring.issue(&subject(), now());
        assert!(
            ring.verify(&token, now() + Duration::seconds(900 + 29))
                .is_ok()
        );
        assert_eq!(
            ring.verify(&token, now() + Duration::seconds(900 + 30)),
            Err(InvalidToken("expired"))
        );
        assert!(ring.verify(&token, now() - Duration::seconds(30)).is_ok());
        assert_eq!(
            ring.verify(&token, now() - Duration::seconds(31)),
            Err(InvalidToken("issued in the future"))
        );
    }

    #[test]
    fn keys_rotate_and_unknown_kids_fail() {
        let old = ring("k1", 1);
        let token = old.issue(&subject(), now());
        let rotated = KeyRing::new(
            SigningKey::new("k2", vec![2; 32]).unwrap(),
            vec![SigningKey::new("k1", vec![1; 32]).unwrap()],
            "https://dh.example",
        )
        .unwrap();
        assert!(
            rotated.verify(&token, now()).is_ok(),
            "the previous key still verifies"
        );
        assert!(rotated.issue(&subject(), now()).contains('.'));
        assert_eq!(
            ring("k9", 1).verify(&token, now()),
            Err(InvalidToken("unknown kid"))
        );
        assert_eq!(
            ring("k1", 3).verify(&token, now()).unwrap_err().0,
            "signature, issuer or audience"
        );
        assert!(SigningKey::new("short", vec![0; 31]).is_err());
        assert!(
            KeyRing::new(
                SigningKey::new("a", vec![0; 32]).unwrap(),
                vec![SigningKey::new("a", vec![1; 32]).unwrap()],
                "x"
            )
            .is_err()
        );
    }

    #[test]
    fn algorithm_issuer_audience_and_claims_are_always_checked() {
        let ring = ring("k1", 1);
        let secret = [1u8; 32];
        let good =
            serde_json::to_value(ring.verify(&ring.issue(&subject(), now()), now()).unwrap())
                .unwrap();
        let hs256 = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": "k1"});
        assert!(
            ring.verify(&forge(&hs256, &good, &secret), now()).is_ok(),
            "the forge helper is faithful"
        );
        for alg in ["none", "HS384", "RS256", "EdDSA"] {
            let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": "k1"});
            assert!(
                ring.verify(&forge(&header, &good, &secret), now()).is_err(),
                "{alg}"
            );
        }
        let mut unsigned = forge(
            &serde_json::json!({"alg": "none", "kid": "k1"}),
            &good,
            &secret,
        );
        unsigned.truncate(unsigned.rfind('.').unwrap() + 1);
        assert!(ring.verify(&unsigned, now()).is_err());
        for (claim, value) in [("iss", "https://evil.example"), ("aud", "other-api")] {
            let mut claims = good.clone();
            claims[claim] = value.into();
            assert!(
                ring.verify(&forge(&hs256, &claims, &secret), now())
                    .is_err(),
                "{claim}"
            );
        }
        for claim in ["sid", "org_id", "role", "iss", "aud", "email"] {
            let mut claims = good.clone();
            claims.as_object_mut().unwrap().remove(claim);
            assert!(
                ring.verify(&forge(&hs256, &claims, &secret), now())
                    .is_err(),
                "missing {claim}"
            );
        }
        let mut extra = good.clone();
        extra["is_platform_admin"] = true.into();
        assert!(
            ring.verify(&forge(&hs256, &extra, &secret), now()).is_err(),
            "unknown claims are refused"
        );
        assert!(ring.verify("not.a.token", now()).is_err());
    }
}
