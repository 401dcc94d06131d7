//! An org's billing state as license-svc reports it (`GET /v1/entitlements/{org_id}`, billing
//! spec §5) and what the billing page says about it (§11: "trial ends D", "renews D",
//! "cancels D", "payment failed, update by D").
//!
//! Times are read as RFC 3339 text or Unix seconds: the field list is the contract, the
//! encoding is not pinned by the spec, and a summary must never fail the page over it.

use chrono::{DateTime, Utc};
use domain::{OrgId, Tier};
use serde::Serialize;
use serde_json::Value;

/// The billing fields of license-svc's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BillingState {
    /// The raw Stripe subscription status (`trialing`, `active`, `past_due`, …), if any.
    pub status: Option<String>,
    /// End of the trial.
    pub trial_end: Option<DateTime<Utc>>,
    /// End of the paid period (the renewal or cancellation date).
    pub current_period_end: Option<DateTime<Utc>>,
    /// The subscription ends at the period end.
    pub cancel_at_period_end: bool,
    /// When the payment first failed.
    pub past_due_since: Option<DateTime<Utc>>,
    /// When paid features stop if the payment is not fixed.
    pub dunning_ends_at: Option<DateTime<Utc>>,
}

/// What the billing page says about the subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Phase {
    /// No subscription.
    None,
    /// "Trial ends D".
    Trialing {
        /// D.
        ends_at: Option<DateTime<Utc>>,
    },
    /// "Renews D".
    Renews {
        /// D.
        at: Option<DateTime<Utc>>,
    },
    /// "Cancels D".
    Cancels {
        /// D.
        at: Option<DateTime<Utc>>,
    },
    /// "Payment failed, update by D".
    PastDue {
        /// D (`dunning_ends_at`).
        update_by: Option<DateTime<Utc>>,
    },
    /// Anything else (`canceled`, `unpaid`, `incomplete`, an unknown status).
    Other {
        /// The raw status.
        status: String,
    },
}

impl BillingState {
    /// The phase the page states.
    pub fn phase(&self) -> Phase {
        match self.status.as_deref() {
            None | Some("" | "none") => Phase::None,
            Some("trialing") => Phase::Trialing {
                ends_at: self.trial_end,
            },
            Some("active") if self.cancel_at_period_end => Phase::Cancels {
                at: self.current_period_end,
            },
            Some("active") => Phase::Renews {
                at: self.current_period_end,
            },
            Some("past_due") => Phase::PastDue {
                update_by: self.dunning_ends_at,
            },
            Some(other) => Phase::Other {
                status: other.to_owned(),
            },
        }
    }
}

/// A summary as fetched, with the token for pull repair (never serialized).
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub tier: Tier,
    pub version: i64,
    pub token: Option<String>,
    pub billing: BillingState,
    pub fetched_at: DateTime<Utc>,
}

/// `GET /api/v1/billing`: the org's plan on ops and its billing state from license-svc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingView {
    /// The org.
    pub org_id: OrgId,
    /// The tier this server gates on now.
    pub tier: Tier,
    /// Whether license-svc has a billing record for the org.
    pub account: bool,
    /// The tier license-svc computed (it reaches gating only as a signed entitlement).
    pub billing_tier: Option<Tier>,
    /// license-svc's entitlement version.
    pub billing_version: Option<i64>,
    /// The billing fields (none without an account).
    pub billing: Option<BillingState>,
    /// What the page says.
    pub phase: Phase,
    /// When license-svc was asked (answers are reused for 60 s).
    pub fetched_at: Option<DateTime<Utc>>,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
        _ => None,
    }
}

/// Reads license-svc's 200 answer; `None` when it is not the documented shape.
pub(crate) fn parse(body: &Value, now: DateTime<Utc>) -> Option<Fetched> {
    let tier = body["tier"].as_str()?.parse::<Tier>().ok()?;
    let b = &body["billing"];
    Some(Fetched {
        tier,
        version: body["version"].as_i64().unwrap_or(0),
        token: body["token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        billing: BillingState {
            status: b["status"].as_str().map(str::to_owned),
            trial_end: time(&b["trial_end"]),
            current_period_end: time(&b["current_period_end"]),
            cancel_at_period_end: b["cancel_at_period_end"].as_bool().unwrap_or(false),
            past_due_since: time(&b["past_due_since"]),
            dunning_ends_at: time(&b["dunning_ends_at"]),
        },
        fetched_at: now,
    })
}

impl BillingView {
    /// The view of `fetched` (none: no billing record) for an org on `tier`.
    pub(crate) fn new(org_id: OrgId, tier: Tier, fetched: Option<&Fetched>) -> Self {
        BillingView {
            org_id,
            tier,
            account: fetched.is_some(),
            billing_tier: fetched.map(|f| f.tier),
            billing_version: fetched.map(|f| f.version),
            billing: fetched.map(|f| f.billing.clone()),
            phase: fetched.map_or(Phase::None, |f| f.billing.phase()),
            fetched_at: fetched.map(|f| f.fetched_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_rfc3339_or_unix_seconds() {
        let now = Utc::now();
        let f = parse(
            &json!({"org_id": "x", "tier": "team", "version": 4, "token": "a.b.c",
                "billing": {"status": "active", "current_period_end": "2026-03-12T00:00:00Z",
                    "trial_end": 1_767_225_600, "cancel_at_period_end": false, "past_due_since": null}}),
            now,
        )
        .unwrap();
        assert_eq!(
            (f.tier, f.version, f.token.as_deref()),
            (Tier::Team, 4, Some("a.b.c"))
        );
        assert_eq!(
            f.billing.current_period_end.map(|t| t.to_rfc3339()),
            Some("2026-03-12T00:00:00+00:00".into())
        );
        assert_eq!(
            f.billing.trial_end.map(|t| t.timestamp()),
            Some(1_767_225_600)
        );
        assert_eq!(f.billing.past_due_since, None);
        assert!(parse(&json!({"tier": "platinum"}), now).is_none());
    }

    #[test]
    fn each_status_has_its_phase() {
        let d = DateTime::from_timestamp(1_767_225_600, 0);
        let state = |status: &str, cancel: bool| BillingState {
            status: Some(status.into()),
            trial_end: d,
            current_period_end: d,
            cancel_at_period_end: cancel,
            past_due_since: d,
            dunning_ends_at: d,
        };
        assert_eq!(
            state("trialing", false).phase(),
            Phase::Trialing { ends_at: d }
        );
        assert_eq!(state("active", false).phase(), Phase::Renews { at: d });
        assert_eq!(state("active", true).phase(), Phase::Cancels { at: d });
        assert_eq!(
            state("past_due", false).phase(),
            Phase::PastDue { update_by: d }
        );
        assert_eq!(
            state("canceled", false).phase(),
            Phase::Other {
                status: "canceled".into()
            }
        );
        assert_eq!(BillingState::default().phase(), Phase::None);
        assert_eq!(
            state("none", false).phase(),
            Phase::None,
            "license-svc's no-subscription status"
        );
    }
}
