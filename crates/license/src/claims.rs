//! The claims of a license key or SaaS entitlement (entitlements spec §7), read strictly:
//! every required claim present with its type, so that `license_bad_claims` can name the claim.

use std::collections::BTreeMap;

use domain::Tier;
use serde::Serialize;
use serde_json::{Map, Value};

/// The issuer of every token.
pub const ISSUER: &str = "fullchaos.studio";
/// Longest grace period a token may grant.
pub const MAX_GRACE_DAYS: i64 = 90;

/// Verified claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// Customer id (license keys) or org id (SaaS entitlements).
    pub sub: String,
    /// Token id.
    pub jti: String,
    /// Issue time (Unix seconds).
    pub iat: i64,
    /// Not valid before (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// End of the paid period (Unix seconds); grace starts here.
    pub exp: i64,
    /// The licensed tier.
    pub tier: Tier,
    /// Explicit feature values; absent keys use the tier default, unknown keys are ignored.
    pub features: BTreeMap<String, bool>,
    /// Explicit limits (-1 unlimited); absent keys use the tier default.
    pub limits: BTreeMap<String, i64>,
    /// Deployments allowed to use the token.
    pub deployment_ids: Vec<String>,
    /// Days after `exp` the token stays usable.
    pub grace_days: i64,
}

/// A claim that is missing or has the wrong type or value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadClaim(pub &'static str);

fn string(map: &Map<String, Value>, key: &'static str) -> Result<String, BadClaim> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(BadClaim(key))
}

fn int(map: &Map<String, Value>, key: &'static str) -> Result<i64, BadClaim> {
    map.get(key).and_then(Value::as_i64).ok_or(BadClaim(key))
}

/// A deployment id as L§11 allows it: `[a-z0-9][a-z0-9._-]{0,62}`. One rule for the ops
/// instance's own id and for the ids license-svc writes into keys.
pub fn valid_deployment_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

impl Claims {
    /// Reads claims from a payload object. Unknown claims are ignored.
    pub fn from_json(payload: &Value) -> Result<Claims, BadClaim> {
        let map = payload.as_object().ok_or(BadClaim("payload"))?;
        let jti = string(map, "jti")?;
        if uuid::Uuid::parse_str(&jti).is_err() {
            return Err(BadClaim("jti"));
        }
        let nbf = match map.get("nbf") {
            None => None,
            Some(v) => Some(v.as_i64().ok_or(BadClaim("nbf"))?),
        };
        let tier = string(map, "tier")?
            .parse::<Tier>()
            .map_err(|_| BadClaim("tier"))?;
        let features = map
            .get("features")
            .and_then(Value::as_object)
            .ok_or(BadClaim("features"))?
            .iter()
            .map(|(k, v)| {
                v.as_bool()
                    .map(|b| (k.clone(), b))
                    .ok_or(BadClaim("features"))
            })
            .collect::<Result<_, _>>()?;
        let limits = map
            .get("limits")
            .and_then(Value::as_object)
            .ok_or(BadClaim("limits"))?
            .iter()
            .map(|(k, v)| match v.as_i64() {
                Some(n) if n >= -1 => Ok((k.clone(), n)),
                _ => Err(BadClaim("limits")),
            })
            .collect::<Result<_, _>>()?;
        let deployment_ids: Vec<String> = map
            .get("deployment_ids")
            .and_then(Value::as_array)
            .ok_or(BadClaim("deployment_ids"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(BadClaim("deployment_ids"))
            })
            .collect::<Result<_, _>>()?;
        if deployment_ids.is_empty() {
            return Err(BadClaim("deployment_ids"));
        }
        let grace_days = int(map, "grace_days")?;
        if !(0..=MAX_GRACE_DAYS).contains(&grace_days) {
            return Err(BadClaim("grace_days"));
        }
        Ok(Claims {
            iss: string(map, "iss")?,
            sub: string(map, "sub")?,
            jti,
            iat: int(map, "iat")?,
            nbf,
            exp: int(map, "exp")?,
            tier,
            features,
            limits,
            deployment_ids,
            grace_days,
        })
    }

    /// The end of the grace period (Unix seconds).
    pub fn grace_ends_at(&self) -> i64 {
        self.exp
            .saturating_add(self.grace_days.saturating_mul(86_400))
    }
}
