//! Capacity limits (entitlements spec §4) and their tier defaults.

use serde::{Deserialize, Serialize};

use crate::Tier;
use crate::vocab::closed_enum;

closed_enum! {
    /// A numeric entitlement checked when something is added.
    pub enum Limit as "limit" {
        /// Members of an org (SaaS) or active users of the deployment (self-hosted).
        Users => "users",
        /// Orgs a user owns (SaaS) or active orgs of the deployment (self-hosted).
        Orgs => "orgs",
        /// Repositories with a sync configuration.
        Repos => "repos",
        /// API-token requests per minute per org.
        ApiRate => "api_rate",
        /// The longest retention window a policy may set, in days.
        RetentionDaysMax => "retention_days_max",
    }
}

/// The value of a limit. Tokens encode it as an integer where `-1` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum LimitValue {
    /// No maximum.
    Unlimited,
    /// At most this many (`0` means none allowed).
    Max(u64),
}

/// An integer that is neither `-1` nor a non-negative count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid limit value {0}: expected -1 (unlimited) or a number >= 0")]
pub struct InvalidLimitValue(pub i64);

impl TryFrom<i64> for LimitValue {
    type Error = InvalidLimitValue;

    fn try_from(v: i64) -> Result<Self, Self::Error> {
        match v {
            -1 => Ok(LimitValue::Unlimited),
            n if n >= 0 => Ok(LimitValue::Max(n.unsigned_abs())),
            n => Err(InvalidLimitValue(n)),
        }
    }
}

impl From<LimitValue> for i64 {
    fn from(v: LimitValue) -> i64 {
        match v {
            LimitValue::Unlimited => -1,
            LimitValue::Max(n) => i64::try_from(n).unwrap_or(i64::MAX),
        }
    }
}

impl LimitValue {
    /// Whether `current + requested` stays within the limit (the spec's refusal rule is
    /// `current + requested > maximum`).
    pub fn allows(self, current: u64, requested: u64) -> bool {
        match self {
            LimitValue::Unlimited => true,
            LimitValue::Max(max) => current.saturating_add(requested) <= max,
        }
    }
}

impl Limit {
    /// The compiled default of this limit for a tier.
    pub const fn default_for(self, tier: Tier) -> LimitValue {
        use LimitValue::{Max, Unlimited};
        match (self, tier) {
            (Limit::Users, Tier::Community) => Max(3),
            (Limit::Orgs, Tier::Community) => Max(1),
            (Limit::Users | Limit::Orgs, _) => Unlimited,
            (Limit::Repos, _) => Unlimited,
            (Limit::ApiRate, Tier::Community) => Max(0),
            (Limit::ApiRate, Tier::Team) => Max(1000),
            (Limit::ApiRate, Tier::Enterprise) => Max(5000),
            (Limit::RetentionDaysMax, Tier::Community) => Max(90),
            (Limit::RetentionDaysMax, Tier::Team) => Max(365),
            (Limit::RetentionDaysMax, Tier::Enterprise) => Unlimited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec_table() {
        let rows: [(Limit, [i64; 3]); 5] = [
            (Limit::Users, [3, -1, -1]),
            (Limit::Orgs, [1, -1, -1]),
            (Limit::Repos, [-1, -1, -1]),
            (Limit::ApiRate, [0, 1000, 5000]),
            (Limit::RetentionDaysMax, [90, 365, -1]),
        ];
        for (limit, expected) in rows {
            for (tier, want) in Tier::ALL.iter().zip(expected) {
                assert_eq!(i64::from(limit.default_for(*tier)), want, "{limit} {tier}");
            }
        }
    }

    #[test]
    fn limit_values_parse_and_allow() {
        assert_eq!(LimitValue::try_from(-1), Ok(LimitValue::Unlimited));
        assert_eq!(LimitValue::try_from(-2), Err(InvalidLimitValue(-2)));
        let three = LimitValue::Max(3);
        assert!(three.allows(2, 1));
        assert!(!three.allows(3, 1));
        assert!(!LimitValue::Max(0).allows(0, 1));
        assert!(LimitValue::Unlimited.allows(u64::MAX, 1));
        assert_eq!(serde_json::to_string(&LimitValue::Unlimited).unwrap(), "-1");
    }
}
