//! Changing the inputs (entitlements spec §5.1, §14): kill switches and org overrides (platform
//! admins, with a reason) and installing the instance license (SaaS entitlements arrive through
//! `receiver`).
//! Each change bumps its version row in the same transaction and drops this replica's
//! snapshots at once; other replicas follow within a second.

use chrono::{DateTime, Utc};
use domain::permission::marker::{LicenseManage, PlatformFeatureFlags, PlatformFeatureOverrides};
use domain::{Feature, OrgId, UserId};
use serde::{Deserialize, Serialize};
use store::entitlements::{self as rows, GLOBAL, InstalledLicense, OverrideRow};
use store::identity::orgs;

use super::Mode;
use crate::authz::Authorized;
use crate::{App, AppError, ErrorKind, Result};

/// `PUT /platform/feature-flags/{feature}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchInput {
    /// false turns the feature off everywhere.
    pub enabled: bool,
    /// Why (required, audited).
    pub reason: String,
}

/// `PUT /platform/orgs/{org_id}/overrides/{feature}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// Grant or deny.
    pub enabled: bool,
    /// When it stops applying (must be in the future).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Why (required, audited).
    pub reason: String,
}

/// An override as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OverrideView {
    /// Feature key.
    pub feature: String,
    /// Grant or deny.
    pub enabled: bool,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why.
    pub reason: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn bad(code: &'static str, message: String) -> AppError {
    AppError::new(ErrorKind::BadRequest, code, message)
}

fn feature(key: &str) -> Result<Feature> {
    key.parse().map_err(|e: domain::UnknownValue| {
        AppError::new(ErrorKind::NotFound, "unknown_feature", e.to_string()).with("feature", key)
    })
}

fn reason(text: &str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > 500 {
        return Err(AppError::new(
            ErrorKind::Invalid,
            "invalid_field",
            "reason: give a reason of 1 to 500 characters; it is kept in the audit trail.",
        )
        .with("field", "reason"));
    }
    Ok(t.to_owned())
}

impl App {
    async fn commit_change(&self, tx: store::Tx, scope: &str) -> Result<()> {
        tx.commit().await?;
        self.engine().invalidate(scope);
        Ok(())
    }

    /// Sets a kill switch (platform admins).
    pub async fn set_kill_switch(
        &self,
        auth: &Authorized<PlatformFeatureFlags>,
        key: &str,
        input: KillSwitchInput,
    ) -> Result<()> {
        let f = feature(key)?;
        let why = reason(&input.reason)?;
        let by = auth.principal().user_id;
        let mut tx = self.store().begin().await?;
        let before = rows::set_kill_switch(
            &mut tx.conn(),
            f.as_str(),
            input.enabled,
            Some(by),
            self.clock().now(),
        )
        .await?;
        rows::bump(&mut tx.conn(), GLOBAL).await?;
        self.commit_change(tx, GLOBAL).await?;
        tracing::info!(actor = %by, feature = f.as_str(), before = ?before, after = input.enabled, reason = %why, "audit: feature_flag.updated");
        Ok(())
    }

    /// Creates or replaces an org override (platform admins). Self-hosted instances accept only
    /// denials, and only the kill switch can turn off a community feature.
    pub async fn put_override(
        &self,
        auth: &Authorized<PlatformFeatureOverrides>,
        org: OrgId,
        key: &str,
        input: OverrideInput,
    ) -> Result<OverrideView> {
        let f = feature(key)?;
        let why = reason(&input.reason)?;
        let now = self.clock().now();
        if f.is_community() {
            return Err(bad(
                "override_not_allowed",
                format!("{f} is a community feature; only the kill switch can turn it off."),
            ));
        }
        if input.enabled && self.engine().config.mode == Mode::SelfHosted {
            return Err(bad(
                "override_grant_not_allowed",
                "Self-hosted overrides can only deny a feature; paid features come from the license.".into(),
            ));
        }
        if input.expires_at.is_some_and(|at| at <= now) {
            return Err(AppError::new(
                ErrorKind::Invalid,
                "invalid_field",
                "expires_at: must be in the future.",
            )
            .with("field", "expires_at"));
        }
        let by = auth.principal().user_id;
        let mut tx = self.store().begin().await?;
        orgs::by_id(&mut tx.conn(), org).await?.ok_or_else(|| {
            AppError::new(ErrorKind::NotFound, "not_found", "No such organization.")
        })?;
        let before = rows::overrides(&mut tx.conn(), org)
            .await?
            .into_iter()
            .find(|o| o.feature == f.as_str());
        let row = OverrideRow {
            feature: f.as_str().to_owned(),
            enabled: input.enabled,
            expires_at: input.expires_at,
            reason: why.clone(),
            updated_at: now,
        };
        rows::put_override(&mut tx.conn(), org, &row, Some(by)).await?;
        let scope = org.to_string();
        rows::bump(&mut tx.conn(), &scope).await?;
        self.commit_change(tx, &scope).await?;
        tracing::info!(actor = %by, %org, feature = f.as_str(), before = ?before.map(|b| b.enabled), after = input.enabled, reason = %why, "audit: org_feature_override.updated");
        Ok(view(row))
    }

    /// Deletes an org override (platform admins).
    pub async fn delete_override(
        &self,
        auth: &Authorized<PlatformFeatureOverrides>,
        org: OrgId,
        key: &str,
    ) -> Result<()> {
        let f = feature(key)?;
        let mut tx = self.store().begin().await?;
        if !rows::delete_override(&mut tx.conn(), org, f.as_str()).await? {
            return Err(AppError::new(
                ErrorKind::NotFound,
                "not_found",
                "No such override.",
            ));
        }
        let scope = org.to_string();
        rows::bump(&mut tx.conn(), &scope).await?;
        self.commit_change(tx, &scope).await?;
        tracing::info!(actor = %auth.principal().user_id, %org, feature = f.as_str(), "audit: org_feature_override.deleted");
        Ok(())
    }

    /// An org's overrides (platform admins).
    pub async fn list_overrides(
        &self,
        _auth: &Authorized<PlatformFeatureOverrides>,
        org: OrgId,
    ) -> Result<Vec<OverrideView>> {
        let mut c = self.store().acquire().await?;
        Ok(rows::overrides(&mut c.conn(), org)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// `POST /license` (owners).
    pub async fn install_license_as(
        &self,
        auth: &Authorized<LicenseManage>,
        token: &str,
    ) -> Result<super::TokenView> {
        self.install_license(token, Some(auth.principal().user_id))
            .await
    }

    /// Installs the instance license (self-hosted, `DEV_HEALTH_LICENSE` unset): verified first,
    /// then stored with a global version bump, so every replica switches within a second.
    /// Also `dev-health admin license install`.
    pub async fn install_license(
        &self,
        token: &str,
        by: Option<UserId>,
    ) -> Result<super::TokenView> {
        let engine = self.engine();
        if engine.config.mode == Mode::Saas {
            return Err(AppError::new(
                ErrorKind::Conflict,
                "license_saas_mode",
                "This instance runs in SaaS mode; organizations get their plan from billing.",
            ));
        }
        if engine.instance.managed_by_env() {
            return Err(AppError::new(
                ErrorKind::Conflict,
                "license_managed_by_env",
                "DEV_HEALTH_LICENSE is set and is authoritative; replace the key there (a file is re-read on change).",
            ));
        }
        let token = token.trim();
        let now = self.clock().now();
        let at = self.observe_clock().await?.floor(now);
        let verified = engine.verify_instance(token, at).map_err(|r| {
            AppError::new(
                ErrorKind::Invalid,
                "license_invalid",
                format!("The license key was refused: {r}."),
            )
            .with("code", r.code.as_str())
        })?;
        let installed = InstalledLicense {
            token: token.to_owned(),
            jti: verified.claims.jti.clone(),
            loaded_at: now,
        };
        let mut tx = self.store().begin().await?;
        let before = rows::installed_license(&mut tx.conn())
            .await?
            .map(|b| b.jti);
        rows::install_license(&mut tx.conn(), &installed, by).await?;
        rows::bump(&mut tx.conn(), GLOBAL).await?;
        self.commit_change(tx, GLOBAL).await?;
        tracing::info!(
            actor = ?by, jti = %verified.claims.jti, tier = %verified.claims.tier,
            exp = verified.claims.exp, before = ?before,
            "audit: {}", if before.is_none() { "license.installed" } else { "license.replaced" }
        );
        let applied = super::instance::Applied {
            token: installed.token,
            source: super::LicenseSource::Admin,
            loaded_at: now,
        };
        Ok(super::snapshot::token_view(
            &applied,
            &Ok(verified),
            at.timestamp(),
        ))
    }
}

fn view(r: OverrideRow) -> OverrideView {
    OverrideView {
        feature: r.feature,
        enabled: r.enabled,
        expires_at: r.expires_at,
        reason: r.reason,
        updated_at: r.updated_at,
    }
}
