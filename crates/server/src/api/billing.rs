//! Billing (billing spec §5 "related ops endpoints", §10 pull repair, §11): Upgrade and Manage
//! billing for owners (`billing:manage`), the billing summary and Refresh for owners and admins
//! (`billing:read`). SaaS only (404 on a self-hosted instance). The org is always the caller's;
//! the return URLs are built by `app`, never taken from the body.

use app::billing::{CheckoutInput, Redirect};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use domain::permission::marker::{BillingManage, BillingRead};
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::{ApiJson, RequestId, Saas};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

/// `{url}` with `HX-Redirect`, so an htmx button goes straight to Stripe and a script can
/// follow the URL itself.
pub(crate) fn redirect_answer(r: &Redirect) -> Response {
    let mut response = private(StatusCode::OK, r);
    if let Ok(v) = HeaderValue::from_str(&r.url) {
        response.headers_mut().insert("hx-redirect", v);
    }
    response
}

/// Starts a Stripe Checkout for the caller's org (owners).
#[utoipa::path(post, path = "/api/v1/billing/checkout", tag = "billing",
    request_body(content = serde_json::Value, description = "`{tier: team|enterprise, interval: month|year}`"),
    responses(
        (status = 200, description = "`{url}` and `HX-Redirect` to Stripe Checkout"),
        (status = 409, description = "subscription_exists: use the portal"),
        (status = 422, description = "invalid_field, no_price"),
        (status = 503, description = "billing_unavailable, billing_not_configured"),
    ))]
async fn checkout(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingManage>,
    RequestId(id): RequestId,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> Answer {
    Ok(redirect_answer(
        &s.app.start_checkout(&a, &input, &id).await?,
    ))
}

/// Opens the Stripe customer portal for the caller's org (owners).
#[utoipa::path(post, path = "/api/v1/billing/portal", tag = "billing",
    responses(
        (status = 200, description = "`{url}` and `HX-Redirect` to the customer portal"),
        (status = 404, description = "no_billing_account"),
        (status = 503, description = "billing_unavailable, billing_not_configured"),
    ))]
async fn portal(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingManage>,
    RequestId(id): RequestId,
) -> Answer {
    Ok(redirect_answer(&s.app.open_billing_portal(&a, &id).await?))
}

/// The caller's plan and billing state (owners and admins; reused for 60 s).
#[utoipa::path(get, path = "/api/v1/billing", tag = "billing",
    responses(
        (status = 200, description = "`{org_id, tier, account, billing_tier, billing_version, billing, phase, fetched_at}`"),
        (status = 503, description = "billing_unavailable, billing_not_configured"),
    ))]
async fn summary(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingRead>,
    RequestId(id): RequestId,
) -> Answer {
    Ok(private(StatusCode::OK, s.app.billing_view(&a, &id).await?))
}

/// Pulls the org's entitlement from license-svc and applies it like a push (repairs a lost
/// push; owners and admins).
#[utoipa::path(post, path = "/api/v1/billing/refresh", tag = "billing",
    responses(
        (status = 200, description = "`{entitlement: applied|duplicate|stale|none, version, stored_iat, billing}`"),
        (status = 503, description = "billing_unavailable, billing_not_configured"),
    ))]
async fn refresh(
    State(s): State<AppState>,
    _saas: Saas,
    Auth(a): Auth<BillingRead>,
    RequestId(id): RequestId,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.refresh_billing(&a, &id).await?,
    ))
}

pub(super) fn routes(r: Routes) -> Routes {
    r.api(Access::session::<BillingManage>(), routes!(checkout))
        .api(Access::session::<BillingManage>(), routes!(portal))
        .api(Access::session::<BillingRead>(), routes!(summary))
        .api(Access::session::<BillingRead>(), routes!(refresh))
}
