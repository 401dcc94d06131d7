//! Reading Stripe's webhook envelope and subscription objects (billing spec §7.1 steps 5–7 and
//! 12, §7.2). Only called on bodies whose signature was verified.
//!
//! Both object shapes are read: the current API (`items.data[].price.id`, period fields on the
//! item) and the 2017 shape localstripe speaks (`plan.id`, `items.data[].plan.id`, periods on
//! the subscription).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::subscription::{Observation, Status};

/// The verified event's envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `evt_…`.
    pub id: String,
    /// e.g. `customer.subscription.updated`.
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
    /// `data.object`.
    pub object: Value,
}

/// Why an envelope could not be read (400 `bad_event`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event has no valid {0}")]
pub struct BadEvent(pub &'static str);

impl Envelope {
    /// Parses the raw (verified) body.
    pub fn parse(raw: &[u8]) -> Result<Envelope, BadEvent> {
        let v: Value = serde_json::from_slice(raw).map_err(|_| BadEvent("JSON body"))?;
        let id = str_at(&v, "id").ok_or(BadEvent("id"))?;
        if !id.starts_with("evt_") && !id.starts_with("poll:") {
            return Err(BadEvent("id"));
        }
        Ok(Envelope {
            id: id.to_owned(),
            kind: str_at(&v, "type").ok_or(BadEvent("type"))?.to_owned(),
            created: v
                .get("created")
                .and_then(Value::as_i64)
                .ok_or(BadEvent("created"))?,
            livemode: v
                .get("livemode")
                .and_then(Value::as_bool)
                .ok_or(BadEvent("livemode"))?,
            object: v
                .pointer("/data/object")
                .filter(|o| o.is_object())
                .cloned()
                .ok_or(BadEvent("data.object"))?,
        })
    }

    /// The handling class of the event type (§7.2).
    pub fn class(&self) -> Class {
        Class::of(&self.kind)
    }

    /// The subscription the event is about (§7.1 step 7), if any.
    pub fn subscription_id(&self) -> Option<String> {
        match self.class() {
            Class::Subscription | Class::TrialWillEnd => str_at(&self.object, "id"),
            Class::Invoice | Class::CheckoutCompleted => {
                id_or_expanded(&self.object, "subscription")
            }
            _ => None,
        }
        .map(str::to_owned)
    }

    /// `data.object.id`.
    pub fn object_id(&self) -> Option<String> {
        str_at(&self.object, "id").map(str::to_owned)
    }
}

/// What an event type asks for (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `customer.subscription.created|updated|deleted|paused|resumed`: apply.
    Subscription,
    /// `customer.subscription.trial_will_end`: record, refresh the billing summary.
    TrialWillEnd,
    /// `invoice.paid|payment_succeeded|payment_failed|payment_action_required|marked_uncollectible`.
    Invoice,
    /// `checkout.session.completed`: link the customer, apply; self-hosted: issue the key.
    CheckoutCompleted,
    /// `customer.created|updated|deleted`.
    Customer,
    /// Known types that need no action (`ignored`).
    Ignored,
    /// Anything else (`unhandled`, counted and alerted; never dropped silently).
    Unhandled,
}

impl Class {
    /// The class of an event type.
    pub fn of(kind: &str) -> Class {
        const IGNORED_PREFIXES: [&str; 10] = [
            "product.",
            "plan.",
            "price.",
            "payment_intent.",
            "charge.",
            "payment_method.",
            "customer.source.",
            "invoiceitem.",
            "balance.",
            "payout.",
        ];
        match kind {
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "customer.subscription.paused"
            | "customer.subscription.resumed" => Class::Subscription,
            "customer.subscription.trial_will_end" => Class::TrialWillEnd,
            "invoice.paid"
            | "invoice.payment_succeeded"
            | "invoice.payment_failed"
            | "invoice.payment_action_required"
            | "invoice.marked_uncollectible" => Class::Invoice,
            "checkout.session.completed" => Class::CheckoutCompleted,
            "customer.created" | "customer.updated" | "customer.deleted" => Class::Customer,
            k if IGNORED_PREFIXES.iter().any(|p| k.starts_with(p)) => Class::Ignored,
            _ => Class::Unhandled,
        }
    }
}

/// A Stripe subscription object, as much of it as license-svc uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionObject {
    /// `sub_…`.
    pub id: String,
    /// `cus_…`.
    pub customer: String,
    /// The raw status.
    pub status: Status,
    /// The price id (older shapes: the plan id).
    pub price_id: String,
    /// Cancels at the end of the period.
    pub cancel_at_period_end: bool,
    /// End of the current period.
    pub current_period_end: DateTime<Utc>,
    /// End of the trial.
    pub trial_end: Option<DateTime<Utc>>,
    /// `metadata.org_id`.
    pub org_id: Option<String>,
    /// `metadata.kind` (`saas` unless `self_hosted`).
    pub kind: Option<String>,
    /// `metadata.customer_id` (self-hosted purchases: our customer row).
    pub customer_id: Option<String>,
}

impl SubscriptionObject {
    /// Reads a subscription object (from an event or a re-fetch).
    pub fn parse(o: &Value) -> Result<SubscriptionObject, BadEvent> {
        let id = str_at(o, "id")
            .filter(|i| i.starts_with("sub_"))
            .ok_or(BadEvent("subscription id"))?;
        let item = o.pointer("/items/data/0");
        let price_id = item
            .and_then(|i| i.pointer("/price/id").or_else(|| i.pointer("/plan/id")))
            .or_else(|| o.pointer("/plan/id"))
            .and_then(Value::as_str)
            .ok_or(BadEvent("subscription price"))?;
        let period_end = o
            .get("current_period_end")
            .or_else(|| item.and_then(|i| i.get("current_period_end")))
            .and_then(Value::as_i64)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or(BadEvent("subscription current_period_end"))?;
        let meta = |k: &str| {
            o.pointer(&format!("/metadata/{k}"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(SubscriptionObject {
            id: id.to_owned(),
            customer: id_or_expanded(o, "customer")
                .ok_or(BadEvent("subscription customer"))?
                .to_owned(),
            status: Status::parse(str_at(o, "status").ok_or(BadEvent("subscription status"))?),
            price_id: price_id.to_owned(),
            cancel_at_period_end: o
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            current_period_end: period_end,
            trial_end: o
                .get("trial_end")
                .and_then(Value::as_i64)
                .and_then(|t| DateTime::from_timestamp(t, 0)),
            org_id: meta("org_id"),
            kind: meta("kind"),
            customer_id: meta("customer_id"),
        })
    }

    /// What this object says, as of an event's `created`.
    pub fn observation(
        &self,
        created: i64,
        tier: Option<domain::Tier>,
        fetched_at: Option<i64>,
    ) -> Observation {
        Observation {
            created,
            status: self.status.clone(),
            tier,
            cancel_at_period_end: self.cancel_at_period_end,
            current_period_end: self.current_period_end,
            trial_end: self.trial_end,
            fetched_at,
        }
    }

    /// Whether it was bought for a self-hosted install.
    pub fn is_self_hosted(&self) -> bool {
        self.kind.as_deref() == Some("self_hosted")
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A reference field that is either an id string or an expanded object with an `id`.
fn id_or_expanded<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key)? {
        Value::String(s) => Some(s),
        Value::Object(_) => v.get(key).and_then(|o| str_at(o, "id")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/stripe/{name}.body",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_the_recorded_localstripe_deliveries() {
        let e = Envelope::parse(&fixture("07-customer.subscription.created")).unwrap();
        assert_eq!(e.class(), Class::Subscription);
        let s = SubscriptionObject::parse(&e.object).unwrap();
        assert_eq!(e.subscription_id().as_deref(), Some(s.id.as_str()));
        assert_eq!(s.status, Status::Active);
        assert_eq!(
            s.price_id, "pro-monthly",
            "the 2017 shape: items.data[].plan.id"
        );

        let e = Envelope::parse(&fixture("20-checkout.session.completed.shim")).unwrap();
        assert_eq!(e.class(), Class::CheckoutCompleted);
        assert!(e.subscription_id().unwrap().starts_with("sub_"));

        let e = Envelope::parse(&fixture("06-invoice.payment_succeeded")).unwrap();
        assert_eq!(e.class(), Class::Invoice);
        assert!(e.subscription_id().unwrap().starts_with("sub_"));

        for (name, class) in [
            ("00-customer.created", Class::Customer),
            ("01-product.created", Class::Ignored),
            ("05-payment_intent.succeeded", Class::Ignored),
        ] {
            assert_eq!(
                Envelope::parse(&fixture(name)).unwrap().class(),
                class,
                "{name}"
            );
        }
    }

    #[test]
    fn classes_of_the_event_table() {
        assert_eq!(
            Class::of("customer.subscription.resumed"),
            Class::Subscription
        );
        assert_eq!(
            Class::of("customer.subscription.trial_will_end"),
            Class::TrialWillEnd
        );
        assert_eq!(Class::of("invoice.marked_uncollectible"), Class::Invoice);
        assert_eq!(Class::of("customer.source.created"), Class::Ignored);
        assert_eq!(Class::of("customer.discount.created"), Class::Unhandled);
        assert_eq!(Class::of("invoice.created"), Class::Unhandled);
    }

    #[test]
    fn refuses_envelopes_missing_a_field() {
        for body in [
            "not json",
            r#"{"type":"x","created":1,"livemode":false,"data":{"object":{}}}"#,
            r#"{"id":"evt_1","created":1,"livemode":false,"data":{"object":{}}}"#,
            r#"{"id":"evt_1","type":"x","livemode":false,"data":{"object":{}}}"#,
            r#"{"id":"evt_1","type":"x","created":1,"data":{"object":{}}}"#,
            r#"{"id":"evt_1","type":"x","created":1,"livemode":false,"data":{}}"#,
        ] {
            assert!(Envelope::parse(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn reads_the_current_api_shape() {
        let o = serde_json::json!({
            "id": "sub_1", "customer": {"id": "cus_1"}, "status": "trialing",
            "cancel_at_period_end": true, "trial_end": 1_800_000_000,
            "items": {"data": [{"price": {"id": "price_team_monthly"}, "current_period_end": 1_800_100_000}]},
            "metadata": {"org_id": "0190", "kind": "saas"}
        });
        let s = SubscriptionObject::parse(&o).unwrap();
        assert_eq!(s.customer, "cus_1");
        assert_eq!(s.price_id, "price_team_monthly");
        assert_eq!(s.current_period_end.timestamp(), 1_800_100_000);
        assert_eq!(s.trial_end.unwrap().timestamp(), 1_800_000_000);
        assert!(s.cancel_at_period_end && !s.is_self_hosted());
        assert_eq!(s.org_id.as_deref(), Some("0190"));
    }
}
