//! Self-hosted license keys (billing spec §12, §13, L§8): issued by hand (`POST /v1/licenses`,
//! `license-svc license issue`) or by a paid self-hosted subscription, one key per paid period
//! (UNIQUE(`subscription_id`, `exp`)), signed with the `license`-purpose key.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::Tier;
use serde::Deserialize;
use serde_json::{Value, json};
use store::Conn;
use uuid::Uuid;

use crate::db::{audit, customers, licenses, subscriptions};
use crate::service::{Service, SvcError};
use crate::subscription::{Status, tier_grace_days};

/// `POST /v1/licenses` and `license issue`.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueRequest {
    /// Our customer id.
    pub customer_id: Uuid,
    /// `team` or `enterprise`.
    pub tier: String,
    /// Valid for this many days from now…
    #[serde(default)]
    pub days: Option<i64>,
    /// …or until this Unix time.
    #[serde(default)]
    pub exp: Option<i64>,
    /// The deployments it is valid for (L§11 format).
    pub deployment_ids: Vec<String>,
    /// Explicit feature values.
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    /// Explicit limits.
    #[serde(default)]
    pub limits: BTreeMap<String, i64>,
    /// Days of grace after `exp` (default: the tier's).
    #[serde(default)]
    pub grace_days: Option<i64>,
}

fn invalid(code: &'static str, message: impl Into<String>) -> SvcError {
    SvcError::invalid(422, code, message)
}

impl Service {
    /// Signs and stores a key; returns it. `subscription` makes issuance idempotent per period:
    /// a second call for the same `(subscription, exp)` returns the stored key.
    #[allow(clippy::too_many_arguments)]
    async fn sign_license(
        &self,
        conn: &mut Conn<'_>,
        customer: Uuid,
        subscription: Option<&str>,
        tier: Tier,
        exp: i64,
        deployment_ids: Vec<String>,
        features: BTreeMap<String, bool>,
        limits: BTreeMap<String, i64>,
        grace_days: i64,
        issued_by: &str,
        now: DateTime<Utc>,
    ) -> Result<licenses::License, SvcError> {
        if let Some(sub) = subscription
            && let Some(existing) = licenses::for_period(conn, sub, exp).await?
        {
            return Ok(existing);
        }
        let signing = &self.config.signing.license;
        let jti = Uuid::now_v7().to_string();
        let iat = now.timestamp();
        let claims = license::Claims {
            iss: license::claims::ISSUER.to_owned(),
            sub: customer.to_string(),
            jti: jti.clone(),
            iat,
            nbf: None,
            exp,
            tier,
            features: features.clone(),
            limits: limits.clone(),
            deployment_ids: deployment_ids.clone(),
            grace_days,
        };
        let token = license::sign::sign_claims(&claims, &signing.kid, &signing.key);
        let mut l = licenses::License {
            jti: jti.clone(),
            customer_id: customer,
            subscription_id: subscription.map(str::to_owned),
            kid: signing.kid.clone(),
            tier,
            features,
            limits,
            deployment_ids,
            iat,
            exp,
            grace_days,
            token: None,
            status: "active".into(),
            issued_by: issued_by.to_owned(),
        };
        if !licenses::insert(conn, &l, &token, now).await? {
            // A concurrent issuance for the same period won: return its key.
            if let Some(sub) = subscription
                && let Some(existing) = licenses::for_period(conn, sub, exp).await?
            {
                return Ok(existing);
            }
            return Err(SvcError::invalid(
                409,
                "license_exists",
                "that key already exists",
            ));
        }
        if let Some(sub) = subscription {
            licenses::supersede_others(conn, sub, &jti).await?;
        }
        tracing::info!(%customer, %jti, tier = %tier, exp, "license key issued");
        l.token = Some(token);
        Ok(l)
    }

    /// A replacement for `old` with other deployment ids (same tier, limits and end); `old`
    /// becomes superseded and stays valid to its own end. Not tied to the subscription's period
    /// key, so renewals keep working from the customer's stored ids.
    pub(crate) async fn sign_replacement(
        &self,
        conn: &mut Conn<'_>,
        old: &licenses::License,
        deployment_ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<licenses::License, SvcError> {
        let l = self
            .sign_license(
                conn,
                old.customer_id,
                None,
                old.tier,
                old.exp,
                deployment_ids,
                old.features.clone(),
                old.limits.clone(),
                old.grace_days,
                "portal",
                now,
            )
            .await?;
        licenses::mark_superseded(conn, &old.jti).await?;
        Ok(l)
    }

    /// Issues a key by hand (admin API and CLI), audited.
    pub async fn issue_license(
        &self,
        req: &IssueRequest,
        actor: &str,
    ) -> Result<licenses::License, SvcError> {
        let now = self.clock.now();
        let tier: Tier = req
            .tier
            .parse()
            .ok()
            .filter(|t| *t != Tier::Community)
            .ok_or_else(|| invalid("invalid_tier", "tier must be team or enterprise"))?;
        let exp = match (req.days, req.exp) {
            (Some(d), None) if (1..=3660).contains(&d) => now.timestamp() + d * 86_400,
            (None, Some(e)) if e > now.timestamp() => e,
            _ => {
                return Err(invalid(
                    "invalid_exp",
                    "give either days (1-3660) or a future exp",
                ));
            }
        };
        if req.deployment_ids.is_empty()
            || !req
                .deployment_ids
                .iter()
                .all(|d| license::claims::valid_deployment_id(d))
        {
            return Err(invalid(
                "invalid_deployment_ids",
                "deployment_ids: one or more ids of 1-63 lower-case letters, digits, '.', '_' or '-'",
            ));
        }
        for f in req.features.keys() {
            if f.parse::<domain::Feature>().is_err() {
                return Err(invalid("invalid_feature", format!("unknown feature {f:?}")));
            }
        }
        for (k, v) in &req.limits {
            if k.parse::<domain::Limit>().is_err() || *v < -1 {
                return Err(invalid("invalid_limit", format!("bad limit {k:?} = {v}")));
            }
        }
        let grace = req.grace_days.unwrap_or_else(|| tier_grace_days(tier));
        if !(0..=license::claims::MAX_GRACE_DAYS).contains(&grace) {
            return Err(invalid("invalid_grace_days", "grace_days must be 0-90"));
        }
        let mut tx = self.store.begin_write().await?;
        if customers::by_id(&mut tx.conn(), req.customer_id)
            .await?
            .is_none()
        {
            return Err(SvcError::invalid(
                404,
                "unknown_customer",
                "no such customer",
            ));
        }
        let l = self
            .sign_license(
                &mut tx.conn(),
                req.customer_id,
                None,
                tier,
                exp,
                req.deployment_ids.clone(),
                req.features.clone(),
                req.limits.clone(),
                grace,
                actor,
                now,
            )
            .await?;
        audit::append(
            &mut tx.conn(),
            now,
            actor,
            "license.issue",
            &l.jti,
            None,
            Some(
                &json!({"customer_id": l.customer_id, "tier": l.tier.as_str(), "exp": l.exp,
                "deployment_ids": l.deployment_ids}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(l)
    }

    /// Revokes a key, audited.
    pub async fn revoke_license(
        &self,
        jti: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(), SvcError> {
        if reason.trim().is_empty() {
            return Err(invalid("reason_required", "a revocation needs a reason"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        if !licenses::revoke(&mut tx.conn(), jti, reason, now).await? {
            return Err(SvcError::invalid(404, "unknown_license", "no such license"));
        }
        audit::append(
            &mut tx.conn(),
            now,
            actor,
            "license.revoke",
            jti,
            None,
            Some(&json!({"reason": reason})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The key of a self-hosted subscription's current period, issued on first need (§12 step 3
    /// and 5): checkout completion, the success page or a renewal, whichever comes first.
    /// `None` while the subscription does not pay (no key for unpaid periods).
    pub async fn key_for_subscription(
        &self,
        conn: &mut Conn<'_>,
        sub_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<licenses::License>, SvcError> {
        let Some(sub) = subscriptions::lock(conn, sub_id).await? else {
            return Ok(None);
        };
        let o = &sub.sub.state;
        if !matches!(o.status, Status::Active | Status::Trialing) {
            return Ok(None);
        }
        let Some(tier) = o.tier else { return Ok(None) };
        // A revoked key stops the renewals of its subscription (§12 step 8).
        if licenses::subscription_revoked(conn, sub_id).await? {
            return Ok(None);
        }
        let Some(customer) = customers::by_stripe_id(conn, &sub.stripe_customer_id).await? else {
            return Ok(None);
        };
        let price = self.config.prices.by_id(&sub.price_id);
        let features = price
            .map(|p| {
                p.features
                    .iter()
                    .map(|(f, v)| (f.as_str().to_owned(), *v))
                    .collect()
            })
            .unwrap_or_default();
        let limits = price
            .map(|p| {
                p.limits
                    .iter()
                    .map(|(l, v)| (l.as_str().to_owned(), i64::from(*v)))
                    .collect()
            })
            .unwrap_or_default();
        let exp = o
            .trial_end
            .filter(|_| o.status == Status::Trialing)
            .unwrap_or(o.current_period_end);
        let deployment_ids = if customer.deployment_ids.is_empty() {
            vec!["self-hosted".to_owned()]
        } else {
            customer.deployment_ids.clone()
        };
        self.sign_license(
            conn,
            customer.id,
            Some(sub_id),
            tier,
            exp.timestamp(),
            deployment_ids,
            features,
            limits,
            tier_grace_days(tier),
            "stripe",
            now,
        )
        .await
        .map(Some)
    }
}

/// A key as the API shows it (token included only where asked).
pub fn view(l: &licenses::License) -> Value {
    serde_json::to_value(l).unwrap_or(Value::Null)
}
