//! The SaaS entitlement receiver (billing spec §10 steps 2–5): a token pushed by license-svc to
//! `POST /api/v1/license/webhook`, or pulled from it by the billing page's Refresh and
//! `admin billing resync`, is verified without the expiry step, ordered per org by `jti` and
//! `iat` under a lock, stored with the tier mirror and its audit line in one transaction, and
//! then dropped from this replica's snapshots (other replicas follow the version bump).
//!
//! The expiry step is skipped on purpose: a newer token that is already expired must still
//! replace an older, more generous one, and then evaluates as expired.

use chrono::{DateTime, Utc};
use domain::{OrgId, Tier, UserId};
use license::{Claims, Code, Expect, Purpose, Rejected, Verified};
use serde::Serialize;
use store::entitlements::{self as rows, OrgEntitlement};

use super::Mode;
use crate::{App, AppError, ErrorKind, Result};

/// Largest accepted push body (the token size limit of entitlements spec §10 step 1).
pub const MAX_PUSH_BYTES: usize = license::token::MAX_TOKEN_BYTES;

/// The audit actor of every change made by a license-svc token.
const ACTOR: &str = "system:license-svc";

/// How a token reached this server: recorded in the audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Pushed by license-svc to the receiver.
    Push,
    /// Pulled for `org` (billing Refresh, `admin billing resync`); the token must name `org`.
    Pull {
        /// The org the pull was for.
        org: OrgId,
        /// Who asked (none from the CLI).
        by: Option<UserId>,
    },
}

/// What the receiver did with a valid token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Accepted {
    /// Stored: the org now gates on it.
    Applied {
        /// The org.
        org_id: OrgId,
        /// The token's tier.
        tier: Tier,
        /// The tier it gives now (community for a token already past its grace).
        effective_tier: Tier,
        /// The org's entitlement version after the change.
        version: i64,
    },
    /// The stored token has the same `jti`: nothing changed.
    Duplicate,
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// The claims of a stored token for the audit line's "before" (whatever its state now).
fn claims_of(result: &std::result::Result<Verified, Rejected>) -> Option<Claims> {
    match result {
        Ok(v) => Some(v.claims.clone()),
        Err(r) => r.claims.as_deref().cloned(),
    }
}

fn json_of<T: Serialize>(v: Option<&T>) -> String {
    v.and_then(|v| serde_json::to_string(v).ok())
        .unwrap_or_else(|| "null".into())
}

/// 404 `not_found`: the receiver and billing exist only in SaaS mode.
fn saas_only() -> AppError {
    AppError::new(
        ErrorKind::NotFound,
        "not_found",
        "This server runs self-hosted: plans come from the license key (see /settings/license), not from billing.",
    )
}

impl App {
    /// `Ok` in SaaS mode; 404 on a self-hosted instance, which has no receiver and no billing.
    pub fn ensure_saas(&self) -> Result<()> {
        if self.engine().config.mode == Mode::Saas {
            Ok(())
        } else {
            Err(saas_only())
        }
    }

    /// Accepts an entitlement pushed by license-svc (billing spec §10 steps 2–5): 401
    /// `invalid_entitlement` with the refusal `code`, 404 `unknown_org`, 409
    /// `stale_entitlement` with `stored_iat`, else applied or a duplicate.
    pub async fn accept_entitlement(&self, token: &str) -> Result<Accepted> {
        self.accept_token(token, Via::Push).await
    }

    /// Steps 2–5 for a pushed or pulled token.
    pub(crate) async fn accept_token(&self, token: &str, via: Via) -> Result<Accepted> {
        self.ensure_saas()?;
        let engine = self.engine();
        let token = token.trim();
        let now = self.clock().now();
        let floor = self.observe_clock().await?.floor(now);
        let subject = match via {
            Via::Pull { org, .. } => Some(org.to_string()),
            Via::Push => None,
        };
        let expect = |at: DateTime<Utc>| Expect {
            purpose: Purpose::Entitlement,
            deployment_id: &engine.config.deployment_id,
            subject: subject.as_deref(),
            at: at.timestamp(),
        };
        // Step 2: every step of L§10 but the last (expiry).
        let result = license::verify(token, engine.config.anchors, &[], &expect(floor));
        let (claims, kid) = match &result {
            Ok(v) => (v.claims.clone(), v.kid.clone()),
            Err(r) if r.code == Code::Expired && r.claims.is_some() && r.kid.is_some() => (
                r.claims
                    .as_deref()
                    .cloned()
                    .unwrap_or_else(|| unreachable!()),
                r.kid.clone().unwrap_or_default(),
            ),
            Err(r) => return Err(refused(token, r.code.as_str(), r.kid.as_deref(), via)),
        };
        let org: OrgId = claims
            .sub
            .parse()
            .map_err(|_| refused(token, Code::WrongSubject.as_str(), Some(kid.as_str()), via))?;
        let (Some(iat), Some(exp)) = (at(claims.iat), at(claims.exp)) else {
            return Err(refused(
                token,
                Code::BadClaims.as_str(),
                Some(kid.as_str()),
                via,
            ));
        };
        // The tier it gives now, evaluated as the snapshot builder will (t_eval includes iat).
        let t_eval = if result.is_ok() {
            floor.max(iat)
        } else {
            floor
        };
        let effective = domain::entitlement::effective_tier(Some(&license::engine_token(
            &result,
            t_eval.timestamp(),
        )));

        // Steps 3–4, under the org's lock.
        let mut tx = self.store().begin_write().await?;
        let Some((mirrored, stored)) = rows::lock_org_entitlement(&mut tx.conn(), org).await?
        else {
            tx.rollback().await?;
            return Err(AppError::new(
                ErrorKind::NotFound,
                "unknown_org",
                format!("No organization {org} on this deployment."),
            ));
        };
        if let Some(s) = &stored {
            if s.jti == claims.jti {
                tx.rollback().await?;
                return Ok(Accepted::Duplicate);
            }
            if iat <= s.iat {
                tx.rollback().await?;
                return Err(stale(s.iat));
            }
        }
        let row = OrgEntitlement {
            token: token.to_owned(),
            jti: claims.jti.clone(),
            tier: claims.tier,
            iat,
            exp,
            received_at: now,
        };
        if !rows::put_org_entitlement(&mut tx.conn(), org, &row).await? {
            // The lock makes this unreachable; if it ever happens nothing was written.
            tx.rollback().await?;
            return Err(stale(stored.map_or(iat, |s| s.iat)));
        }
        if mirrored != effective {
            rows::mirror_tier(&mut tx.conn(), org, effective, now).await?;
        }
        let scope = org.to_string();
        let version = rows::bump(&mut tx.conn(), &scope).await?;
        tx.commit().await?;
        // Step 5: this replica gates on it at once.
        engine.invalidate(&scope);
        self.forget_billing(org);
        // `/auth/me` shows the org's tier; an expiry the engine notices itself reaches it within
        // the account cache's second.
        self.identity().accounts.clear();

        let before = stored
            .as_ref()
            .map(|s| license::verify(&s.token, engine.config.anchors, &[], &expect(floor)))
            .as_ref()
            .and_then(claims_of);
        let (pulled, by) = match via {
            Via::Push => (false, None),
            Via::Pull { by, .. } => (true, by),
        };
        tracing::info!(
            actor = ACTOR, %org, pulled, requested_by = ?by,
            jti = %claims.jti, kid = %kid, iat = claims.iat, exp = claims.exp,
            before_tier = %mirrored, after_tier = %effective, token_tier = %claims.tier,
            before_features = %json_of(before.as_ref().map(|c| &c.features)),
            after_features = %json_of(Some(&claims.features)),
            before_limits = %json_of(before.as_ref().map(|c| &c.limits)),
            after_limits = %json_of(Some(&claims.limits)),
            version,
            "audit: entitlement.updated"
        );
        Ok(Accepted::Applied {
            org_id: org,
            tier: claims.tier,
            effective_tier: effective,
            version,
        })
    }
}

/// 409 `stale_entitlement`: a token with the same or a later `iat` is in force.
fn stale(stored_iat: DateTime<Utc>) -> AppError {
    AppError::new(
        ErrorKind::Conflict,
        "stale_entitlement",
        "A newer entitlement is already applied for this organization; nothing changed.",
    )
    .with("stored_iat", stored_iat.timestamp())
}

/// 401 `invalid_entitlement` with the refusal code, audited as `license.validation_failed`
/// (the token itself is never logged, only its fingerprint).
fn refused(token: &str, code: &'static str, kid: Option<&str>, via: Via) -> AppError {
    tracing::info!(
        actor = ACTOR,
        pulled = matches!(via, Via::Pull { .. }),
        code,
        kid = ?kid,
        fingerprint = %format!("sha256:{}", license::token::fingerprint(token)),
        "audit: license.validation_failed"
    );
    AppError::new(
        ErrorKind::Unauthenticated,
        "invalid_entitlement",
        format!("The entitlement was refused ({code}); nothing changed."),
    )
    .with("code", code)
}
