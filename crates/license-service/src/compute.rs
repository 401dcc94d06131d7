//! The org's entitlement from its subscriptions and any comp grant (billing spec §7.3, §7.7, §8),
//! and the signed token that carries it to ops (§6.2).
//!
//! Pure: the webhook handler, the scheduler and the admin commands all call [`compute`] with
//! what they read under the org's lock, and sign only when [`Computed::signed_part`] changed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use domain::Tier;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::PriceMap;
use crate::db::subscriptions::SubRow;
use crate::subscription::{Contribution, Graces, Status, contribution};

/// A community token's lifetime: `exp = iat + 3650 d` (§7.3).
pub const COMMUNITY_DAYS: i64 = 3650;

/// An org's computed entitlement.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    /// The tier.
    pub tier: Tier,
    /// Explicit feature values (from the price config; empty: tier defaults).
    pub features: BTreeMap<String, bool>,
    /// Explicit limits (from the price config; empty: tier defaults).
    pub limits: BTreeMap<String, i64>,
    /// Token `exp` (Unix seconds); 0 for community, whose `exp` is relative to its `iat`.
    pub exp: i64,
    /// Token `grace_days`.
    pub grace_days: i64,
    /// What ops' billing page shows (not signed; a change alone pushes nothing).
    pub billing: Value,
}

/// The part of an entitlement whose change is signed and pushed (§8 "sign only when it changes").
pub type SignedPart<'a> = (
    Tier,
    &'a BTreeMap<String, bool>,
    &'a BTreeMap<String, i64>,
    i64,
    i64,
);

impl Computed {
    /// `(tier, features, limits, exp, grace_days)`.
    pub fn signed_part(&self) -> SignedPart<'_> {
        (
            self.tier,
            &self.features,
            &self.limits,
            self.exp,
            self.grace_days,
        )
    }
}

/// A comp grant (§8): a tier until a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comp {
    /// The granted tier.
    pub tier: Tier,
    /// When it ends.
    pub until: DateTime<Utc>,
}

/// Computes the org's entitlement at `now`.
pub fn compute(
    subs: &[SubRow],
    comp: Option<&Comp>,
    prices: &PriceMap,
    graces: Graces,
    now: DateTime<Utc>,
) -> Computed {
    // The winning paid contribution: highest tier, ties to the later period end (§7.7).
    // `(tier rank, period end, tier, exp, grace_days, subscription (None: the comp grant))`.
    type Candidate<'a> = (u8, DateTime<Utc>, Tier, i64, i64, Option<&'a SubRow>);
    let mut best: Option<Candidate<'_>> = None;
    for s in subs {
        if let Contribution::Paid {
            tier,
            exp,
            grace_days,
            period_end,
        } = contribution(&s.sub, graces, now)
        {
            let cand = (
                tier.rank(),
                period_end,
                tier,
                exp.timestamp(),
                grace_days,
                Some(s),
            );
            if best.as_ref().is_none_or(|b| (cand.0, cand.1) > (b.0, b.1)) {
                best = Some(cand);
            }
        }
    }
    if let Some(c) = comp.filter(|c| c.until > now && c.tier != Tier::Community) {
        let cand = (c.tier.rank(), c.until, c.tier, c.until.timestamp(), 0, None);
        if best.as_ref().is_none_or(|b| (cand.0, cand.1) > (b.0, b.1)) {
            best = Some(cand);
        }
    }
    let shown = best
        .as_ref()
        .and_then(|b| b.5)
        .or_else(|| subs.iter().max_by_key(|s| s.last_event_created));
    let billing = billing_summary(shown, graces);
    match best {
        Some((_, _, tier, exp, grace_days, sub)) => {
            let price = sub.and_then(|s| prices.by_id(&s.price_id));
            Computed {
                tier,
                features: price
                    .map(|p| {
                        p.features
                            .iter()
                            .map(|(f, v)| (f.as_str().to_owned(), *v))
                            .collect()
                    })
                    .unwrap_or_default(),
                limits: price
                    .map(|p| {
                        p.limits
                            .iter()
                            .map(|(l, v)| (l.as_str().to_owned(), i64::from(*v)))
                            .collect()
                    })
                    .unwrap_or_default(),
                exp,
                grace_days,
                billing,
            }
        }
        None => community(billing),
    }
}

/// The community entitlement (§7.3): no features or limits beyond the tier's, grace 0.
pub fn community(billing: Value) -> Computed {
    Computed {
        tier: Tier::Community,
        features: BTreeMap::new(),
        limits: BTreeMap::new(),
        exp: 0,
        grace_days: 0,
        billing,
    }
}

/// The billing summary of `GET /v1/entitlements/{org}` (§5).
fn billing_summary(s: Option<&SubRow>, graces: Graces) -> Value {
    let Some(s) = s else {
        return json!({"status": "none"});
    };
    let o = &s.sub.state;
    let dunning_ends_at = (o.status == Status::PastDue)
        .then(|| s.sub.past_due_since.map(|p| p + graces.dunning))
        .flatten();
    json!({
        "status": o.status.as_str(),
        "price_id": s.price_id,
        "tier": o.tier.map(Tier::as_str),
        "trial_end": o.trial_end,
        "current_period_end": o.current_period_end,
        "cancel_at_period_end": o.cancel_at_period_end,
        "past_due_since": s.sub.past_due_since,
        "dunning_ends_at": dunning_ends_at,
    })
}

/// The next `iat` of an org: strictly after the last one (§6.2).
pub fn next_iat(now: DateTime<Utc>, last_iat: i64) -> i64 {
    now.timestamp().max(last_iat.saturating_add(1))
}

/// Signs the entitlement for one ops receiver (§6.2): a fresh `jti`, the receiver's deployment
/// id, and for community `exp = iat + 3650 d`. Returns `(jti, token)`.
pub fn sign(
    c: &Computed,
    org: Uuid,
    deployment_id: &str,
    iat: i64,
    kid: &str,
    key: &SigningKey,
) -> (String, String) {
    let jti = Uuid::now_v7().to_string();
    let exp = if c.tier == Tier::Community {
        iat + Duration::days(COMMUNITY_DAYS).num_seconds()
    } else {
        c.exp
    };
    let claims = license::Claims {
        iss: license::claims::ISSUER.to_owned(),
        sub: org.to_string(),
        jti: jti.clone(),
        iat,
        nbf: None,
        exp,
        tier: c.tier,
        features: c.features.clone(),
        limits: c.limits.clone(),
        deployment_ids: vec![deployment_id.to_owned()],
        grace_days: c.grace_days,
    };
    let token = license::sign::sign_claims(&claims, kid, key);
    (jti, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Interval, Kind, Price};
    use crate::subscription::{Observation, Subscription};

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + days * 86_400, 0).unwrap()
    }

    fn prices() -> PriceMap {
        let p = |id: &str, tier| Price {
            id: id.into(),
            tier,
            kind: Kind::Saas,
            interval: Interval::Month,
            trial_days: None,
            limits: BTreeMap::new(),
            features: BTreeMap::new(),
            checkout: true,
        };
        let mut e = p("price_ent", Tier::Enterprise);
        e.features.insert(domain::Feature::CapacityPlanning, false);
        PriceMap::new([p("price_team", Tier::Team), e]).unwrap()
    }

    fn sub(id: &str, price: &str, tier: Tier, status: &str, period_end: i64) -> SubRow {
        SubRow {
            id: id.into(),
            stripe_customer_id: "cus_1".into(),
            org_id: None,
            kind: "saas".into(),
            price_id: price.into(),
            sub: Subscription {
                state: Observation {
                    created: at(0).timestamp(),
                    status: Status::parse(status),
                    tier: Some(tier),
                    cancel_at_period_end: false,
                    current_period_end: at(period_end),
                    trial_end: None,
                    fetched_at: None,
                },
                past_due_since: None,
            },
            last_event_created: at(0).timestamp(),
            last_event_id: "evt_1".into(),
        }
    }

    #[test]
    fn the_highest_paid_tier_wins_and_brings_its_price_config() {
        let subs = [
            sub("sub_a", "price_team", Tier::Team, "active", 40),
            sub("sub_b", "price_ent", Tier::Enterprise, "active", 30),
            sub("sub_c", "price_ent", Tier::Enterprise, "canceled", 50),
        ];
        let c = compute(&subs, None, &prices(), Graces::default(), at(1));
        assert_eq!(c.tier, Tier::Enterprise);
        assert_eq!(c.exp, at(30).timestamp());
        assert_eq!(c.grace_days, 30);
        assert_eq!(c.features.get("capacity_planning"), Some(&false));
        assert_eq!(c.billing["status"], "active");
    }

    #[test]
    fn a_terminal_or_dunning_subscription_never_removes_another_ones_tier() {
        let mut dunning = sub("sub_b", "price_ent", Tier::Enterprise, "past_due", 30);
        dunning.sub.past_due_since = Some(at(-10));
        let subs = [
            sub("sub_a", "price_team", Tier::Team, "active", 40),
            dunning,
        ];
        let c = compute(&subs, None, &prices(), Graces::default(), at(1));
        assert_eq!((c.tier, c.grace_days), (Tier::Team, 14));
    }

    #[test]
    fn nothing_paid_is_community_and_a_comp_grant_counts_until_it_ends() {
        let subs = [sub("sub_a", "price_team", Tier::Team, "unpaid", 40)];
        let c = compute(&subs, None, &prices(), Graces::default(), at(1));
        assert_eq!(c.signed_part(), community(Value::Null).signed_part());
        let comp = Comp {
            tier: Tier::Enterprise,
            until: at(5),
        };
        let c = compute(&subs, Some(&comp), &prices(), Graces::default(), at(1));
        assert_eq!(
            (c.tier, c.exp, c.grace_days),
            (Tier::Enterprise, at(5).timestamp(), 0)
        );
        let c = compute(&subs, Some(&comp), &prices(), Graces::default(), at(6));
        assert_eq!(c.tier, Tier::Community);
    }

    #[test]
    fn past_due_shows_when_dunning_ends() {
        let mut s = sub("sub_a", "price_team", Tier::Team, "past_due", 40);
        s.sub.past_due_since = Some(at(0));
        let c = compute(&[s], None, &prices(), Graces::default(), at(1));
        assert_eq!(
            (c.tier, c.exp, c.grace_days),
            (Tier::Team, at(7).timestamp(), 0)
        );
        assert_eq!(
            c.billing["dunning_ends_at"],
            serde_json::to_value(at(7)).unwrap()
        );
    }

    #[test]
    fn iat_strictly_increases() {
        assert_eq!(next_iat(at(0), 0), at(0).timestamp());
        assert_eq!(next_iat(at(0), at(0).timestamp()), at(0).timestamp() + 1);
        assert_eq!(next_iat(at(0), at(1).timestamp()), at(1).timestamp() + 1);
    }
}
