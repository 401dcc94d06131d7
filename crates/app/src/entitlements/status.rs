//! The license status document (entitlements spec §15) and decision explanations (§5.4).

use chrono::{DateTime, Utc};
use domain::entitlement::LimitSource;
use domain::{Feature, Limit, OrgId, Tier};
use serde::Serialize;
use serde_json::{Value, json};

use super::clock::ClockView;
use super::instance::{LicenseSource, ReloadError};
use super::snapshot::{OrgSnapshot, TokenView};
use super::{Mode, errors};
use crate::{App, Result};

/// `GET /license/status`.
#[derive(Debug, Clone, Serialize)]
pub struct LicenseStatus {
    /// `self_hosted` or `saas`.
    pub mode: Mode,
    /// This instance's deployment id (compare with `license.deployment_ids`).
    pub deployment_id: String,
    /// Where the applied license came from.
    pub source: Option<LicenseSource>,
    /// When it was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// `none`, `active`, `expiring`, `in_grace`, `expired`, `invalid`, `not_yet_valid`.
    pub state: &'static str,
    /// The tier in force.
    pub effective_tier: Tier,
    /// Whole days until `exp` (negative after it).
    pub days_until_exp: Option<i64>,
    /// The applied license (never the token).
    pub license: Option<TokenView>,
    /// `{code}` when the license is refused.
    pub error: Option<Value>,
    /// The last reload of a license file.
    pub reload: Value,
    /// The clock high-water mark.
    pub clock: ClockView,
    /// Usage against the limits.
    pub usage: Value,
    /// Things an admin should act on.
    pub warnings: Vec<Value>,
}

/// `GET /entitlements/explain`.
#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    /// The org.
    pub org_id: OrgId,
    /// Instance mode.
    pub mode: Mode,
    /// `t_eval`.
    pub evaluated_at: DateTime<Utc>,
    /// Snapshot version and validity.
    pub snapshot: Value,
    /// Effective and token tier.
    pub tier: Value,
    /// The applied token.
    pub token: Option<TokenView>,
    /// One entry per feature asked about (all 16 without `feature`).
    pub features: Vec<Value>,
    /// Every limit with its source and current usage.
    pub limits: Value,
}

fn warning(code: &str, message: String) -> Value {
    json!({ "code": code, "message": message })
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d").to_string())
}

impl App {
    /// The license status. `org` is the caller's org (its usage and, in SaaS mode, its
    /// entitlement); `None` gives the instance view (platform admins without an org).
    pub async fn license_status(&self, org: Option<OrgId>) -> Result<LicenseStatus> {
        let s = match org {
            Some(org) => self.entitlements_of(org).await,
            None => self.instance_entitlements().await,
        };
        if s.storage_error {
            return Err(errors::unavailable());
        }
        let engine = self.engine();
        // The clock is read afresh (without a write): a rollback after the snapshot was built
        // still shows.
        let clock = self.peek_clock().await.unwrap_or(s.clock);
        let (reload_error, checked_at) = engine.instance.reload_state();
        let token = s.token.clone();
        let state = token.as_ref().map_or("none", |t| t.state);
        let mut warnings = Vec::new();
        match state {
            "expiring" => warnings.push(warning(
                "license_expiring",
                format!(
                    "The license expires on {}.",
                    day(token.as_ref().and_then(|t| t.exp))
                ),
            )),
            "in_grace" => warnings.push(warning(
                "license_in_grace",
                format!(
                    "The license expired on {}; paid features stay on until {}.",
                    day(token.as_ref().and_then(|t| t.exp)),
                    day(token.as_ref().and_then(|t| t.grace_ends_at))
                ),
            )),
            "expired" => warnings.push(warning(
                "license_expired",
                "Paid features are off; your data is kept.".into(),
            )),
            "invalid" => warnings.push(warning(
                "license_invalid",
                format!(
                    "The license was refused ({}); running as community.",
                    token
                        .as_ref()
                        .and_then(|t| t.error)
                        .unwrap_or("license_invalid")
                ),
            )),
            "not_yet_valid" => warnings.push(warning(
                "license_not_yet_valid",
                "The license is not valid yet.".into(),
            )),
            _ => {}
        }
        if clock.rollback_detected {
            warnings.push(warning("clock_rollback_suspected", format!(
                "The system clock is {} hours behind the latest time this installation has seen; licenses are evaluated at the later time.",
                clock.behind_by_s.unwrap_or(0) / 3600)));
        }
        if clock.watermark_tampered {
            warnings.push(warning("clock_watermark_tampered", "The stored clock high-water mark does not verify and is ignored; run `dev-health admin license clock-reset --confirm`.".into()));
        }
        if let Some(e) = &reload_error {
            warnings.push(warning("license_reload_failed", format!("The license file could not be applied ({}); the previous license stays in force.", e.code)));
        }
        let usage = self.usage_json(&s).await?;
        Ok(LicenseStatus {
            mode: s.mode,
            deployment_id: engine.config.deployment_id.clone(),
            source: token.as_ref().map(|t| t.source),
            loaded_at: token.as_ref().map(|t| t.loaded_at),
            state,
            effective_tier: s.effective_tier,
            days_until_exp: token
                .as_ref()
                .and_then(|t| t.exp)
                .map(|e| (e - s.evaluated_at).num_days()),
            error: token
                .as_ref()
                .and_then(|t| t.error)
                .map(|c| json!({ "code": c })),
            license: token,
            reload: json!({ "error": reload_error.map(|e: ReloadError| json!({"code": e.code, "at": e.at})), "last_checked_at": checked_at }),
            clock,
            usage,
            warnings,
        })
    }

    /// An org by id or slug (the CLI's `--org`).
    pub async fn resolve_org(&self, id_or_slug: &str) -> Result<OrgId> {
        let mut c = self.store().acquire().await?;
        let found = match id_or_slug.parse::<OrgId>() {
            Ok(id) => store::identity::orgs::by_id(&mut c.conn(), id).await?,
            Err(_) => store::identity::orgs::by_slug(&mut c.conn(), id_or_slug).await?,
        };
        found.map(|o| o.id).ok_or_else(|| {
            crate::AppError::new(
                crate::ErrorKind::NotFound,
                "not_found",
                format!("No organization {id_or_slug:?}."),
            )
        })
    }

    async fn usage_json(&self, s: &OrgSnapshot) -> Result<Value> {
        let mut c = self.store().acquire().await?;
        let u = store::entitlements::usage(&mut c.conn(), s.org_id).await?;
        let users = match s.mode {
            Mode::Saas => u.org_members,
            Mode::SelfHosted => u.deployment_users,
        };
        let max = |l: Limit| i64::from(s.limit(l));
        Ok(json!({
            "users": { "current": users, "maximum": max(Limit::Users) },
            "orgs": { "current": u.deployment_orgs, "maximum": max(Limit::Orgs) },
        }))
    }

    /// Explains the org's decisions: every feature (or one) with the steps that decided it,
    /// and every limit with its source and usage.
    pub async fn explain(&self, org: OrgId, feature: Option<Feature>) -> Result<Explain> {
        let s = self.entitlements_of(org).await;
        let features = Feature::ALL
            .iter()
            .filter(|f| feature.is_none_or(|x| x == **f))
            .map(|&f| explain_feature(&s, f))
            .collect();
        let usage = self.usage_json(&s).await.unwrap_or(Value::Null);
        let limits: serde_json::Map<String, Value> = s
            .limits
            .iter()
            .map(|(l, v, src)| {
                let current = usage.get(l.as_str()).and_then(|u| u.get("current")).cloned();
                (l.as_str().to_owned(), json!({
                    "maximum": i64::from(*v),
                    "current": current,
                    "source": match src { LimitSource::License => "license", LimitSource::TierDefault => "tier_default" },
                }))
            })
            .collect();
        Ok(Explain {
            org_id: org,
            mode: s.mode,
            evaluated_at: s.evaluated_at,
            snapshot: json!({ "version": s.versions.0, "global_version": s.versions.1, "built_at": s.built_at, "valid_until": s.valid_until, "storage_error": s.storage_error }),
            tier: json!({ "effective": s.effective_tier, "token_tier": s.token.as_ref().and_then(|t| t.tier) }),
            token: s.token.clone(),
            features,
            limits: Value::Object(limits),
        })
    }
}

fn explain_feature(s: &OrgSnapshot, f: Feature) -> Value {
    let st = s.feature(f);
    let r = st.reason;
    let override_detail = st.override_.as_ref().map_or_else(
        || "none".to_owned(),
        |o| {
            format!(
                "enabled={} until {} ({})",
                o.enabled,
                o.expires_at
                    .map_or_else(|| "revoked".into(), |t| t.to_rfc3339()),
                o.reason
            )
        },
    );
    let license_detail = s.token.as_ref().map_or_else(
        || "no license".to_owned(),
        |t| match t.features.get(f.as_str()) {
            Some(v) => format!("features.{}={v}, state {}", f.as_str(), t.state),
            None => format!("{} not named; state {}", f.as_str(), t.state),
        },
    );
    // (input, decided here, detail), in precedence order.
    let inputs = [
        (
            "storage",
            r == "storage_error",
            "the inputs could not be read".to_owned(),
        ),
        (
            "kill_switch",
            r == "kill_switch",
            if st.kill_switch_on {
                "enabled"
            } else {
                "disabled by a platform admin"
            }
            .to_owned(),
        ),
        (
            "community_floor",
            r == "community_floor",
            format!("minimum tier {}", f.min_tier()),
        ),
        ("org_override", r == "org_override", override_detail),
        (
            "license",
            matches!(r, "license" | "in_grace" | "license_expired"),
            license_detail,
        ),
        (
            "tier_default",
            matches!(r, "tier_default" | "not_licensed"),
            format!(
                "{} included in {}: {}",
                f.as_str(),
                s.effective_tier,
                f.included_in(s.effective_tier)
            ),
        ),
    ];
    let mut reached = true;
    let steps: Vec<Value> = inputs
        .into_iter()
        .filter(|(input, _, _)| *input != "storage" || s.storage_error)
        .map(|(input, decided, detail)| {
            let outcome = match (reached, decided) {
                (false, _) => "not_reached",
                (true, true) => "decided",
                (true, false) => "pass",
            };
            reached &= !decided;
            json!({ "input": input, "outcome": outcome, "detail": detail })
        })
        .collect();
    json!({ "feature": f, "min_tier": f.min_tier(), "allowed": st.allowed, "reason": r, "steps": steps })
}
