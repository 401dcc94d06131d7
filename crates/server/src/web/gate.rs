//! The UpgradeGate (entitlements spec §5.5, web UI spec §5): what a page shows instead of a
//! paid feature the org may not use — the feature, the tier it needs, the tier in force, and an
//! action chosen by reason, role and deployment mode.
//!
//! A gated page asks [`require`] before it reads any data; a web handler that gets a §6 refusal
//! from a service hands it to [`refusal`]. Both answer with the gate page (or, for htmx, the
//! gate fragment) under the refusal's status: 402 for `not_licensed`/`license_expired`, 403 for
//! a kill switch or an org override, 503 when licensing could not be checked. Any other error
//! goes on to the ordinary error page.

use app::authz::{Credential, Principal};
use app::entitlements::{Mode, OrgSnapshot};
use app::{AppError, ErrorKind};
use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::{Feature, Role, Tier};

use super::page::{Shell, render, shell};
use crate::assets::Assets;
use crate::{ApiError, AppState};

/// `{Feature}` and `{Value}` of web UI spec §5: the name a page uses and one sentence of what
/// it brings.
pub(crate) fn feature_copy(feature: Feature) -> (&'static str, &'static str) {
    use Feature::*;
    match feature {
        BasicAnalytics => (
            "Analytics",
            "Commit, pull request and cycle-time metrics for your repositories.",
        ),
        GitSync => (
            "Git sync",
            "Sync GitHub, GitLab and local git repositories.",
        ),
        WorkItemSync => ("Work item sync", "Sync Jira, Linear and GitHub Issues."),
        GrafanaDashboards => (
            "Grafana dashboards",
            "Ready-made Grafana dashboards over your data.",
        ),
        MultiOrg => (
            "More organizations",
            "Run separate organizations with their own members and data.",
        ),
        ApiAccess => (
            "API tokens",
            "Read your metrics from scripts with API tokens.",
        ),
        Webhooks => (
            "Webhooks",
            "Get signed notifications when syncs finish or thresholds are crossed.",
        ),
        CapacityPlanning => (
            "Capacity forecast",
            "Forecast delivery dates from your team's real throughput with Monte Carlo simulation.",
        ),
        InvestmentView => (
            "Investment distribution",
            "See how engineering effort splits across features, operations, maintenance, quality and risk.",
        ),
        SsoSaml => (
            "Single sign-on (SAML)",
            "Let members sign in through your identity provider.",
        ),
        SsoOidc => (
            "Single sign-on (OIDC)",
            "Let members sign in through your identity provider.",
        ),
        AuditLog => ("Audit log", "Review who changed what."),
        DataRetention => ("Retention policies", "Control how long data is kept."),
        IpAllowlist => ("IP allowlist", "Limit access to your networks."),
        EmailSupport => ("Email support", "Reach the support team by email."),
        PrioritySupport => (
            "Priority support",
            "A support channel with a service-level agreement.",
        ),
    }
}

/// A tier as pages name it: `Community`, `Team`, `Enterprise`.
pub(crate) fn tier_label(tier: Tier) -> &'static str {
    match tier {
        Tier::Community => "Community",
        Tier::Team => "Team",
        Tier::Enterprise => "Enterprise",
    }
}

/// A date as banners and gates state it: `12 Mar 2025`.
pub(crate) fn show_day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %b %Y").to_string()
}

/// A denied decision, as the gates report it (the §6 refusal body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denial {
    pub feature: Feature,
    /// `not_licensed`, `license_expired`, `kill_switch`, `org_override` or `storage_error`.
    pub reason: String,
    pub current_tier: Tier,
}

impl Denial {
    /// The denial a §6 refusal describes: 402 `feature_not_licensed`, 403 `feature_disabled`,
    /// or 503 `entitlements_unavailable` (which names no feature, so the caller's `feature` is
    /// used). `None` for any other error.
    pub(crate) fn of_error(e: &AppError, feature: Option<Feature>) -> Option<Denial> {
        let named = e
            .details
            .get("feature")
            .and_then(|v| v.as_str())
            .and_then(|f| f.parse::<Feature>().ok())
            .or(feature);
        let current_tier = e
            .details
            .get("current_tier")
            .and_then(|v| v.as_str())
            .and_then(|t| t.parse::<Tier>().ok())
            .unwrap_or(Tier::Community);
        let reason = e
            .details
            .get("reason")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let reason = match (e.kind, e.code) {
            (ErrorKind::PaymentRequired, "feature_not_licensed") => {
                reason.unwrap_or_else(|| "not_licensed".into())
            }
            (ErrorKind::Forbidden, "feature_disabled") => {
                reason.unwrap_or_else(|| "kill_switch".into())
            }
            (ErrorKind::Unavailable, "entitlements_unavailable") => "storage_error".into(),
            _ => return None,
        };
        Some(Denial {
            feature: named?,
            reason,
            current_tier,
        })
    }

    /// The status the gate is served with.
    pub(crate) fn status(&self) -> StatusCode {
        match self.reason.as_str() {
            "kill_switch" | "org_override" => StatusCode::FORBIDDEN,
            "storage_error" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::PAYMENT_REQUIRED,
        }
    }
}

/// Who is looking and where: the inputs that pick the gate's text besides the denial.
#[derive(Debug, Clone, Default)]
pub(crate) struct Viewer {
    /// Self-hosted (`Get a license`) or SaaS (`Upgrade`).
    pub self_hosted: bool,
    /// Owners and admins get an action; other roles are asked to see an admin.
    pub manager: bool,
    /// The license or plan in force (for `license_expired`): its tier and expiry.
    pub license_tier: Option<Tier>,
    pub license_exp: Option<chrono::DateTime<chrono::Utc>>,
    /// The page to retry (503).
    pub here: String,
}

impl Viewer {
    /// The viewer for `principal` in an org whose snapshot is `snapshot`.
    pub(crate) fn of(principal: Option<&Principal>, snapshot: &OrgSnapshot, here: &str) -> Self {
        let manager = principal
            .and_then(|p| p.membership)
            .is_some_and(|(_, role)| matches!(role, Role::Owner | Role::Admin));
        let token = snapshot.token.as_ref();
        Viewer {
            self_hosted: snapshot.mode == Mode::SelfHosted,
            manager,
            license_tier: token.and_then(|t| t.tier),
            license_exp: token.and_then(|t| t.exp),
            here: here.to_owned(),
        }
    }
}

/// The action offered to owners and admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GateAction {
    pub label: String,
    pub href: String,
    /// Where the installation steps are (self-hosted).
    pub steps: Option<String>,
}

/// Everything the gate template shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gate {
    /// The feature key.
    pub feature: &'static str,
    /// `{Feature}`.
    pub name: &'static str,
    pub reason: String,
    pub heading: String,
    pub body: String,
    pub required_tier: &'static str,
    pub current_tier: &'static str,
    /// Owners and admins: Upgrade / Get a license / Open billing.
    pub action: Option<GateAction>,
    /// Other roles: "Ask an admin to upgrade."
    pub ask: Option<&'static str>,
    /// 503: a Retry link to this page.
    pub retry: Option<String>,
}

impl Gate {
    /// The gate for `denial` as `viewer` sees it (web UI spec §5, "Text by reason and role").
    pub(crate) fn new(denial: &Denial, viewer: &Viewer) -> Gate {
        let f = denial.feature;
        let (name, value) = feature_copy(f);
        let required = tier_label(f.min_tier());
        let current = tier_label(denial.current_tier);
        let billing = format!("/settings/billing?feature={}", f.as_str());
        let get_license = || GateAction {
            label: "Get a license".into(),
            href: format!("/settings/license?feature={}", f.as_str()),
            steps: Some("/settings/license#install".into()),
        };
        let (heading, body, action, ask) = match denial.reason.as_str() {
            "kill_switch" => (
                format!("{name} is temporarily unavailable"),
                "The service operator has turned this feature off. Nothing is lost.".to_owned(),
                None,
                None,
            ),
            "org_override" => (
                format!("{name} is turned off for this organization"),
                "A platform administrator turned it off. Contact support if this is unexpected."
                    .to_owned(),
                None,
                None,
            ),
            "storage_error" => (
                format!("{name} could not be checked"),
                "Licensing could not be checked right now. Nothing was changed; try again in a few seconds."
                    .to_owned(),
                None,
                None,
            ),
            "license_expired" => {
                let tier = tier_label(viewer.license_tier.unwrap_or(f.min_tier()));
                let date = viewer
                    .license_exp
                    .map_or_else(|| "its end date".to_owned(), show_day);
                let what = if viewer.self_hosted { "license" } else { "plan" };
                let action = if viewer.self_hosted {
                    get_license()
                } else {
                    GateAction {
                        label: "Open billing".into(),
                        href: billing.clone(),
                        steps: None,
                    }
                };
                (
                    format!("{name} is paused"),
                    format!(
                        "The {tier} {what} expired on {date} and its grace period has ended. Your data is kept; the feature returns when a valid {what} is active."
                    ),
                    Some(action),
                    Some("Ask an admin."),
                )
            }
            _ => {
                let body = if viewer.self_hosted {
                    format!("Your license does not include this feature. {value}")
                } else {
                    format!("Your organization is on the {current} plan. {value}")
                };
                let action = if viewer.self_hosted {
                    get_license()
                } else {
                    GateAction {
                        label: format!("Upgrade to {required}"),
                        href: billing.clone(),
                        steps: None,
                    }
                };
                (
                    format!("{name} is part of the {required} plan"),
                    body,
                    Some(action),
                    Some("Ask an admin to upgrade."),
                )
            }
        };
        Gate {
            feature: f.as_str(),
            name,
            reason: denial.reason.clone(),
            heading,
            body,
            required_tier: required,
            current_tier: current,
            action: action.filter(|_| viewer.manager),
            ask: ask.filter(|_| !viewer.manager),
            retry: (denial.reason == "storage_error").then(|| viewer.here.clone()),
        }
    }
}

/// The gate alone: the answer to htmx requests, and the part every gate page includes.
#[derive(Template)]
#[template(path = "gate/_upgrade_gate.html")]
pub(crate) struct GateFragment {
    pub gate: Gate,
}

/// A whole page showing the gate where the feature would be.
#[derive(Template)]
#[template(path = "gate/page.html")]
pub(crate) struct GatePage {
    pub assets: &'static Assets,
    pub version: &'static str,
    pub shell: Option<Shell>,
    pub gate: Gate,
}

/// Whether the request came from htmx (which swaps in the fragment only).
pub(crate) fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// The gate as a final response with the denial's status: the fragment for htmx, else the
/// page with `shell`.
pub(crate) fn gate_response(
    status: StatusCode,
    gate: Gate,
    shell: Option<Shell>,
    htmx: bool,
) -> Response {
    let mut response = if htmx {
        render(status, &GateFragment { gate })
    } else {
        render(
            status,
            &GatePage {
                assets: crate::assets::assets(),
                version: crate::VERSION,
                shell,
                gate,
            },
        )
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(5u32),
        );
    }
    response
}

/// The web answer to an error from a service: the UpgradeGate when it is a §6 refusal of a
/// feature (`feature` names it when the refusal does not, as for a 503), else the ordinary
/// error page.
#[allow(
    dead_code,
    reason = "the web error path of gated pages; the first ones (forecast, investment, audit) call it"
)]
pub(crate) async fn refusal(
    state: &AppState,
    principal: Option<&Principal>,
    e: AppError,
    feature: Option<Feature>,
    headers: &HeaderMap,
    here: &str,
) -> Response {
    let Some(denial) = Denial::of_error(&e, feature) else {
        return ApiError(e).into_response();
    };
    let Some((org, _)) = principal.and_then(|p| p.membership) else {
        return ApiError(e).into_response();
    };
    let snapshot = state.app.entitlements_of(org).await;
    let gate = Gate::new(&denial, &Viewer::of(principal, &snapshot, here));
    let htmx = is_htmx(headers);
    let shell = if htmx || principal.is_none_or(|p| p.credential != Credential::Session) {
        None
    } else {
        shell(state, principal, here).await.unwrap_or_default()
    };
    gate_response(denial.status(), gate, shell, htmx)
}

/// The gate of a paid page, evaluated before any data is read: `Ok` when the org may use
/// `feature`, else the gate response ([`refusal`]).
#[allow(
    dead_code,
    reason = "the gate of paid pages; the first ones (forecast, investment, audit) call it"
)]
pub(crate) async fn require(
    state: &AppState,
    principal: &Principal,
    feature: Feature,
    headers: &HeaderMap,
    here: &str,
) -> Result<(), Response> {
    let org = principal.org().map_err(|e| ApiError(e).into_response())?;
    match state.app.require(org, feature).await {
        Ok(()) => Ok(()),
        Err(e) => Err(refusal(state, Some(principal), e, Some(feature), headers, here).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// The refusal `app` gives for a paid feature (entitlements spec §6).
    fn not_licensed(feature: Feature, current: Tier, reason: &str) -> AppError {
        AppError::new(
            ErrorKind::PaymentRequired,
            "feature_not_licensed",
            format!(
                "{} requires the {} tier.",
                feature.description(),
                feature.min_tier()
            ),
        )
        .with("feature", feature.as_str())
        .with("required_tier", feature.min_tier().as_str())
        .with("current_tier", current.as_str())
        .with("reason", reason.to_owned())
        .with(
            "upgrade_url",
            format!("/settings/billing?feature={}", feature.as_str()),
        )
    }

    fn viewer(self_hosted: bool, manager: bool) -> Viewer {
        Viewer {
            self_hosted,
            manager,
            here: "/forecast".into(),
            ..Viewer::default()
        }
    }

    async fn body_of(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn refusals_become_denials_and_other_errors_do_not() {
        let d = Denial::of_error(
            &not_licensed(Feature::AuditLog, Tier::Team, "not_licensed"),
            None,
        );
        assert_eq!(
            d,
            Some(Denial {
                feature: Feature::AuditLog,
                reason: "not_licensed".into(),
                current_tier: Tier::Team,
            })
        );
        assert_eq!(d.map(|d| d.status()), Some(StatusCode::PAYMENT_REQUIRED));
        let off = AppError::new(ErrorKind::Forbidden, "feature_disabled", "off")
            .with("feature", "webhooks")
            .with("reason", "kill_switch");
        assert_eq!(
            Denial::of_error(&off, None).map(|d| d.status()),
            Some(StatusCode::FORBIDDEN)
        );
        let down = AppError::new(ErrorKind::Unavailable, "entitlements_unavailable", "down");
        assert_eq!(Denial::of_error(&down, None), None, "no feature named");
        assert_eq!(
            Denial::of_error(&down, Some(Feature::Webhooks)).map(|d| d.status()),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        let limit = AppError::new(ErrorKind::PaymentRequired, "limit_exceeded", "full")
            .with("limit", "users");
        assert_eq!(Denial::of_error(&limit, Some(Feature::MultiOrg)), None);
        let forbidden = AppError::new(ErrorKind::Forbidden, "forbidden", "no");
        assert_eq!(Denial::of_error(&forbidden, Some(Feature::AuditLog)), None);
    }

    #[test]
    fn the_action_depends_on_mode_and_role() {
        let d = Denial::of_error(
            &not_licensed(Feature::CapacityPlanning, Tier::Community, "not_licensed"),
            None,
        )
        .unwrap_or_else(|| panic!("a denial"));

        let saas_owner = Gate::new(&d, &viewer(false, true));
        assert_eq!(
            saas_owner.heading,
            "Capacity forecast is part of the Team plan"
        );
        assert!(
            saas_owner
                .body
                .starts_with("Your organization is on the Community plan.")
        );
        assert_eq!(
            (saas_owner.required_tier, saas_owner.current_tier),
            ("Team", "Community")
        );
        assert_eq!(
            saas_owner.action,
            Some(GateAction {
                label: "Upgrade to Team".into(),
                href: "/settings/billing?feature=capacity_planning".into(),
                steps: None,
            })
        );
        assert_eq!(saas_owner.ask, None);

        let hosted_admin = Gate::new(&d, &viewer(true, true));
        assert!(
            hosted_admin
                .body
                .starts_with("Your license does not include this feature.")
        );
        let action = hosted_admin.action.unwrap_or_else(|| panic!("an action"));
        assert_eq!(action.label, "Get a license");
        assert_eq!(action.steps.as_deref(), Some("/settings/license#install"));

        for self_hosted in [false, true] {
            let other = Gate::new(&d, &viewer(self_hosted, false));
            assert_eq!(other.action, None);
            assert_eq!(other.ask, Some("Ask an admin to upgrade."));
        }
    }

    #[test]
    fn expired_kill_switch_and_override_have_their_own_text() {
        let expired = Denial {
            feature: Feature::AuditLog,
            reason: "license_expired".into(),
            current_tier: Tier::Community,
        };
        let mut v = viewer(true, true);
        v.license_tier = Some(Tier::Enterprise);
        v.license_exp = chrono::DateTime::parse_from_rfc3339("2025-03-12T00:00:00Z")
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc));
        let g = Gate::new(&expired, &v);
        assert_eq!(g.heading, "Audit log is paused");
        assert!(
            g.body
                .contains("The Enterprise license expired on 12 Mar 2025"),
            "{}",
            g.body
        );
        assert_eq!(g.action.map(|a| a.label), Some("Get a license".into()));
        v.self_hosted = false;
        assert_eq!(
            Gate::new(&expired, &v).action.map(|a| a.label),
            Some("Open billing".into())
        );
        v.manager = false;
        assert_eq!(Gate::new(&expired, &v).ask, Some("Ask an admin."));

        for (reason, heading) in [
            ("kill_switch", "Webhooks is temporarily unavailable"),
            (
                "org_override",
                "Webhooks is turned off for this organization",
            ),
        ] {
            let d = Denial {
                feature: Feature::Webhooks,
                reason: reason.into(),
                current_tier: Tier::Team,
            };
            for manager in [false, true] {
                let g = Gate::new(&d, &viewer(false, manager));
                assert_eq!(g.heading, heading);
                assert_eq!((g.action, g.ask), (None, None), "nothing to buy");
            }
        }
    }

    /// The web error path: a 402 `feature_not_licensed` renders the gate page with status 402
    /// (the fragment alone for htmx), naming feature, required and current tier.
    #[tokio::test]
    async fn a_402_renders_the_gate_page_with_its_status() {
        let e = not_licensed(Feature::InvestmentView, Tier::Team, "not_licensed");
        let d = Denial::of_error(&e, None).unwrap_or_else(|| panic!("a denial"));

        let page = gate_response(d.status(), Gate::new(&d, &viewer(false, true)), None, false);
        assert!(page.extensions().get::<super::super::FinalPage>().is_some());
        let (status, html) = body_of(page).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        assert!(html.contains("<h1>Investment distribution</h1>"), "{html}");
        assert!(html.contains("Investment distribution is part of the Enterprise plan"));
        assert!(
            html.contains("Required tier: <strong>Enterprise</strong>"),
            "{html}"
        );
        assert!(
            html.contains("Current tier: <strong>Team</strong>"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/settings/billing?feature=investment_view""#),
            "{html}"
        );
        assert!(html.contains("Upgrade to Enterprise"));
        assert!(!html.contains("Ask an admin"));

        let fragment = gate_response(d.status(), Gate::new(&d, &viewer(true, false)), None, true);
        let (status, html) = body_of(fragment).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        assert!(!html.contains("<html"), "htmx gets the fragment only");
        assert!(html.contains("Ask an admin to upgrade."), "{html}");
        assert!(!html.contains("/settings/billing") && !html.contains("Get a license"));

        let admin = gate_response(d.status(), Gate::new(&d, &viewer(true, true)), None, true);
        let (_, html) = body_of(admin).await;
        assert!(
            html.contains(r#"href="/settings/license?feature=investment_view""#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/settings/license#install""#),
            "{html}"
        );
    }

    #[tokio::test]
    async fn an_unavailable_check_offers_retry() {
        let d = Denial {
            feature: Feature::Webhooks,
            reason: "storage_error".into(),
            current_tier: Tier::Community,
        };
        let response = gate_response(d.status(), Gate::new(&d, &viewer(false, true)), None, false);
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
        let (status, html) = body_of(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            html.contains("Webhooks could not be checked") && html.contains(r#"href="/forecast""#)
        );
    }
}
