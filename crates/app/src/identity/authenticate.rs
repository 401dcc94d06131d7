//! Turning a presented credential into a [`Principal`] (identity spec §2.2).
//!
//! Session and token state come from a cache that lives under a second (see `cache`), so a
//! revocation on any replica takes effect within one second and this replica's own changes
//! take effect at once.

use auth::throttle::Bucket;
use store::identity::{api_tokens, sessions};

use super::Client;
use super::errors;
use crate::authz::{Credential, Principal};
use crate::{App, Result};

/// The per-org API rate after a token request (`X-RateLimit-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    /// Requests per minute.
    pub limit: u64,
    /// Requests left now.
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_s: u64,
}

/// Last-used timestamps are written at most this often per token.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

impl App {
    /// Authenticates an access JWT: signature, claims, then the live session and membership.
    pub async fn authenticate_access(&self, jwt: &str) -> Result<Principal> {
        let now = self.clock().now();
        let identity = self.identity();
        let claims = match identity.access_tokens.get(jwt) {
            Some(c) => Ok(c),
            None => {
                let c = identity.config.keys.access.verify_signed(jwt);
                if let Ok(c) = &c {
                    identity.access_tokens.put(jwt.to_owned(), c.clone());
                }
                c
            }
        };
        let claims = claims
            .and_then(|c| c.check_times(now).map(|()| c))
            .map_err(|e| {
                tracing::debug!(error = %e, "access token refused");
                errors::invalid_token()
            })?;
        let view = match self.identity().sessions.get(&claims.sid) {
            Some(v) => Some(v),
            None => {
                let mut c = self.store().acquire().await?;
                let v = sessions::view(&mut c.conn(), claims.sid, now, false).await?;
                if let Some(v) = &v {
                    self.identity().sessions.put(claims.sid, v.clone());
                }
                v
            }
        };
        let Some(view) = view else {
            return Err(errors::session_revoked());
        };
        if !view.live
            || !view.user_active
            || view.user_id != claims.sub
            || now >= view.absolute_expires_at
        {
            return Err(errors::session_revoked());
        }
        let membership = match view.org_id {
            None => None,
            Some(org) => match view.role {
                Some(role) => Some((org, role)),
                None => {
                    // Removed from the org: the session cannot continue there.
                    let mut c = self.store().acquire().await?;
                    sessions::revoke(&mut c.conn(), view.id, "membership_removed", now).await?;
                    self.identity().invalidate();
                    return Err(errors::session_revoked());
                }
            },
        };
        Ok(Principal {
            user_id: view.user_id,
            membership,
            platform_admin: view.platform_admin,
            credential: Credential::Session,
            credential_id: view.id,
        })
    }

    /// Authenticates an API token and debits the org's rate bucket.
    pub async fn authenticate_api_token(
        &self,
        token: &str,
        client: &Client,
    ) -> Result<(Principal, RateStatus)> {
        let now = self.clock().now();
        if !auth::token::api_token_is_well_formed(token) {
            return Err(errors::invalid_token());
        }
        let hash = auth::token::sha256_hex(token);
        let t = match self.identity().tokens.get(&hash) {
            Some(t) => t,
            None => {
                let mut c = self.store().acquire().await?;
                let t = api_tokens::by_hash(&mut c.conn(), &hash)
                    .await?
                    .ok_or_else(errors::invalid_token)?;
                self.identity().tokens.put(hash.clone(), t.clone());
                t
            }
        };
        let live = t.revoked_at.is_none() && t.expires_at.is_none_or(|e| now < e) && t.user_active;
        let Some(role) = t.role.filter(|_| live) else {
            return Err(errors::invalid_token());
        };
        let rate = self.api_rate(t.org_id).await?;
        let bucket = Bucket::per_minute(rate);
        let state = self
            .identity()
            .buckets
            .take(format!("org:{}:api", t.org_id), &bucket, now)
            .map_err(|wait| {
                let e = errors::throttled("rate_limited", wait);
                let retry = e.details.get("retry_after_s").cloned().unwrap_or_default();
                e.with("limit", "api_rate")
                    .with("maximum", rate)
                    .with("retry_after", retry)
            })?;
        let remaining = state.tokens.max(0.0).floor() as u64;
        let reset_s = ((bucket.capacity - state.tokens) / bucket.per_second)
            .ceil()
            .max(0.0) as u64;
        if t.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
            let mut c = self.store().acquire().await?;
            let ip = client.ip_text();
            api_tokens::touch(&mut c.conn(), t.id, ip.as_deref(), now).await?;
            let mut fresh = t.clone();
            fresh.last_used_at = Some(now);
            self.identity().tokens.put(hash, fresh);
        }
        Ok((
            Principal {
                user_id: t.user_id,
                membership: Some((t.org_id, role)),
                platform_admin: false,
                credential: Credential::ApiToken {
                    scopes: t.scopes.clone(),
                },
                credential_id: t.id,
            },
            RateStatus {
                limit: u64::from(rate),
                remaining,
                reset_s,
            },
        ))
    }
}
