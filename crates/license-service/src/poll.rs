//! Pulling state from Stripe instead of waiting for it (billing spec §8): a subscription whose
//! period ended over an hour ago without a renewal event is re-fetched, and `reconcile` (nightly
//! and `license-svc reconcile`) applies every subscription of our customers that differs from
//! what is stored. Each is applied as a synthetic event `poll:<sub>:<ts>` through the webhook
//! path, so the same ordering rules hold: with the stored `created` and a fetch time it wins
//! the tie against what is stored (§7.1 step 10).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::db::{customers, events::Outcome, subscriptions};
use crate::event::{Envelope, SubscriptionObject};
use crate::service::{Service, SvcError};
use crate::webhook::Reply;

/// A subscription whose period ended this long ago with no renewal is re-fetched.
pub const OVERDUE: Duration = Duration::hours(1);

/// What reconciling one subscription found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// `sub_…`.
    pub subscription: String,
    /// The stored status (`None`: not stored).
    pub stored: Option<String>,
    /// Stripe's status.
    pub stripe: String,
    /// The outcome of applying it (`None` on a dry run).
    pub outcome: Option<String>,
}

impl Service {
    /// Applies a subscription object fetched from Stripe as a synthetic event.
    pub async fn apply_fetched(
        &self,
        object: Value,
        now: DateTime<Utc>,
    ) -> Result<Reply, SvcError> {
        let sub =
            SubscriptionObject::parse(&object).map_err(|e| SvcError::Unavailable(e.to_string()))?;
        let created = {
            let mut c = self.store.acquire().await?;
            subscriptions::last_event_created(&mut c.conn(), &sub.id).await?
        }
        .unwrap_or_else(|| now.timestamp());
        let envelope = Envelope {
            // Unique even for two polls in one instant (a frozen test clock, a busy replica).
            id: format!(
                "poll:{}:{}:{}",
                sub.id,
                now.timestamp(),
                uuid::Uuid::now_v7().simple()
            ),
            kind: "customer.subscription.updated".into(),
            created,
            livemode: self.config.stripe.live_mode(),
            object: object.clone(),
        };
        let payload = json!({"id": envelope.id, "type": envelope.kind, "created": created,
            "livemode": envelope.livemode, "data": {"object": object}});
        self.process(&envelope, &payload.to_string(), now)
            .await
            .map_err(|e| SvcError::Unavailable(e.to_string()))
    }

    /// Re-fetches active subscriptions whose period ended over an hour ago (no renewal seen).
    pub async fn poll_overdue(&self) -> Result<usize, SvcError> {
        let now = self.clock.now();
        let overdue = {
            let mut c = self.store.acquire().await?;
            subscriptions::overdue(&mut c.conn(), now - OVERDUE).await?
        };
        let mut n = 0;
        for id in overdue {
            match self.stripe.get_subscription(&id).await {
                Ok(object) => {
                    self.apply_fetched(object, now).await?;
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!(subscription = %id, "re-fetching an overdue subscription: {e}")
                }
            }
        }
        Ok(n)
    }

    /// Lists every customer's subscriptions in Stripe and applies those that differ from what
    /// is stored (`dry_run`: only reports them).
    pub async fn reconcile(&self, dry_run: bool) -> Result<Vec<Drift>, SvcError> {
        let now = self.clock.now();
        let all = {
            let mut c = self.store.acquire().await?;
            customers::with_stripe_id(&mut c.conn()).await?
        };
        let mut drift = Vec::new();
        for stripe_id in all {
            let objects = self
                .stripe
                .list_subscriptions(&stripe_id)
                .await
                .map_err(|e| SvcError::Unavailable(e.to_string()))?;
            for object in objects {
                let Ok(sub) = SubscriptionObject::parse(&object) else {
                    continue;
                };
                let stored = {
                    let mut c = self.store.acquire().await?;
                    subscriptions::get(&mut c.conn(), &sub.id).await?
                };
                let same = stored.as_ref().is_some_and(|s| {
                    let o = &s.sub.state;
                    o.status == sub.status
                        && s.price_id == sub.price_id
                        && o.cancel_at_period_end == sub.cancel_at_period_end
                        && o.current_period_end == sub.current_period_end
                        && o.trial_end == sub.trial_end
                });
                if same {
                    continue;
                }
                let outcome = if dry_run {
                    None
                } else {
                    Some(match self.apply_fetched(object, now).await? {
                        Reply::Received(o) => o.as_str().to_owned(),
                        Reply::Duplicate => Outcome::NoChange.as_str().to_owned(),
                    })
                };
                drift.push(Drift {
                    subscription: sub.id.clone(),
                    stored: stored.map(|s| s.sub.state.status.as_str().to_owned()),
                    stripe: sub.status.as_str().to_owned(),
                    outcome,
                });
            }
        }
        Ok(drift)
    }
}
