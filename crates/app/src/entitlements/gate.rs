//! The gates (entitlements spec §5.5): every surface — HTTP routes, services, workers, the CLI —
//! asks these methods, which read the org's snapshot.

use std::sync::Arc;

use domain::{Feature, Limit, LimitValue, OrgId};

use super::clock::{self, ClockView};
use super::errors;
use super::snapshot::{Engine, OrgSnapshot};
use crate::{App, Result};

impl App {
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The org's snapshot. Never fails: when the inputs cannot be read it is the fail-safe
    /// answer (community features on, paid features `storage_error`).
    pub async fn entitlements_of(&self, org: OrgId) -> Arc<OrgSnapshot> {
        let now = self.clock().now();
        match self.engine.cached(now, org) {
            Some(s) => s,
            // Boxed: the rebuild's large future is only built on a miss.
            None => Box::pin(self.engine.rebuild(self.store(), now, org)).await,
        }
    }

    /// The instance's own snapshot (no org: no overrides), for deployment-wide limits such as
    /// `orgs` on a self-hosted install, where the instance license covers every org.
    pub async fn instance_entitlements(&self) -> Arc<OrgSnapshot> {
        self.entitlements_of(OrgId::from_uuid(uuid::Uuid::nil()))
            .await
    }

    /// `require(org, feature)`: `Ok` when allowed, else the §6 refusal (402, 403 or 503).
    pub async fn require(&self, org: OrgId, feature: Feature) -> Result<()> {
        let s = self.entitlements_of(org).await;
        let f = s.feature(feature);
        if f.allowed {
            Ok(())
        } else {
            Err(errors::denied(feature, f.decision, s.effective_tier))
        }
    }

    /// `ensure_limit` for callers outside a transaction (see [`OrgSnapshot::ensure_limit`]).
    pub async fn ensure_limit(
        &self,
        org: OrgId,
        limit: Limit,
        current: u64,
        requested: u64,
    ) -> Result<()> {
        self.entitlements_of(org)
            .await
            .ensure_limit(limit, current, requested)
    }

    /// The org's API rate per minute; 402 `feature_not_licensed` (`api_access`) when API
    /// access is denied or the rate is 0. The one answer for token creation and token use.
    pub(crate) async fn api_rate(&self, org: OrgId) -> Result<u32> {
        let s = self.entitlements_of(org).await;
        let f = s.feature(Feature::ApiAccess);
        if !f.allowed {
            return Err(errors::denied(
                Feature::ApiAccess,
                f.decision,
                s.effective_tier,
            ));
        }
        match s.limit(Limit::ApiRate) {
            LimitValue::Max(0) => Err(errors::denied(
                Feature::ApiAccess,
                domain::entitlement::Decision {
                    allowed: false,
                    reason: domain::entitlement::Reason::NotLicensed,
                },
                s.effective_tier,
            )),
            LimitValue::Max(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            LimitValue::Unlimited => Ok(u32::MAX),
        }
    }

    /// Re-reads the `DEV_HEALTH_LICENSE` file (on change, or always with `force`: `SIGHUP`,
    /// `admin license reload`); drops every snapshot when the applied license changed.
    pub fn reload_license_file(&self, force: bool) -> bool {
        let engine = &self.engine;
        let now = self.clock().now();
        let check = |token: &str| -> std::result::Result<(), String> {
            match engine.verify_instance(token, now) {
                Ok(v) if license::ladder::state(&v.claims, now.timestamp()).usable() => Ok(()),
                Ok(_) => Err("license_not_yet_valid".into()),
                Err(r) => Err(r.code.as_str().into()),
            }
        };
        let changed = engine.instance.reload(force, now, &check);
        if changed {
            engine.invalidate(store::entitlements::GLOBAL);
        }
        changed
    }

    /// Raises the clock mark to this replica's wall clock and returns the verified view.
    pub async fn observe_clock(&self) -> Result<ClockView> {
        let mut c = self.store().acquire().await?;
        Ok(clock::observe(&mut c.conn(), self.engine.clock_key(), self.clock().now()).await?)
    }

    /// The verified clock view, without raising the mark.
    pub(crate) async fn peek_clock(&self) -> Result<ClockView> {
        let mut c = self.store().acquire().await?;
        Ok(clock::peek(&mut c.conn(), self.engine.clock_key(), self.clock().now()).await?)
    }

    /// `admin license clock-reset --confirm`: sets the mark to this machine's clock (repairs a
    /// mark poisoned by a clock that was once far ahead, or one whose MAC no longer verifies).
    /// Returns the mark before.
    pub async fn reset_clock(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let before = clock::reset(&mut tx.conn(), self.engine.clock_key(), now).await?;
        store::entitlements::bump(&mut tx.conn(), store::entitlements::GLOBAL).await?;
        tx.commit().await?;
        self.engine.invalidate(store::entitlements::GLOBAL);
        tracing::info!(before = ?before, after = %now, "audit: license.clock_reset");
        Ok(before)
    }
}

impl OrgSnapshot {
    /// `ensure_limit`: refuses `requested` more when `current + requested` exceeds `limit`
    /// (402 `limit_exceeded`). The caller counts `current` inside the transaction that holds the
    /// org's lock, so concurrent additions cannot overshoot; the snapshot is read before that
    /// transaction, because building one needs its own connection.
    pub fn ensure_limit(&self, limit: Limit, current: u64, requested: u64) -> Result<()> {
        match self.limit(limit) {
            LimitValue::Max(max) if current.saturating_add(requested) > max => {
                tracing::info!(org = %self.org_id, limit = limit.as_str(), current, maximum = max, "limit.exceeded");
                Err(errors::limit_exceeded(
                    limit,
                    current,
                    max,
                    requested,
                    self.effective_tier,
                ))
            }
            _ => Ok(()),
        }
    }
}
