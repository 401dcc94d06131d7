//! The price map (billing spec §3): the **only** source of a subscription's tier. A price that is
//! not here contributes nothing (`unknown_price`); no tier is ever assumed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use domain::{Feature, Limit, LimitValue, Tier};
use serde::Deserialize;

use super::ConfigError;

/// Who the price is sold to: a SaaS org (entitlements pushed to ops) or a self-hosted customer
/// (a license key from the portal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A SaaS org's subscription.
    Saas,
    /// A self-hosted customer's subscription.
    SelfHosted,
}

/// The billing interval, as the UI offers it (monthly or yearly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    /// Billed every month.
    Month,
    /// Billed every year.
    Year,
}

impl Kind {
    /// The configuration and metadata name (`saas`, `self_hosted`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Saas => "saas",
            Kind::SelfHosted => "self_hosted",
        }
    }
}

impl Interval {
    /// The configuration and Stripe name (`month`, `year`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "saas" => Ok(Kind::Saas),
            "self_hosted" => Ok(Kind::SelfHosted),
            _ => Err(format!("unknown kind {s:?} (expected saas or self_hosted)")),
        }
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "month" => Ok(Interval::Month),
            "year" => Ok(Interval::Year),
            _ => Err(format!("unknown interval {s:?} (expected month or year)")),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Stripe price and what it sells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// The Stripe price id (older API shapes: the plan id).
    pub id: String,
    /// The tier it grants: `team` or `enterprise` (community is free, never sold).
    pub tier: Tier,
    /// SaaS org or self-hosted customer.
    pub kind: Kind,
    /// Monthly or yearly.
    pub interval: Interval,
    /// Trial length offered at checkout; trials happen only where this is set.
    pub trial_days: Option<u32>,
    /// Overrides of the tier's default limits.
    pub limits: BTreeMap<Limit, LimitValue>,
    /// Explicit feature values on top of the tier's.
    pub features: BTreeMap<Feature, bool>,
    /// Whether checkout offers it. `false` keeps a retired (grandfathered) price mapped for its
    /// existing subscribers while a newer price of the same tier, kind and interval is sold.
    pub checkout: bool,
}

/// A `[[price]]` entry as written in the file, checked by [`Price::from_raw`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    id: String,
    tier: String,
    kind: String,
    interval: String,
    #[serde(default)]
    trial_days: Option<i64>,
    #[serde(default)]
    limits: BTreeMap<String, i64>,
    #[serde(default)]
    features: BTreeMap<String, bool>,
    #[serde(default = "yes")]
    checkout: bool,
}

fn yes() -> bool {
    true
}

/// Stripe's longest trial (`trial_period_days` ≤ 730).
const MAX_TRIAL_DAYS: i64 = 730;

impl Price {
    /// Checks one entry; `index` is its position for messages (`price[2].tier`).
    pub(super) fn from_raw(index: usize, raw: RawPrice) -> Result<Price, ConfigError> {
        let at = |field: &str| format!("price[{index}].{field}");
        let id = raw.id.trim().to_owned();
        if id.is_empty() {
            return Err(ConfigError::new(
                at("id"),
                "must be the Stripe price id, e.g. price_…",
            ));
        }
        let named = |field: &str, problem: String| {
            ConfigError::new(at(field), format!("{problem} (price {id:?})"))
        };
        let tier = match raw.tier.parse::<Tier>() {
            Ok(Tier::Community) => {
                return Err(named(
                    "tier",
                    "community is not a sellable tier (expected team or enterprise)".into(),
                ));
            }
            Ok(tier) => tier,
            Err(_) => {
                return Err(named(
                    "tier",
                    format!("unknown tier {:?} (expected team or enterprise)", raw.tier),
                ));
            }
        };
        let kind = raw.kind.parse().map_err(|e| named("kind", e))?;
        let interval = raw.interval.parse().map_err(|e| named("interval", e))?;
        let trial_days = match raw.trial_days {
            None => None,
            Some(d @ 1..=MAX_TRIAL_DAYS) => u32::try_from(d).ok(),
            Some(d) => {
                return Err(named(
                    "trial_days",
                    format!(
                        "{d} is not between 1 and {MAX_TRIAL_DAYS} (leave it out for no trial)"
                    ),
                ));
            }
        };
        let mut limits = BTreeMap::new();
        for (key, value) in raw.limits {
            let limit: Limit = key.parse().map_err(|e: domain::UnknownValue| {
                named(&format!("limits.{key}"), e.to_string())
            })?;
            let value = LimitValue::try_from(value)
                .map_err(|e| named(&format!("limits.{key}"), e.to_string()))?;
            limits.insert(limit, value);
        }
        let mut features = BTreeMap::new();
        for (key, on) in raw.features {
            let feature: Feature = key.parse().map_err(|e: domain::UnknownValue| {
                named(&format!("features.{key}"), e.to_string())
            })?;
            features.insert(feature, on);
        }
        Ok(Price {
            id,
            tier,
            kind,
            interval,
            trial_days,
            limits,
            features,
            checkout: raw.checkout,
        })
    }
}

/// The configured prices, looked up by Stripe id (webhooks) and by what checkout sells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceMap {
    by_id: BTreeMap<String, Price>,
    checkout: BTreeMap<(Tier, Kind, Interval), String>,
}

impl PriceMap {
    /// Builds the map, refusing a duplicate id and two checkout prices for the same
    /// (tier, kind, interval): either would make the tier of a subscription or the price of a
    /// checkout ambiguous.
    pub fn new(prices: impl IntoIterator<Item = Price>) -> Result<PriceMap, ConfigError> {
        let mut map = PriceMap::default();
        for (index, price) in prices.into_iter().enumerate() {
            if map.by_id.contains_key(&price.id) {
                return Err(ConfigError::new(
                    format!("price[{index}].id"),
                    format!("price {:?} is configured twice", price.id),
                ));
            }
            if price.checkout {
                let slot = (price.tier, price.kind, price.interval);
                if let Some(other) = map.checkout.get(&slot) {
                    return Err(ConfigError::new(
                        format!("price[{index}]"),
                        format!(
                            "prices {other:?} and {:?} are both the checkout price for {} {} \
                             per {}; set checkout = false on the retired one",
                            price.id, price.tier, price.kind, price.interval
                        ),
                    ));
                }
                map.checkout.insert(slot, price.id.clone());
            }
            map.by_id.insert(price.id.clone(), price);
        }
        Ok(map)
    }

    /// The price with this Stripe id; `None` means the subscription contributes nothing.
    pub fn by_id(&self, id: &str) -> Option<&Price> {
        self.by_id.get(id)
    }

    /// The price checkout sells for this tier, kind and interval (`None` → 422 `no_price`).
    pub fn checkout_price(&self, tier: Tier, kind: Kind, interval: Interval) -> Option<&Price> {
        self.checkout
            .get(&(tier, kind, interval))
            .and_then(|id| self.by_id.get(id))
    }

    /// Every price, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &Price> {
        self.by_id.values()
    }

    /// How many prices are configured.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no price is configured.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
