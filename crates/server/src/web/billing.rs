//! `/settings/billing` (billing spec §11, web UI spec §7; SaaS only): the plan and tier, the
//! subscription status ("Trial ends D", "Renews D", "Cancels D", "Payment failed, update by
//! D"), limits with usage, and the actions — Upgrade (team or enterprise, monthly or yearly)
//! and Manage billing for owners (`billing:manage`), Refresh for owners and admins. Admins see
//! the page read-only with the owners' names. The UpgradeGate links here with `?feature=`,
//! which names the feature and marks the plans that include it.
//!
//! The forms are plain POSTs with the CSRF token that call the same `app` services as the JSON
//! API; they answer 303 to Stripe (or `HX-Redirect` for htmx). A billing summary that cannot be
//! loaded (license-svc unreachable) does not break the page: it says so, and Upgrade stays.

use app::AppError;
use app::authz::{Authorized, Principal, authorize};
use app::billing::{BillingView, CheckoutInput, Owner, Phase, Redirect};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::permission::marker::{BillingManage, BillingRead};
use domain::{Feature, Permission, Tier};
use serde::Deserialize;

use super::gate::{feature_copy, is_htmx, show_day, tier_label};
use super::license::limit_line;
use super::page::{Shell, describe, render, see_other, shell};
use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::extract::{RequestId, Saas};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

const PATH: &str = "/settings/billing";

/// A banner of the billing page.
struct PageBanner {
    code: &'static str,
    /// `notice` or `error`.
    level: &'static str,
    text: String,
}

/// One plan the org can move up to.
struct Offer {
    tier: &'static str,
    label: &'static str,
    /// It includes the feature the visitor came for.
    includes_asked: bool,
}

/// The feature the visitor came for (`?feature=`, from the UpgradeGate).
struct Asked {
    key: &'static str,
    name: &'static str,
    value: &'static str,
    min_tier: &'static str,
    /// The org may already use it.
    allowed: bool,
}

#[derive(Template)]
#[template(path = "settings/billing.html")]
struct BillingPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    tier: &'static str,
    /// The plan license-svc has on record when it differs from the tier in force.
    billing_tier: Option<&'static str>,
    /// `trialing`, `renews`, `cancels`, `past_due`, `other` or `none`.
    phase: &'static str,
    status_line: Option<String>,
    banners: Vec<PageBanner>,
    /// Why the billing state is not shown.
    unavailable: Option<String>,
    limits: Vec<String>,
    can_manage: bool,
    /// An account exists: Manage billing.
    has_account: bool,
    /// A subscription pays for the plan: plan changes go through Manage billing.
    subscribed: bool,
    offers: Vec<Offer>,
    owners: Vec<Owner>,
    asked: Option<Asked>,
}

#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    error: Option<String>,
    asked: Option<Feature>,
}

/// The status line and its phase name (billing spec §11 wording).
fn status_line(phase: &Phase) -> (&'static str, Option<String>) {
    let day = |d: &Option<chrono::DateTime<chrono::Utc>>| {
        d.map_or_else(|| "the end of the period".to_owned(), show_day)
    };
    match phase {
        Phase::None => ("none", None),
        Phase::Trialing { ends_at } => ("trialing", Some(format!("Trial ends {}", day(ends_at)))),
        Phase::Renews { at } => ("renews", Some(format!("Renews {}", day(at)))),
        Phase::Cancels { at } => ("cancels", Some(format!("Cancels {}", day(at)))),
        Phase::PastDue { update_by } => (
            "past_due",
            Some(format!("Payment failed, update by {}", day(update_by))),
        ),
        Phase::Other { status } => ("other", Some(format!("Subscription {status}"))),
    }
}

fn banners(phase: &Phase) -> Vec<PageBanner> {
    match phase {
        Phase::Trialing { ends_at } => vec![PageBanner {
            code: "trial",
            level: "notice",
            text: format!(
                "Your trial ends on {}. Add a payment method with Manage billing to keep the plan.",
                ends_at.map_or_else(|| "its end date".to_owned(), show_day)
            ),
        }],
        Phase::PastDue { update_by } => vec![PageBanner {
            code: "past_due",
            level: "error",
            text: format!(
                "Payment failed — update your payment method by {}.",
                update_by.map_or_else(|| "the end of the grace period".to_owned(), show_day)
            ),
        }],
        Phase::Cancels { at } => vec![PageBanner {
            code: "cancels",
            level: "notice",
            text: format!(
                "The subscription ends on {}; the organization then moves to Community. Your data is kept.",
                at.map_or_else(|| "the end of the period".to_owned(), show_day)
            ),
        }],
        _ => Vec::new(),
    }
}

async fn billing_page(
    state: &AppState,
    read: &Authorized<BillingRead>,
    request_id: &str,
    extras: Extras,
) -> Result<BillingPage, AppError> {
    let principal = read.principal();
    let org = principal.org()?;
    let can_manage = principal.holds(Permission::BillingManage);
    let (view, unavailable) = match state.app.billing_view(read, request_id).await {
        Ok(v) => (Some(v), None),
        Err(e) if e.kind == app::ErrorKind::Unavailable => (None, Some(describe(&e))),
        Err(e) => return Err(e),
    };
    let snapshot = state.app.entitlements_of(org).await;
    let status = state.app.license_status(Some(org)).await?;
    let limits = snapshot
        .limits
        .iter()
        .map(|(l, v, _)| limit_line(*l, *v, &status.usage))
        .collect();
    let tier = snapshot.effective_tier;
    let phase = view.as_ref().map_or(Phase::None, |v| v.phase.clone());
    let (phase_name, line) = status_line(&phase);
    let subscribed = matches!(
        phase,
        Phase::Trialing { .. }
            | Phase::Renews { .. }
            | Phase::Cancels { .. }
            | Phase::PastDue { .. }
    );
    let asked = extras.asked.map(|f| {
        let (name, value) = feature_copy(f);
        Asked {
            key: f.as_str(),
            name,
            value,
            min_tier: tier_label(f.min_tier()),
            allowed: snapshot.feature(f).allowed,
        }
    });
    let offers = [Tier::Team, Tier::Enterprise]
        .into_iter()
        .filter(|t| *t > tier)
        .map(|t| Offer {
            tier: t.as_str(),
            label: tier_label(t),
            includes_asked: extras.asked.is_some_and(|f| f.included_in(t)),
        })
        .collect();
    let owners = if can_manage {
        Vec::new()
    } else {
        state.app.billing_owners(read).await?
    };
    Ok(BillingPage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        shell: shell(state, Some(principal), PATH).await?,
        csrf: crate::authn::csrf_token(state, principal.credential_id),
        notice: extras.notice,
        error: extras.error,
        tier: tier_label(tier),
        billing_tier: view
            .as_ref()
            .and_then(|v| v.billing_tier)
            .filter(|t| *t != tier)
            .map(tier_label),
        phase: phase_name,
        status_line: line,
        banners: banners(&phase),
        unavailable,
        limits,
        can_manage,
        has_account: view.as_ref().is_some_and(|v: &BillingView| v.account),
        subscribed,
        offers,
        owners,
        asked,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    checkout: String,
    refreshed: String,
    feature: Option<String>,
}

/// `GET /settings/billing`.
async fn show(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingRead>,
    RequestId(id): RequestId,
    Query(q): Query<PageQuery>,
) -> Answer {
    let notice = match (q.checkout.as_str(), q.refreshed.as_str()) {
        ("success", _) => Some(
            "Thank you — the payment went through. The new plan applies within a few seconds; use Refresh if it has not.",
        ),
        ("cancel", _) => Some("Checkout was canceled; nothing was charged."),
        (_, "applied") => Some("Refreshed: the latest plan from billing is now applied."),
        (_, "duplicate" | "stale") => Some("Refreshed: the plan in force is already the latest."),
        (_, "none") => Some("Refreshed: billing has no plan for this organization."),
        _ => None,
    };
    let extras = Extras {
        notice,
        asked: q.feature.and_then(|f| f.parse().ok()),
        ..Extras::default()
    };
    Ok(render(
        StatusCode::OK,
        &billing_page(&s, &a, &id, extras).await?,
    ))
}

/// The hand-off page to Stripe: a meta refresh and a link.
#[derive(Template)]
#[template(path = "settings/billing_redirect.html")]
struct ToStripe<'a> {
    assets: &'static crate::assets::Assets,
    version: &'static str,
    url: &'a str,
}

/// Where an action sends the browser. A form post cannot answer with a redirect to Stripe:
/// browsers apply the page's `form-action 'self'` (identity spec §8.1) to every redirect of a
/// form submission, so a 303 to another origin is blocked. The post answers a page that
/// navigates with a meta refresh (a new navigation, like the SSO link) and shows a link;
/// htmx gets `HX-Redirect`. Only http(s) URLs are followed.
fn go(headers: &HeaderMap, r: &Redirect) -> Response {
    if !(r.url.starts_with("https://") || r.url.starts_with("http://")) {
        tracing::error!("license-svc returned a non-http redirect; not followed");
        return StatusCode::BAD_GATEWAY.into_response();
    }
    if !is_htmx(headers) {
        let mut page = render(
            StatusCode::OK,
            &ToStripe {
                assets: crate::assets::assets(),
                version: crate::VERSION,
                url: &r.url,
            },
        );
        page.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        return page;
    }
    let mut response = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&r.url) {
        response.headers_mut().insert("hx-redirect", v);
    }
    response
}

/// A failed action: the page again with the error, under the error's status.
async fn failed(s: &AppState, principal: &Principal, id: &str, e: AppError) -> Answer {
    let read = authorize::<BillingRead>(Some(principal))?;
    let extras = Extras {
        error: Some(describe(&e)),
        ..Extras::default()
    };
    let page = billing_page(s, &read, id, extras).await?;
    Ok(render(crate::error::status_of(e.kind), &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CheckoutForm {
    tier: String,
    interval: String,
}

/// `POST /settings/billing/checkout` (owners): to Stripe Checkout.
async fn checkout(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingManage>,
    RequestId(id): RequestId,
    headers: HeaderMap,
    Form(f): Form<CheckoutForm>,
) -> Answer {
    let input = CheckoutInput {
        tier: f.tier,
        interval: f.interval,
    };
    match s.app.start_checkout(&a, &input, &id).await {
        Ok(r) => Ok(go(&headers, &r)),
        Err(e) => failed(&s, a.principal(), &id, e).await,
    }
}

/// `POST /settings/billing/portal` (owners): to the Stripe customer portal.
async fn portal(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingManage>,
    RequestId(id): RequestId,
    headers: HeaderMap,
) -> Answer {
    match s.app.open_billing_portal(&a, &id).await {
        Ok(r) => Ok(go(&headers, &r)),
        Err(e) => failed(&s, a.principal(), &id, e).await,
    }
}

/// `POST /settings/billing/refresh` (owners and admins): the pull repair.
async fn refresh(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingRead>,
    RequestId(id): RequestId,
) -> Answer {
    match s.app.refresh_billing(&a, &id).await {
        Ok(r) => Ok(see_other(&format!("{PATH}?refreshed={}", r.entitlement))),
        Err(e) => failed(&s, a.principal(), &id, e).await,
    }
}

/// Registers the billing page and its forms.
pub(crate) fn routes(r: Routes) -> Routes {
    r.route(
        Surface::Web,
        Method::GET,
        PATH,
        Access::session::<BillingRead>(),
        get(show),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/settings/billing/checkout",
        Access::session::<BillingManage>(),
        post(checkout),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/settings/billing/portal",
        Access::session::<BillingManage>(),
        post(portal),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/settings/billing/refresh",
        Access::session::<BillingRead>(),
        post(refresh),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_has_its_sentence() {
        let d = chrono::DateTime::parse_from_rfc3339("2026-03-12T00:00:00Z")
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc));
        assert_eq!(
            status_line(&Phase::Trialing { ends_at: d }).1.as_deref(),
            Some("Trial ends 12 Mar 2026")
        );
        assert_eq!(
            status_line(&Phase::Renews { at: d }).1.as_deref(),
            Some("Renews 12 Mar 2026")
        );
        assert_eq!(
            status_line(&Phase::Cancels { at: d }).1.as_deref(),
            Some("Cancels 12 Mar 2026")
        );
        assert_eq!(
            status_line(&Phase::PastDue { update_by: d }).1.as_deref(),
            Some("Payment failed, update by 12 Mar 2026")
        );
        assert_eq!(status_line(&Phase::None), ("none", None));
        assert_eq!(
            banners(&Phase::PastDue { update_by: d })[0].text,
            "Payment failed — update your payment method by 12 Mar 2026."
        );
    }
}
