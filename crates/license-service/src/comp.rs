//! Comp grants (billing spec §5, §8 [+]): a platform admin's manual tier for an org, bounded in
//! time (≤ 366 days), audited in license-svc, delivered through the same signed push. Reached
//! only with an ops *comp* key, off by default.

use chrono::{DateTime, Duration, Utc};
use domain::Tier;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::db::{audit, entitlements};
use crate::entitlement::Recomputed;
use crate::service::{Service, SvcError};

/// Longest comp grant.
pub const MAX_COMP: Duration = Duration::days(366);

/// `PUT /v1/entitlements/{org}/comp`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompRequest {
    /// `team` or `enterprise`.
    pub tier: String,
    /// When it ends (RFC 3339).
    pub until: DateTime<Utc>,
    /// Why (audited).
    pub reason: String,
    /// Who asked (the platform admin on ops).
    pub actor: String,
}

impl Service {
    /// Grants (`Some`) or removes (`None`) a comp tier; returns the entitlement version after.
    pub async fn set_comp(
        &self,
        org: Uuid,
        req: Option<&CompRequest>,
        actor: &str,
    ) -> Result<i64, SvcError> {
        let now = self.clock.now();
        let comp = match req {
            Some(r) => {
                let tier: Tier = r
                    .tier
                    .parse()
                    .ok()
                    .filter(|t| *t != Tier::Community)
                    .ok_or_else(|| {
                        SvcError::invalid(422, "invalid_tier", "tier must be team or enterprise")
                    })?;
                if r.until <= now || r.until > now + MAX_COMP {
                    return Err(SvcError::invalid(
                        422,
                        "invalid_until",
                        "until must be in the next 366 days",
                    ));
                }
                if r.reason.trim().is_empty() || r.actor.trim().is_empty() {
                    return Err(SvcError::invalid(
                        422,
                        "reason_required",
                        "a comp grant needs a reason and an actor",
                    ));
                }
                Some((tier, r.until, r.reason.trim()))
            }
            None => None,
        };
        let mut tx = self.store.begin_write().await?;
        entitlements::ensure(&mut tx.conn(), org, now).await?;
        let before = entitlements::lock(&mut tx.conn(), org).await?;
        entitlements::set_comp(&mut tx.conn(), org, comp, now).await?;
        let version = match self.recompute(&mut tx.conn(), org, now).await? {
            Recomputed::Signed(v) => v,
            Recomputed::Unchanged => before.as_ref().map_or(0, |b| b.version),
        };
        let who = match req {
            Some(r) if r.actor != actor => format!("{actor} for {}", r.actor),
            _ => actor.to_owned(),
        };
        audit::append(
            &mut tx.conn(),
            now,
            &who,
            if comp.is_some() { "comp.grant" } else { "comp.remove" },
            &org.to_string(),
            before.as_ref().map(|b| json!({"tier": b.tier.as_str(), "comp": b.comp.as_ref().map(|c| json!({"tier": c.0.as_str(), "until": c.1, "reason": c.2}))})).as_ref(),
            Some(&json!({"comp": comp.map(|c| json!({"tier": c.0.as_str(), "until": c.1, "reason": c.2}))})),
        )
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(version)
    }
}
