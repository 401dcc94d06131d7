//! Recomputing an org's entitlement and enqueueing its signed push (billing spec §8, §9), inside
//! the caller's transaction: the webhook, the scheduler, comp grants and `entitlements push`.

use chrono::{DateTime, Utc};
use store::Conn;
use uuid::Uuid;

use crate::compute::{self, Comp};
use crate::db::entitlements::{self, EntRow};
use crate::db::{outbox, subscriptions};
use crate::service::{Service, SvcError};

/// What a recomputation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recomputed {
    /// A new token was signed and enqueued; the new version.
    Signed(i64),
    /// Nothing signed (only the billing summary may have changed).
    Unchanged,
}

impl Service {
    /// Recomputes `org` at `now`; signs and enqueues only when the signed part changed (or
    /// `force`, for `entitlements push`). Call inside a write transaction.
    pub async fn recompute_with(
        &self,
        conn: &mut Conn<'_>,
        org: Uuid,
        now: DateTime<Utc>,
        force: bool,
    ) -> Result<Recomputed, SvcError> {
        entitlements::ensure(conn, org, now).await?;
        let stored = entitlements::lock(conn, org).await?;
        let subs = subscriptions::by_org(conn, org).await?;
        let comp = stored.as_ref().and_then(|s| {
            s.comp.as_ref().map(|(tier, until, _)| Comp {
                tier: *tier,
                until: *until,
            })
        });
        let c = compute::compute(
            &subs,
            comp.as_ref(),
            &self.config.prices,
            self.config.graces(),
            now,
        );
        let changed = stored
            .as_ref()
            .is_none_or(|s| signed_part(s) != c.signed_part());
        if !changed && !force {
            if let Some(s) = stored.filter(|s| s.billing != c.billing) {
                entitlements::put(
                    conn,
                    &EntRow {
                        billing: c.billing,
                        ..s
                    },
                    now,
                )
                .await?;
            }
            return Ok(Recomputed::Unchanged);
        }
        let last_iat = stored.as_ref().map_or(0, |s| s.last_iat);
        let iat = compute::next_iat(now, last_iat);
        let signing = &self.config.signing.entitlement;
        let mut last_jti = String::new();
        for r in &self.config.ops.receivers {
            let (jti, token) =
                compute::sign(&c, org, &r.deployment_id, iat, &signing.kid, &signing.key);
            outbox::enqueue(conn, org, &r.deployment_id, &jti, iat, &token, now).await?;
            last_jti = jti;
        }
        let version = stored.as_ref().map_or(0, |s| s.version) + 1;
        let row = EntRow {
            org_id: org,
            tier: c.tier,
            features: c.features.clone(),
            limits: c.limits.clone(),
            exp: c.exp,
            grace_days: c.grace_days,
            billing: c.billing.clone(),
            version,
            last_iat: iat,
            last_jti,
            comp: stored.and_then(|s| s.comp),
        };
        entitlements::put(conn, &row, now).await?;
        tracing::info!(%org, tier = %c.tier, version, iat, "entitlement signed");
        Ok(Recomputed::Signed(version))
    }

    /// [`Service::recompute_with`] without forcing.
    pub async fn recompute(
        &self,
        conn: &mut Conn<'_>,
        org: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Recomputed, SvcError> {
        self.recompute_with(conn, org, now, false).await
    }

    /// The org's stored entitlement and the last token pushed for `deployment_id`
    /// (`GET /v1/entitlements/{org}`, the pull repair): ops answers `duplicate` when it has it
    /// and applies it when the push was lost.
    pub async fn current(
        &self,
        org: Uuid,
        deployment_id: &str,
    ) -> Result<Option<(EntRow, Option<String>)>, SvcError> {
        let mut c = self.store.acquire().await?;
        let Some(row) = entitlements::get(&mut c.conn(), org).await? else {
            return Ok(None);
        };
        let token = outbox::latest_token(&mut c.conn(), org, deployment_id).await?;
        Ok(Some((row, token)))
    }
}

fn signed_part(s: &EntRow) -> compute::SignedPart<'_> {
    (s.tier, &s.features, &s.limits, s.exp, s.grace_days)
}
