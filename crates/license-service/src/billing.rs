//! The ops-facing billing use cases (billing spec §5, §11): Stripe Checkout for an org's upgrade,
//! the Stripe billing portal, and the entitlement read behind ops' billing page and pull repair.

use std::collections::BTreeMap;

use domain::Tier;
use serde::Deserialize;
use uuid::Uuid;

use crate::config::{Interval, Kind};
use crate::db::{customers, subscriptions};
use crate::service::{Service, SvcError};
use crate::stripe_api::{CheckoutParams, CheckoutSession, StripeError};
use crate::subscription::{Contribution, contribution};

/// `POST /v1/checkout-sessions`.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutRequest {
    /// The org upgrading.
    pub org_id: Uuid,
    /// `team` or `enterprise`.
    pub tier: String,
    /// `month` or `year`.
    pub interval: String,
    /// Prefilled on a new Stripe customer.
    #[serde(default)]
    pub customer_email: Option<String>,
    /// The owner who clicked (for the log).
    #[serde(default)]
    pub actor_user_id: Option<String>,
    /// Where Stripe sends the browser after paying.
    pub success_url: String,
    /// Where Stripe sends the browser on cancel.
    pub cancel_url: String,
}

/// `POST /v1/portal-sessions`.
#[derive(Debug, Clone, Deserialize)]
pub struct PortalRequest {
    /// The org.
    pub org_id: Uuid,
    /// Where the portal's back link goes.
    pub return_url: String,
}

fn stripe_failed(e: StripeError) -> SvcError {
    if e.is_transient() {
        SvcError::Unavailable(e.to_string())
    } else {
        tracing::error!("Stripe refused a billing call: {e}");
        SvcError::invalid(502, "stripe_error", "Stripe refused the request.")
    }
}

impl Service {
    /// Whether `url` is under one of the ops receivers' public base URLs.
    fn is_ops_url(&self, url: &str) -> bool {
        self.config.ops.receivers.iter().any(|r| {
            let base = r.public_base_url.as_str().trim_end_matches('/');
            url == base || url.starts_with(&format!("{base}/"))
        })
    }

    /// Creates a Checkout Session for an org's upgrade (§11 steps 1–4); returns it with the
    /// trial days offered (§7.4: one trial per org).
    pub async fn checkout(
        &self,
        req: &CheckoutRequest,
        request_id: &str,
    ) -> Result<(CheckoutSession, Option<u32>), SvcError> {
        let tier: Tier = req
            .tier
            .parse()
            .ok()
            .filter(|t| *t != Tier::Community)
            .ok_or_else(|| SvcError::invalid(422, "no_price", "tier must be team or enterprise"))?;
        let interval: Interval = req
            .interval
            .parse()
            .map_err(|_| SvcError::invalid(422, "no_price", "interval must be month or year"))?;
        let price = self
            .config
            .prices
            .checkout_price(tier, Kind::Saas, interval)
            .ok_or_else(|| {
                SvcError::invalid(422, "no_price", "no price is configured for that plan")
            })?
            .clone();
        if !self.is_ops_url(&req.success_url) || !self.is_ops_url(&req.cancel_url) {
            return Err(SvcError::invalid(
                422,
                "invalid_url",
                "success_url and cancel_url must be under the ops public base URL",
            ));
        }
        let now = self.clock.now();
        let mut c = self.store.acquire().await?;
        let subs = subscriptions::by_org(&mut c.conn(), req.org_id).await?;
        if subs.iter().any(|s| {
            matches!(
                contribution(&s.sub, self.config.graces(), now),
                Contribution::Paid { .. }
            )
        }) {
            return Err(SvcError::invalid(
                409,
                "subscription_exists",
                "the organization already has a paid subscription; manage it in the billing portal",
            ));
        }
        let org = req.org_id.to_string();
        let metadata = BTreeMap::from([
            ("org_id".to_owned(), org.clone()),
            ("kind".to_owned(), "saas".to_owned()),
        ]);
        let customer = match customers::by_org(&mut c.conn(), req.org_id).await? {
            Some(cu) if cu.stripe_customer_id.is_some() => cu,
            existing => {
                let email = req.customer_email.as_deref().unwrap_or_default();
                let stripe_id = self
                    .stripe
                    .create_customer(email, None, &metadata, Some(&format!("customer:{org}")))
                    .await
                    .map_err(stripe_failed)?;
                match existing {
                    Some(cu) => {
                        customers::set_stripe_id(&mut c.conn(), cu.id, &stripe_id, now).await?;
                        customers::Customer {
                            stripe_customer_id: Some(stripe_id),
                            ..cu
                        }
                    }
                    None => {
                        let cu = customers::Customer {
                            id: Uuid::now_v7(),
                            stripe_customer_id: Some(stripe_id),
                            kind: "saas".into(),
                            org_id: Some(req.org_id),
                            email: email.to_owned(),
                            name: String::new(),
                            deployment_ids: Vec::new(),
                            trial_used_at: None,
                        };
                        customers::insert(&mut c.conn(), &cu, now).await?;
                        cu
                    }
                }
            }
        };
        // One trial per org (§7.4); a failed eligibility read offers none.
        let trial = match price.trial_days {
            Some(days) if customer.trial_used_at.is_none() => {
                match subscriptions::org_ever_trialed(&mut c.conn(), req.org_id).await {
                    Ok(false) => Some(days),
                    _ => None,
                }
            }
            _ => None,
        };
        drop(c);
        let session = self
            .stripe
            .create_checkout_session(&CheckoutParams {
                customer: customer.stripe_customer_id.clone().unwrap_or_default(),
                price: price.id.clone(),
                quantity: 1,
                client_reference_id: Some(org.clone()),
                success_url: req.success_url.clone(),
                cancel_url: req.cancel_url.clone(),
                metadata,
                trial_period_days: trial,
                idempotency_key: format!("checkout:{org}:{request_id}"),
            })
            .await
            .map_err(stripe_failed)?;
        tracing::info!(org = %req.org_id, tier = %tier, %interval, trial = trial.is_some(),
            actor = req.actor_user_id.as_deref().unwrap_or(""), session = %session.id, "checkout session created");
        Ok((session, trial))
    }

    /// A Stripe billing-portal session for the org's customer (§11 "Manage").
    pub async fn portal(&self, req: &PortalRequest) -> Result<String, SvcError> {
        if !self.is_ops_url(&req.return_url) {
            return Err(SvcError::invalid(
                422,
                "invalid_url",
                "return_url must be under the ops public base URL",
            ));
        }
        let mut c = self.store.acquire().await?;
        let customer = customers::by_org(&mut c.conn(), req.org_id)
            .await?
            .and_then(|cu| cu.stripe_customer_id)
            .ok_or_else(|| {
                SvcError::invalid(
                    404,
                    "no_billing_account",
                    "the organization has no billing account",
                )
            })?;
        drop(c);
        self.stripe
            .create_billing_portal_session(&customer, &req.return_url)
            .await
            .map_err(stripe_failed)
    }
}
