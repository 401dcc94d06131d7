//! `/settings/license` (entitlements spec §15, web UI spec §7) and the licensing banners of the
//! shared layout (entitlements spec §12).
//!
//! The page reads the same status document as `GET /api/v1/license/status` and the org's
//! snapshot: state badge, licensee and dates, the instance deployment id next to the licensed
//! ids, the feature grid with reasons, limits with usage, warnings, and how to install a key —
//! with an upload form for owners (`license:manage`) that posts to the same service as
//! `POST /api/v1/license`. In SaaS mode plans come from billing, and the page says so.
//!
//! Banners are shown to owners and admins (`license:read`) only; other roles learn about
//! licensing from the UpgradeGate alone.

use app::AppError;
use app::authz::Principal;
use app::entitlements::{LicenseSource, LicenseStatus, Mode, OrgSnapshot};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use domain::permission::marker::{LicenseManage, LicenseRead};
use domain::{Feature, Limit, LimitValue, OrgId, Permission};
use serde::Deserialize;

use super::gate::{feature_copy, show_day, tier_label};
use super::page::{Shell, describe, render, see_other, shell, show_time};
use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

const PATH: &str = "/settings/license";

/// One licensing banner above the main region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Banner {
    /// The warning code it comes from (`license_in_grace`, …).
    pub code: String,
    /// `warning` or `error`.
    pub level: &'static str,
    pub text: String,
    /// Where to act: `(href, label)`.
    pub link: Option<(&'static str, &'static str)>,
}

/// The licensing banners and the License navigation entry for `principal`: nothing for
/// callers without `license:read` (editors, viewers); a failure to read the status shows no
/// banner rather than breaking the page.
pub(crate) async fn shell_extras(state: &AppState, principal: &Principal) -> (Vec<Banner>, bool) {
    let Some((org, _)) = principal.membership else {
        return (Vec::new(), false);
    };
    if !principal.holds(Permission::LicenseRead) {
        return (Vec::new(), false);
    }
    match state.app.license_status(Some(org)).await {
        Ok(status) => (banners(&status), status.mode == Mode::SelfHosted),
        Err(e) => {
            tracing::warn!(error = %e.message, "license status for the banners failed");
            (Vec::new(), false)
        }
    }
}

/// The banners for a status document, from its warnings (entitlements spec §12, §13, §14).
pub(crate) fn banners(status: &LicenseStatus) -> Vec<Banner> {
    let self_hosted = status.mode == Mode::SelfHosted;
    let what = if self_hosted { "license" } else { "plan" };
    let link = if self_hosted {
        Some((PATH, "View license"))
    } else {
        Some(("/settings/billing", "Open billing"))
    };
    let token = status.license.as_ref();
    let tier = tier_label(token.and_then(|t| t.tier).unwrap_or(status.effective_tier));
    let exp = token
        .and_then(|t| t.exp)
        .map_or_else(|| "?".to_owned(), show_day);
    let grace_end = token
        .and_then(|t| t.grace_ends_at)
        .map_or_else(|| "?".to_owned(), show_day);
    let mut out = Vec::new();
    for w in &status.warnings {
        let code = w["code"].as_str().unwrap_or_default();
        let message = w["message"].as_str().unwrap_or_default();
        let (level, text) = match code {
            // In SaaS an `exp` at the end of a billing period is routine: billing reports it.
            "license_expiring" if !self_hosted => continue,
            "license_expiring" => ("warning", format!("Your {tier} license expires on {exp}.")),
            "license_in_grace" => (
                "warning",
                format!(
                    "Your {tier} {what} expired on {exp}; paid features stay on until {grace_end}."
                ),
            ),
            "license_expired" => (
                "error",
                format!("Your {tier} {what} has expired. Paid features are off; your data is kept."),
            ),
            "license_invalid" => (
                "error",
                format!(
                    "The license key was refused: {}. This instance runs as Community.",
                    refusal_words(token.and_then(|t| t.error).unwrap_or("license_invalid"))
                ),
            ),
            // Shown to platform admins on the status page only (spec §12).
            "license_not_yet_valid" => continue,
            "clock_rollback_suspected" => (
                "warning",
                "The system clock is more than 24 hours behind the last time observed; the license is not extended."
                    .to_owned(),
            ),
            "license_reload_failed" => {
                let code = status.reload["error"]["code"]
                    .as_str()
                    .unwrap_or("license_invalid");
                (
                    "error",
                    format!(
                        "The license file could not be applied ({}); the previous license stays in force.",
                        refusal_words(code)
                    ),
                )
            }
            _ => ("warning", message.to_owned()),
        };
        out.push(Banner {
            code: code.to_owned(),
            level,
            text,
            link,
        });
    }
    out
}

/// A refusal code (entitlements spec §10) in plain words, with the code.
pub(crate) fn refusal_words(code: &str) -> String {
    format!("{} ({code})", plain_words(code))
}

/// A refusal code in plain words.
fn plain_words(code: &str) -> &'static str {
    match code {
        "license_malformed" => "not a well-formed license key",
        "license_bad_alg" | "license_bad_header" => "unsupported key format",
        "license_unknown_kid" => "unknown key id",
        "license_bad_signature" => "bad signature",
        "license_bad_claims" => "the key's contents are not valid",
        "license_wrong_issuer" => "wrong issuer",
        "license_revoked" => "the key was revoked",
        "license_not_yet_valid" => "not yet valid",
        "license_issued_in_future" => "issued in the future (the system clock is behind)",
        "license_wrong_deployment" => "this deployment is not listed in the key",
        "license_expired" => "expired beyond its grace period",
        "license_managed_by_env" => "DEV_HEALTH_LICENSE is set and decides the license",
        "license_saas_mode" => "this instance runs in SaaS mode",
        "license_unreadable" => "the file could not be read",
        _ => "the key was refused",
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        "active" => "Active",
        "expiring" => "Expiring",
        "in_grace" => "In grace",
        "expired" => "Expired",
        "invalid" => "Invalid",
        "not_yet_valid" => "Not yet valid",
        _ => "None (community)",
    }
}

fn reason_words(reason: &str, self_hosted: bool) -> &'static str {
    match reason {
        "community_floor" => "Included in every plan",
        "tier_default" => "Included in the tier",
        "license" if self_hosted => "Set by the license",
        "license" => "Set by the plan",
        "in_grace" => "Kept during the grace period",
        "org_override" => "Set by a platform administrator",
        "not_licensed" if self_hosted => "Not included in the license",
        "not_licensed" => "Not included in the plan",
        "license_expired" => "The license has expired",
        "kill_switch" => "Turned off by the operator",
        "storage_error" => "Could not be checked",
        _ => "",
    }
}

fn source_label(source: LicenseSource) -> &'static str {
    match source {
        LicenseSource::Env => "DEV_HEALTH_LICENSE (value)",
        LicenseSource::File => "DEV_HEALTH_LICENSE (file)",
        LicenseSource::Admin => "Installed key",
        LicenseSource::Push => "Billing",
    }
}

struct FeatureRow {
    key: &'static str,
    name: &'static str,
    min_tier: &'static str,
    allowed: bool,
    reason: &'static str,
    reason_text: &'static str,
    /// The feature the visitor came for (`?feature=`).
    asked: bool,
}

/// The applied license as the page shows it.
struct LicenseFacts {
    tier: String,
    licensee: String,
    id: String,
    key_id: String,
    fingerprint: String,
    issued: String,
    expires: String,
    grace_end: String,
    /// "Expires in 21 days", "Grace ends in 5 days", "Expired 3 days ago".
    remaining: String,
    source: &'static str,
    loaded: String,
    /// The refusal in plain words when the key is not usable.
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/license.html")]
struct LicensePage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The refusal code of a failed install.
    error_code: Option<String>,
    self_hosted: bool,
    state: &'static str,
    state_label: &'static str,
    effective_tier: &'static str,
    license: Option<LicenseFacts>,
    deployment_id: String,
    licensed_ids: Vec<String>,
    deployment_mismatch: bool,
    features: Vec<FeatureRow>,
    limits: Vec<String>,
    warnings: Vec<String>,
    can_install: bool,
    /// `DEV_HEALTH_LICENSE` decides the license (an install would be refused).
    managed_by_env: bool,
}

#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    error: Option<String>,
    error_code: Option<String>,
    asked: Option<Feature>,
}

fn day_count(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

/// A limit with its usage (`users 3 / 3`), as the license and billing pages list them.
pub(crate) fn limit_line(limit: Limit, value: LimitValue, usage: &serde_json::Value) -> String {
    let max = match value {
        LimitValue::Unlimited => "unlimited".to_owned(),
        LimitValue::Max(n) => n.to_string(),
    };
    let current = usage[limit.as_str()]["current"].as_i64();
    match (limit, current) {
        (_, Some(c)) => format!("{} {c} / {max}", limit.as_str()),
        (Limit::ApiRate, None) if value != LimitValue::Unlimited => {
            format!("{} {max} requests per minute", limit.as_str())
        }
        (Limit::RetentionDaysMax, None) if value != LimitValue::Unlimited => {
            format!("{} {max} days", limit.as_str())
        }
        (_, None) => format!("{} {max}", limit.as_str()),
    }
}

fn facts(status: &LicenseStatus, now: chrono::DateTime<chrono::Utc>) -> Option<LicenseFacts> {
    let t = status.license.as_ref()?;
    let time = |v: Option<chrono::DateTime<chrono::Utc>>| {
        v.map_or_else(|| "—".to_owned(), |t| show_time(&t.to_rfc3339()))
    };
    let remaining = match (status.state, t.exp, t.grace_ends_at) {
        ("in_grace", _, Some(end)) => {
            format!("Grace ends in {}", day_count((end - now).num_days().max(0)))
        }
        ("expired" | "invalid", Some(exp), _) if exp <= now => {
            format!("Expired {} ago", day_count((now - exp).num_days()))
        }
        (_, Some(_), _) => match status.days_until_exp {
            Some(d) => format!("Expires in {}", day_count(d.max(0))),
            None => String::new(),
        },
        _ => String::new(),
    };
    Some(LicenseFacts {
        tier: t.tier.map_or("—", tier_label).to_owned(),
        licensee: t.sub.clone().unwrap_or_else(|| "—".into()),
        id: t.jti.clone().unwrap_or_else(|| "—".into()),
        key_id: t.kid.clone().unwrap_or_else(|| "—".into()),
        fingerprint: t.fingerprint.clone(),
        issued: time(t.iat),
        expires: time(t.exp),
        grace_end: match (t.grace_ends_at, t.grace_days) {
            (Some(end), Some(days)) => format!(
                "{} ({} of grace)",
                show_time(&end.to_rfc3339()),
                day_count(days)
            ),
            (end, _) => time(end),
        },
        remaining,
        source: source_label(t.source),
        loaded: show_time(&t.loaded_at.to_rfc3339()),
        error: t.error.map(refusal_words),
    })
}

/// Builds the page for `principal` (who holds `license:read`, so has an org).
async fn license_page(
    state: &AppState,
    principal: &Principal,
    org: OrgId,
    extras: Extras,
) -> Result<LicensePage, AppError> {
    let status = state.app.license_status(Some(org)).await?;
    let snapshot: std::sync::Arc<OrgSnapshot> = state.app.entitlements_of(org).await;
    let self_hosted = status.mode == Mode::SelfHosted;
    let now = status.clock.high_water_at.map_or_else(
        || state.app.clock().now(),
        |m| m.max(state.app.clock().now()),
    );
    let licensed_ids = status
        .license
        .as_ref()
        .map(|t| t.deployment_ids.clone())
        .unwrap_or_default();
    let features = snapshot
        .features
        .iter()
        .map(|f| {
            let (name, _) = feature_copy(f.feature);
            FeatureRow {
                key: f.feature.as_str(),
                name,
                min_tier: tier_label(f.min_tier),
                allowed: f.allowed,
                reason: f.reason,
                reason_text: reason_words(f.reason, self_hosted),
                asked: extras.asked == Some(f.feature),
            }
        })
        .collect();
    let limits = snapshot
        .limits
        .iter()
        .map(|(l, v, _)| limit_line(*l, *v, &status.usage))
        .collect();
    let warnings = status
        .warnings
        .iter()
        .filter_map(|w| w["message"].as_str().map(str::to_owned))
        .collect();
    Ok(LicensePage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        shell: shell(state, Some(principal), PATH).await?,
        csrf: crate::authn::csrf_token(state, principal.credential_id),
        notice: extras.notice,
        error: extras.error,
        error_code: extras.error_code,
        self_hosted,
        state: status.state,
        state_label: state_label(status.state),
        effective_tier: tier_label(status.effective_tier),
        license: facts(&status, now),
        deployment_mismatch: !licensed_ids.is_empty()
            && !licensed_ids.contains(&status.deployment_id),
        deployment_id: status.deployment_id,
        licensed_ids,
        features,
        limits,
        warnings,
        can_install: self_hosted && principal.holds(Permission::LicenseManage),
        managed_by_env: status
            .source
            .is_some_and(|s| matches!(s, LicenseSource::Env | LicenseSource::File)),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    done: String,
    feature: Option<String>,
}

/// `GET /settings/license`.
async fn show(
    State(s): State<AppState>,
    Auth(a): Auth<LicenseRead>,
    Query(q): Query<PageQuery>,
) -> Answer {
    let principal = a.principal();
    let extras = Extras {
        notice: (q.done == "installed").then_some("License installed."),
        asked: q.feature.and_then(|f| f.parse().ok()),
        ..Extras::default()
    };
    let page = license_page(&s, principal, principal.org()?, extras).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InstallForm {
    token: String,
}

/// `POST /settings/license`: installs the key (validated before it is applied, and audited by
/// the service); a refusal shows the page again with its code.
async fn install(
    State(s): State<AppState>,
    Auth(a): Auth<LicenseManage>,
    Form(f): Form<InstallForm>,
) -> Answer {
    match s.app.install_license_as(&a, &f.token).await {
        Ok(_) => Ok(see_other(&format!("{PATH}?done=installed"))),
        Err(e) => {
            let principal = a.principal();
            let refused = e.details.get("code").and_then(|c| c.as_str());
            let message = match refused {
                Some(code) => format!("The license key was refused: {}.", plain_words(code)),
                None => describe(&e),
            };
            let extras = Extras {
                error: Some(message),
                error_code: Some(refused.unwrap_or(e.code).to_owned()),
                ..Extras::default()
            };
            let page = license_page(&s, principal, principal.org()?, extras).await?;
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

/// Registers the license page and its install form.
pub(crate) fn routes(r: Routes) -> Routes {
    r.route(
        Surface::Web,
        Method::GET,
        PATH,
        Access::session::<LicenseRead>(),
        get(show),
    )
    .route(
        Surface::Web,
        Method::POST,
        PATH,
        Access::session::<LicenseManage>(),
        post(install),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_are_stated_in_plain_words() {
        assert_eq!(
            refusal_words("license_bad_signature"),
            "bad signature (license_bad_signature)"
        );
        assert_eq!(
            plain_words("license_wrong_deployment"),
            "this deployment is not listed in the key"
        );
        assert!(refusal_words("something_new").ends_with("(something_new)"));
    }

    #[test]
    fn limits_show_usage_against_the_maximum() {
        let usage = serde_json::json!({"users": {"current": 3, "maximum": 3}});
        assert_eq!(
            limit_line(Limit::Users, LimitValue::Max(3), &usage),
            "users 3 / 3"
        );
        assert_eq!(
            limit_line(Limit::Repos, LimitValue::Unlimited, &usage),
            "repos unlimited"
        );
        assert_eq!(
            limit_line(Limit::ApiRate, LimitValue::Max(1000), &usage),
            "api_rate 1000 requests per minute"
        );
    }
}
