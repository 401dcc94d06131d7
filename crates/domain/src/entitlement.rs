//! The entitlement engine's decision (entitlements spec §5.2–§5.3): one pure function from the
//! inputs — kill switch, org override, the signed token and its ladder state, tier defaults —
//! to a decision with its reason, and the limits resolved from the same source order.
//!
//! The `app` layer gathers the inputs (tables, the verified license) and caches the results per
//! org; every gate (HTTP, services, UI, CLI) asks this function, so there is exactly one path.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Feature, Limit, LimitValue, Tier};

/// Where the org's signed token stands (from the license ladder and validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Features and limits from the token.
    Active,
    /// As active; a warning is shown.
    Expiring,
    /// Past `exp`, still applied.
    InGrace,
    /// Past grace: community.
    Expired,
    /// Refused by validation (bad signature, wrong deployment, not yet valid, …).
    Invalid,
}

impl TokenState {
    /// Whether the token's contents apply.
    pub const fn usable(self) -> bool {
        matches!(
            self,
            TokenState::Active | TokenState::Expiring | TokenState::InGrace
        )
    }
}

/// The org's signed entitlement (SaaS) or the instance license (self-hosted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Ladder or validation state at the evaluation time.
    pub state: TokenState,
    /// The token's tier.
    pub tier: Tier,
    /// Explicit feature values (unknown keys are ignored).
    pub features: BTreeMap<String, bool>,
    /// Explicit limits (-1 unlimited).
    pub limits: BTreeMap<String, i64>,
}

/// A platform admin's per-org override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Grant or deny.
    pub enabled: bool,
    /// When it stops applying.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a feature is or is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The global kill switch is off.
    KillSwitch,
    /// Community features are always on.
    CommunityFloor,
    /// A live org override decided.
    OrgOverride,
    /// The usable token names the feature.
    License,
    /// The token names the feature and is in its grace period.
    InGrace,
    /// The usable token does not name it; its tier's default allows it.
    TierDefault,
    /// No usable token, or its tier does not include the feature.
    NotLicensed,
    /// The token expired beyond grace.
    LicenseExpired,
    /// The inputs could not be read; paid features are denied.
    StorageError,
}

impl Reason {
    /// The stable name used in API bodies and explanations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::KillSwitch => "kill_switch",
            Reason::CommunityFloor => "community_floor",
            Reason::OrgOverride => "org_override",
            Reason::License => "license",
            Reason::InGrace => "in_grace",
            Reason::TierDefault => "tier_default",
            Reason::NotLicensed => "not_licensed",
            Reason::LicenseExpired => "license_expired",
            Reason::StorageError => "storage_error",
        }
    }
}

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the feature is available.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

/// Everything the decision reads, for one org at one time.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// `feature_flags.is_enabled` of the feature.
    pub kill_switch_on: bool,
    /// The org's override of the feature, if any.
    pub override_: Option<&'a Override>,
    /// The org's token, if any.
    pub token: Option<&'a Token>,
    /// Evaluation time.
    pub now: DateTime<Utc>,
}

fn decision(allowed: bool, reason: Reason) -> Decision {
    Decision { allowed, reason }
}

/// The precedence table of spec §5.2: the first matching rule decides.
pub fn decide(feature: Feature, inputs: &Inputs<'_>) -> Decision {
    if !inputs.kill_switch_on {
        return decision(false, Reason::KillSwitch);
    }
    if feature.min_tier() == Tier::Community {
        return decision(true, Reason::CommunityFloor);
    }
    if let Some(o) = inputs.override_
        && o.expires_at.is_none_or(|at| at > inputs.now)
    {
        return decision(o.enabled, Reason::OrgOverride);
    }
    match inputs.token {
        Some(t) if t.state.usable() => {
            let named = if t.state == TokenState::InGrace {
                Reason::InGrace
            } else {
                Reason::License
            };
            match t.features.get(feature.as_str()) {
                Some(&value) => decision(value, named),
                None if feature.included_in(t.tier) => decision(
                    true,
                    if t.state == TokenState::InGrace {
                        Reason::InGrace
                    } else {
                        Reason::TierDefault
                    },
                ),
                None => decision(false, Reason::NotLicensed),
            }
        }
        Some(t) if t.state == TokenState::Expired => decision(false, Reason::LicenseExpired),
        _ => decision(false, Reason::NotLicensed),
    }
}

/// The decision when the inputs could not be read (spec §5.7): community features follow the
/// kill switch and the floor; paid features are denied with `storage_error`.
pub fn decide_without_inputs(feature: Feature, kill_switch_on: Option<bool>) -> Decision {
    match (feature.min_tier() == Tier::Community, kill_switch_on) {
        (_, Some(false)) => decision(false, Reason::KillSwitch),
        (true, _) => decision(true, Reason::CommunityFloor),
        (false, _) => decision(false, Reason::StorageError),
    }
}

/// The effective tier: the usable token's tier, else community.
pub fn effective_tier(token: Option<&Token>) -> Tier {
    token
        .filter(|t| t.state.usable())
        .map_or(Tier::Community, |t| t.tier)
}

/// Where a limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    /// The usable token's `limits`.
    License,
    /// The effective tier's default.
    TierDefault,
}

/// A limit from the same source order (no overrides): the usable token's value, then the
/// effective tier's default.
pub fn limit(limit: Limit, token: Option<&Token>) -> (LimitValue, LimitSource) {
    let usable = token.filter(|t| t.state.usable());
    if let Some(v) = usable
        .and_then(|t| t.limits.get(limit.as_str()))
        .and_then(|v| LimitValue::try_from(*v).ok())
    {
        return (v, LimitSource::License);
    }
    (
        limit.default_for(effective_tier(token)),
        LimitSource::TierDefault,
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn token(state: TokenState, tier: Tier, features: &[(&str, bool)]) -> Token {
        Token {
            state,
            tier,
            features: features
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            limits: BTreeMap::new(),
        }
    }

    /// (feature, kill switch on, override, token, allowed, reason)
    type Row<'a> = (
        Feature,
        bool,
        Option<Override>,
        Option<&'a Token>,
        bool,
        Reason,
    );

    #[test]
    fn the_precedence_table_decides_in_order() {
        use Reason::{
            CommunityFloor, KillSwitch, License, LicenseExpired, NotLicensed, OrgOverride,
            TierDefault,
        };
        use TokenState::{Active, Expired, Expiring, Invalid};
        let later = Some(now() + chrono::Duration::days(1));
        let earlier = Some(now() - chrono::Duration::seconds(1));
        let on = |expires_at| Override {
            enabled: true,
            expires_at,
        };
        let off = |expires_at| Override {
            enabled: false,
            expires_at,
        };
        let ent = token(Active, Tier::Enterprise, &[]);
        let team_named = token(Active, Tier::Team, &[("audit_log", true)]);
        let denied_in_token = token(Active, Tier::Enterprise, &[("audit_log", false)]);
        let grace = token(TokenState::InGrace, Tier::Enterprise, &[]);
        let grace_named = token(TokenState::InGrace, Tier::Team, &[("audit_log", true)]);
        let expired = token(Expired, Tier::Enterprise, &[]);
        let invalid = token(Invalid, Tier::Enterprise, &[]);
        let expiring = token(Expiring, Tier::Enterprise, &[]);
        let team = token(Active, Tier::Team, &[]);
        let f = Feature::AuditLog;
        // (feature, kill switch, override, token, allowed, reason)
        let rows: Vec<Row<'_>> = vec![
            (f, false, Some(on(None)), Some(&ent), false, KillSwitch),
            (
                Feature::BasicAnalytics,
                false,
                None,
                None,
                false,
                KillSwitch,
            ),
            (
                Feature::BasicAnalytics,
                true,
                Some(off(None)),
                None,
                true,
                CommunityFloor,
            ),
            (
                Feature::GitSync,
                true,
                None,
                Some(&expired),
                true,
                CommunityFloor,
            ),
            (f, true, Some(on(None)), None, true, OrgOverride),
            (f, true, Some(on(later)), None, true, OrgOverride),
            (f, true, Some(on(earlier)), None, false, NotLicensed),
            (f, true, Some(off(None)), Some(&ent), false, OrgOverride),
            (f, true, Some(off(earlier)), Some(&ent), true, TierDefault),
            (f, true, None, Some(&team_named), true, License),
            (f, true, None, Some(&denied_in_token), false, License),
            (f, true, None, Some(&grace_named), true, Reason::InGrace),
            (f, true, None, Some(&grace), true, Reason::InGrace),
            (f, true, None, Some(&ent), true, TierDefault),
            (f, true, None, Some(&expiring), true, TierDefault),
            (f, true, None, Some(&team), false, NotLicensed),
            (f, true, None, Some(&expired), false, LicenseExpired),
            (f, true, None, Some(&invalid), false, NotLicensed),
            (f, true, None, None, false, NotLicensed),
        ];
        for (i, (feature, kill, o, t, allowed, reason)) in rows.into_iter().enumerate() {
            let d = decide(
                feature,
                &Inputs {
                    kill_switch_on: kill,
                    override_: o.as_ref(),
                    token: t,
                    now: now(),
                },
            );
            assert_eq!(d, Decision { allowed, reason }, "row {i}");
        }
    }

    #[test]
    fn storage_errors_never_grant_a_paid_feature() {
        assert_eq!(
            decide_without_inputs(Feature::AuditLog, None),
            decision(false, Reason::StorageError)
        );
        assert_eq!(
            decide_without_inputs(Feature::BasicAnalytics, None),
            decision(true, Reason::CommunityFloor)
        );
        assert_eq!(
            decide_without_inputs(Feature::BasicAnalytics, Some(false)),
            decision(false, Reason::KillSwitch)
        );
    }

    #[test]
    fn limits_come_from_the_usable_token_then_the_effective_tier() {
        let mut t = token(TokenState::Active, Tier::Enterprise, &[]);
        t.limits.insert("users".into(), 250);
        assert_eq!(
            limit(Limit::Users, Some(&t)),
            (LimitValue::Max(250), LimitSource::License)
        );
        assert_eq!(
            limit(Limit::ApiRate, Some(&t)),
            (LimitValue::Max(5000), LimitSource::TierDefault)
        );
        t.state = TokenState::Expired;
        assert_eq!(
            limit(Limit::Users, Some(&t)),
            (LimitValue::Max(3), LimitSource::TierDefault)
        );
        assert_eq!(effective_tier(Some(&t)), Tier::Community);
        assert_eq!(
            limit(Limit::ApiRate, None),
            (LimitValue::Max(0), LimitSource::TierDefault)
        );
    }
}
