//! The Stripe webhook algorithm (billing spec §7.1, §7.2): verify the signature over the raw
//! body, read the envelope, drop duplicates, re-fetch the subscription, then — in one
//! transaction with the event row — fold the observation into the subscription, recompute the
//! org's entitlement and enqueue its signed push.
//!
//! The subscription row is the join of every observation stored with its events (see
//! `subscription`), so duplicates and any delivery order end in the same state; the ordering
//! guard is that join's order, evaluated under the row lock.

use chrono::{DateTime, Utc};
use serde_json::Value;
use store::Conn;
use uuid::Uuid;

use crate::db::events::{self, NewEvent, Outcome};
use crate::db::{customers, subscriptions};
use crate::event::{BadEvent, Class, Envelope, SubscriptionObject};
use crate::service::{Service, SvcError};
use crate::stripe_signature::{self, SignatureError};
use crate::subscription::{Status, Subscription};

/// A webhook's answer (200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `{received: true}`, with the recorded outcome.
    Received(Outcome),
    /// `{duplicate: true}`.
    Duplicate,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// 400 with the signature code; nothing stored.
    #[error("{0}")]
    Signature(#[from] SignatureError),
    /// 400 `bad_event`; nothing stored.
    #[error("bad_event: {0}")]
    BadEvent(#[from] BadEvent),
    /// 503: Stripe could not be asked; Stripe redelivers.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: storage failed; the transaction rolled back, Stripe redelivers.
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
}

impl From<SvcError> for WebhookError {
    fn from(e: SvcError) -> WebhookError {
        match e {
            SvcError::Store(e) => WebhookError::Store(e),
            other => WebhookError::Unavailable(other.to_string()),
        }
    }
}

/// What the event says about its subscription, once fetched.
struct Seen {
    object: SubscriptionObject,
    fetched_at: Option<i64>,
}

impl Service {
    /// `POST /webhooks/stripe` after the body-size check.
    pub async fn stripe_webhook(
        &self,
        raw: &[u8],
        signature: Option<&str>,
    ) -> Result<Reply, WebhookError> {
        let now = self.clock.now();
        let secrets: Vec<&[u8]> = self
            .config
            .stripe
            .webhook_secrets
            .iter()
            .map(|s| s.expose().as_bytes())
            .collect();
        if let Err(e) = stripe_signature::verify_within(
            signature.unwrap_or_default(),
            raw,
            &secrets,
            now.timestamp(),
            self.config.stripe.tolerance_s,
        ) {
            metrics::counter!("stripe_signature_failures_total").increment(1);
            self.count_signature_failure(now.timestamp() / 60, e);
            return Err(e.into());
        }
        let envelope = Envelope::parse(raw).inspect_err(|e| {
            tracing::error!(
                alert = true,
                "stripe webhook with a verified signature is unreadable: {e}"
            );
        })?;
        let payload = String::from_utf8_lossy(raw);
        self.process(&envelope, &payload, now).await
    }

    /// A rate-limited log line per refusal (the first 10 a minute) and one alert when a minute
    /// sees more than 10 (§7.1 step 4, §14).
    fn count_signature_failure(&self, minute: i64, e: SignatureError) {
        let n = {
            let mut w = self
                .signature_failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if w.0 != minute {
                *w = (minute, 0);
            }
            w.1 += 1;
            w.1
        };
        match n {
            1..=10 => tracing::warn!(code = e.code(), "stripe webhook refused"),
            11 => tracing::error!(
                alert = true,
                "more than 10 Stripe signature failures this minute"
            ),
            _ => {}
        }
    }

    /// Steps 5–13 for a verified event (also the success page's and the scheduler's polls).
    pub async fn process(
        &self,
        e: &Envelope,
        payload: &str,
        now: DateTime<Utc>,
    ) -> Result<Reply, WebhookError> {
        self.process_event(e, payload, now, false).await
    }

    /// [`Service::process`]; `replace` reprocesses a stored event, replacing its row in the same
    /// transaction (so a failure leaves the old row in place).
    async fn process_event(
        &self,
        e: &Envelope,
        payload: &str,
        now: DateTime<Utc>,
        replace: bool,
    ) -> Result<Reply, WebhookError> {
        let stored = {
            let mut c = self.store.acquire().await?;
            if !replace && events::exists(&mut c.conn(), &e.id).await? {
                return Ok(Reply::Duplicate);
            }
            match e.subscription_id() {
                Some(id) => subscriptions::last_event_created(&mut c.conn(), &id).await?,
                None => None,
            }
        };
        let sub_id = e.subscription_id();
        let live_key = self.config.stripe.live_mode();
        let class = e.class();

        // Steps 7–8, outside the transaction: the ordering pre-check and the re-fetch.
        let mut seen = None;
        let mut detail = None;
        if e.livemode == live_key
            && matches!(
                class,
                Class::Subscription | Class::Invoice | Class::CheckoutCompleted
            )
            && let Some(id) = &sub_id
        {
            // No connection is held while Stripe is asked.
            if stored.is_none_or(|s| s <= e.created) {
                match self.fetch(e, class, id, now).await {
                    Ok(s) => seen = Some(s),
                    Err(FetchFailed::Retry(why)) => return Err(WebhookError::Unavailable(why)),
                    Err(FetchFailed::Error(why)) => detail = Some(why),
                }
            }
        }

        // Step 9 onwards, in one transaction with the event row.
        let mut tx = self.store.begin_write().await?;
        if replace {
            events::delete(&mut tx.conn(), &e.id).await?;
        }
        let inserted = events::insert(
            &mut tx.conn(),
            &NewEvent {
                event_id: &e.id,
                kind: &e.kind,
                created: e.created,
                livemode: e.livemode,
                object_id: e.object_id().as_deref(),
                subscription_id: sub_id.as_deref(),
                received_at: now,
                payload,
            },
        )
        .await?;
        if !inserted {
            return Ok(Reply::Duplicate);
        }
        let (outcome, detail, observation) = if e.livemode != live_key {
            (Outcome::Ignored, Some("other mode".to_owned()), None)
        } else if let Some(why) = detail {
            (Outcome::Error, Some(why), None)
        } else {
            match class {
                Class::Ignored => (Outcome::Ignored, None, None),
                Class::Unhandled => (Outcome::Unhandled, None, None),
                Class::Customer => (
                    self.customer_event(&mut tx.conn(), e, now).await?,
                    None,
                    None,
                ),
                Class::TrialWillEnd => {
                    self.refresh_billing_of_sub(&mut tx.conn(), sub_id.as_deref(), now)
                        .await?;
                    (Outcome::NoChange, None, None)
                }
                Class::Subscription | Class::Invoice | Class::CheckoutCompleted => match seen {
                    // Checkout in payment mode, or the pre-check found it older than the row.
                    None if sub_id.is_none() => {
                        (Outcome::Ignored, Some("no subscription".into()), None)
                    }
                    None => (Outcome::Stale, None, None),
                    Some(seen) => self.apply(&mut tx.conn(), e, class, seen, now).await?,
                },
            }
        };
        events::finish(
            &mut tx.conn(),
            &e.id,
            outcome,
            detail.as_deref(),
            observation.as_ref(),
        )
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        metrics::counter!("stripe_webhook_total", "outcome" => outcome.as_str()).increment(1);
        match outcome {
            Outcome::Unhandled => {
                metrics::counter!("stripe_unhandled_events_total", "type" => e.kind.clone())
                    .increment(1);
                // The alert once per type per day; every event is still recorded and counted.
                // The event is committed: a failed lookup only means one more alert.
                let day = now - chrono::Duration::days(1);
                let seen = match self.store.acquire().await {
                    Ok(mut c) => events::unhandled_seen_since(&mut c.conn(), &e.kind, day, &e.id)
                        .await
                        .unwrap_or(false),
                    Err(_) => false,
                };
                if seen {
                    tracing::info!(event = %e.id, kind = %e.kind, "unhandled Stripe event type (alerted today)");
                } else {
                    tracing::warn!(alert = true, event = %e.id, kind = %e.kind, "unhandled Stripe event type");
                }
            }
            Outcome::Unlinked | Outcome::UnknownPrice | Outcome::UnknownStatus | Outcome::Error => {
                tracing::error!(alert = true, event = %e.id, kind = %e.kind, outcome = outcome.as_str(),
                    detail = detail.as_deref().unwrap_or(""), "Stripe event needs attention");
            }
            _ => {
                tracing::info!(event = %e.id, kind = %e.kind, outcome = outcome.as_str(), "stripe event")
            }
        }
        Ok(Reply::Received(outcome))
    }

    /// Step 8: the subscription as Stripe has it now, or the event's own object.
    async fn fetch(
        &self,
        e: &Envelope,
        class: Class,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Seen, FetchFailed> {
        let own = || {
            (class == Class::Subscription)
                .then(|| SubscriptionObject::parse(&e.object).ok())
                .flatten()
        };
        match self.stripe.get_subscription(id).await {
            Ok(v) => SubscriptionObject::parse(&v)
                .map(|object| Seen {
                    object,
                    fetched_at: Some(now.timestamp()),
                })
                .map_err(|b| FetchFailed::Error(format!("re-fetched subscription: {b}"))),
            Err(err) => {
                metrics::counter!("stripe_api_errors_total").increment(1);
                match own() {
                    Some(object) => Ok(Seen {
                        object,
                        fetched_at: None,
                    }),
                    None if err.is_transient() => Err(FetchFailed::Retry(err.to_string())),
                    None => Err(FetchFailed::Error(err.to_string())),
                }
            }
        }
    }

    /// Steps 10–13 for a subscription's observation.
    async fn apply(
        &self,
        conn: &mut Conn<'_>,
        e: &Envelope,
        class: Class,
        seen: Seen,
        now: DateTime<Utc>,
    ) -> Result<
        (
            Outcome,
            Option<String>,
            Option<crate::subscription::Observation>,
        ),
        WebhookError,
    > {
        let s = &seen.object;
        // Checkout links the customer to the org; the two ids must agree (§7.2).
        if class == Class::CheckoutCompleted && !s.is_self_hosted() {
            let meta = e.object.pointer("/metadata/org_id").and_then(Value::as_str);
            let reference = e.object.get("client_reference_id").and_then(Value::as_str);
            if meta.is_some() && reference.is_some() && meta != reference {
                return Ok((
                    Outcome::Error,
                    Some("metadata.org_id differs from client_reference_id".into()),
                    None,
                ));
            }
            if let Some(org) = meta.or(reference).and_then(|o| o.parse::<Uuid>().ok()) {
                self.link_customer(conn, &s.customer, org, now).await?;
            }
        }
        // Step 11: the org.
        let org = match s.org_id.as_deref().and_then(|o| o.parse::<Uuid>().ok()) {
            Some(o) => Some(o),
            None => customers::by_stripe_id(conn, &s.customer)
                .await?
                .and_then(|c| c.org_id),
        };
        if org.is_none() && !s.is_self_hosted() {
            return Ok((
                Outcome::Unlinked,
                Some(format!("customer {}", s.customer)),
                None,
            ));
        }
        // Step 12: the observation, folded into the row under its lock.
        let tier = self.config.prices.by_id(&s.price_id).map(|p| p.tier);
        let obs = s.observation(e.created, tier, seen.fetched_at);
        let stored = subscriptions::lock(conn, &s.id).await?;
        let mut all = events::observations(conn, &s.id).await?;
        let before = Subscription::from_observations(&all);
        all.push(obs.clone());
        let after = Subscription::from_observations(&all)
            .unwrap_or_else(|| unreachable!("one observation at least"));
        let outcome = if matches!(obs.status, Status::Unknown(_)) {
            Outcome::UnknownStatus
        } else if tier.is_none() {
            Outcome::UnknownPrice
        } else if before.as_ref() == Some(&after) {
            if after.state == obs {
                Outcome::NoChange
            } else {
                Outcome::Stale
            }
        } else {
            Outcome::Applied
        };
        let kept_is_new = after.state == obs;
        let row = subscriptions::SubRow {
            id: s.id.clone(),
            stripe_customer_id: s.customer.clone(),
            org_id: org,
            kind: if s.is_self_hosted() {
                "self_hosted"
            } else {
                "saas"
            }
            .into(),
            price_id: if kept_is_new {
                s.price_id.clone()
            } else {
                stored
                    .as_ref()
                    .map_or_else(|| s.price_id.clone(), |r| r.price_id.clone())
            },
            last_event_created: after.state.created,
            last_event_id: if kept_is_new {
                e.id.clone()
            } else {
                stored
                    .as_ref()
                    .map_or_else(|| e.id.clone(), |r| r.last_event_id.clone())
            },
            sub: after,
        };
        if stored.as_ref() != Some(&row) {
            subscriptions::put(conn, &row, now).await?;
        }
        if let Some(org) = org {
            if row.sub.state.status == Status::Trialing {
                customers::mark_trial_used(conn, org, now).await?;
            }
            self.recompute(conn, org, now).await?;
        } else if s.is_self_hosted() {
            // The paid period's key (§12 steps 3 and 5); idempotent per (subscription, exp).
            self.key_for_subscription(conn, &s.id, now).await?;
        }
        Ok((outcome, None, Some(obs)))
    }

    /// Links a Stripe customer to an org, creating our customer row when Stripe made it.
    async fn link_customer(
        &self,
        conn: &mut Conn<'_>,
        stripe_id: &str,
        org: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        if customers::by_stripe_id(conn, stripe_id).await?.is_some()
            || customers::by_org(conn, org).await?.is_some()
        {
            return Ok(());
        }
        customers::insert(
            conn,
            &customers::Customer {
                id: Uuid::now_v7(),
                stripe_customer_id: Some(stripe_id.to_owned()),
                kind: "saas".into(),
                org_id: Some(org),
                email: String::new(),
                name: String::new(),
                deployment_ids: Vec::new(),
                trial_used_at: None,
            },
            now,
        )
        .await?;
        Ok(())
    }

    /// `customer.created|updated|deleted` (§7.2).
    async fn customer_event(
        &self,
        conn: &mut Conn<'_>,
        e: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Outcome, WebhookError> {
        let Some(id) = e.object_id() else {
            return Ok(Outcome::Error);
        };
        if e.kind == "customer.deleted" {
            customers::mark_deleted(conn, &id, now).await?;
            return Ok(Outcome::Applied);
        }
        let org = e
            .object
            .pointer("/metadata/org_id")
            .and_then(Value::as_str)
            .and_then(|o| o.parse::<Uuid>().ok());
        if let Some(org) = org {
            self.link_customer(conn, &id, org, now).await?;
        }
        // Keep the contact details Stripe holds (the customer edits them in Stripe's portal).
        let text = |k: &str| {
            e.object
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let updated =
            customers::update_contact(conn, &id, text("email"), text("name"), now).await?;
        Ok(if org.is_some() || updated {
            Outcome::Applied
        } else {
            Outcome::NoChange
        })
    }

    /// `trial_will_end`: the billing summary may say more now; the entitlement does not change.
    async fn refresh_billing_of_sub(
        &self,
        conn: &mut Conn<'_>,
        sub_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let Some(id) = sub_id else { return Ok(()) };
        if let Some(org) = subscriptions::lock(conn, id).await?.and_then(|s| s.org_id) {
            self.recompute(conn, org, now).await?;
        }
        Ok(())
    }
}

enum FetchFailed {
    /// Stripe is unreachable and the event carries no usable subscription: 503.
    Retry(String),
    /// A deterministic failure: outcome `error`.
    Error(String),
}

impl Service {
    /// `events reprocess <id>`: processes a stored event's payload again (its signature was
    /// verified when it first arrived), audited.
    pub async fn reprocess(&self, event_id: &str, actor: &str) -> Result<String, SvcError> {
        let now = self.clock.now();
        let payload = {
            let mut c = self.store.acquire().await?;
            events::payload(&mut c.conn(), event_id)
                .await?
                .ok_or_else(|| {
                    SvcError::invalid(
                        404,
                        "unknown_event",
                        "no such event (or its payload was purged)",
                    )
                })?
        };
        let envelope = Envelope::parse(payload.as_bytes())
            .map_err(|e| SvcError::invalid(422, "bad_event", e.to_string()))?;
        let reply = self.process_event(&envelope, &payload, now, true).await;
        let mut c = self.store.acquire().await?;
        crate::db::audit::append(
            &mut c.conn(),
            now,
            actor,
            "events.reprocess",
            event_id,
            None,
            None,
        )
        .await?;
        match reply {
            Ok(Reply::Received(o)) => Ok(o.as_str().to_owned()),
            Ok(Reply::Duplicate) => Ok("duplicate".to_owned()),
            Err(e) => Err(SvcError::Unavailable(e.to_string())),
        }
    }
}
