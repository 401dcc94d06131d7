//! `/portal/login*`, `/portal/keys*`, `/portal/deployment-ids`, `/portal/billing`: the signed-in
//! part of the self-hosted portal (billing spec §12 step 6). Posts must come from the portal's
//! own origin (the session cookie is `SameSite=Lax`; the `Origin` check closes the rest).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::portal::{cookie, message, render, see_other, with_cookie};
use crate::portal_account::{SESSION_COOKIE, SESSION_TTL};
use crate::service::{Service, SvcError};

#[derive(Template)]
#[template(path = "portal/keys.html")]
struct KeysPage {
    keys: Vec<KeyRow>,
    deployment_ids: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct KeyRow {
    jti: String,
    tier: String,
    valid_until: String,
    deployment_ids: String,
    status: String,
}

/// The signed-in customer.
fn customer(svc: &Service, headers: &HeaderMap) -> Option<Uuid> {
    cookie(headers, SESSION_COOKIE).and_then(|c| svc.portal_customer(&c, svc.clock.now()))
}

/// Where a browser without a session goes.
fn sign_in() -> Response {
    see_other("/portal#signin")
}

/// Whether a post comes from the portal's own origin (cross-site request forgery).
fn same_origin(svc: &Service, headers: &HeaderMap) -> bool {
    let ours = svc.config.public_base_url.origin().ascii_serialization();
    headers.get("origin").and_then(|o| o.to_str().ok()) == Some(ours.as_str())
}

/// The customer of a post: signed in and from the portal's origin.
fn poster(svc: &Service, headers: &HeaderMap) -> Result<Uuid, Box<Response>> {
    let Some(c) = customer(svc, headers) else {
        return Err(Box::new(sign_in()));
    };
    if !same_origin(svc, headers) {
        return Err(Box::new(message(
            StatusCode::FORBIDDEN,
            "Request refused",
            &SvcError::invalid(
                403,
                "cross_origin",
                "Use the portal's own pages to make changes.",
            ),
        )));
    }
    Ok(c)
}

/// `{email}`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
}

/// `POST /portal/login`: the same answer for every email.
pub async fn login_request(State(svc): State<Service>, Form(f): Form<LoginForm>) -> Response {
    if let Err(e) = svc.portal_login_request(&f.email).await {
        tracing::warn!("portal login request: {e}");
    }
    message(
        StatusCode::OK,
        "Check your email",
        &SvcError::invalid(
            200,
            "sent",
            "If that address has license keys, a sign-in link valid for 15 minutes is on its way.",
        ),
    )
}

/// `GET /portal/login/{token}`: opens a session once per link.
pub async fn login(State(svc): State<Service>, Path(token): Path<String>) -> Response {
    match svc.portal_login(&token).await {
        Ok(Some(value)) => with_cookie(
            &svc,
            see_other("/portal/keys"),
            SESSION_COOKIE,
            &value,
            SESSION_TTL,
        ),
        Ok(None) => message(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            &SvcError::invalid(
                400,
                "invalid_link",
                "It was used already or is older than 15 minutes. Ask for a new one.",
            ),
        ),
        Err(e) => message(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly", &e),
    }
}

/// `?done=`.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Done {
    done: String,
}

async fn keys_page(
    svc: &Service,
    customer: Uuid,
    notice: Option<&'static str>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let keys = match svc.portal_keys(customer).await {
        Ok(k) => k,
        Err(e) => return message(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly", &e),
    };
    let ids = {
        let Ok(mut c) = svc.store.acquire().await else {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        };
        crate::db::customers::by_id(&mut c.conn(), customer)
            .await
            .ok()
            .flatten()
            .map(|c| c.deployment_ids.join(", "))
            .unwrap_or_default()
    };
    render(
        status,
        &KeysPage {
            keys: keys
                .into_iter()
                .map(|k| KeyRow {
                    jti: k.jti,
                    tier: k.tier.as_str().into(),
                    valid_until: chrono::DateTime::from_timestamp(k.exp, 0)
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    deployment_ids: k.deployment_ids.join(", "),
                    status: k.status,
                })
                .collect(),
            deployment_ids: ids,
            notice,
            error,
        },
    )
}

/// `GET /portal/keys`.
pub async fn keys(
    State(svc): State<Service>,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> Response {
    let Some(customer) = customer(&svc, &headers) else {
        return sign_in();
    };
    let notice = (q.done == "replaced")
        .then_some("Saved. A replacement key for the new deployment ids is listed below.");
    keys_page(&svc, customer, notice, None, StatusCode::OK).await
}

/// `GET /portal/keys/{jti}/download`: the customer's own, unrevoked key as a file.
pub async fn download(
    State(svc): State<Service>,
    headers: HeaderMap,
    Path(jti): Path<String>,
) -> Response {
    let Some(customer) = customer(&svc, &headers) else {
        return sign_in();
    };
    let key = svc.portal_keys(customer).await.ok().and_then(|keys| {
        keys.into_iter()
            .find(|k| k.jti == jti && k.status != "revoked")
    });
    match key.and_then(|k| k.token) {
        Some(token) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, "text/plain; charset=utf-8"),
                (
                    CONTENT_DISPOSITION,
                    "attachment; filename=\"dev-health.license\"",
                ),
                (axum::http::header::CACHE_CONTROL, "no-store"),
            ],
            format!("{token}\n"),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `{deployment_ids}`.
#[derive(Debug, Deserialize)]
pub struct IdsForm {
    deployment_ids: String,
}

/// `POST /portal/deployment-ids`.
pub async fn deployment_ids(
    State(svc): State<Service>,
    headers: HeaderMap,
    Form(f): Form<IdsForm>,
) -> Response {
    let customer = match poster(&svc, &headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match svc.change_deployment_ids(customer, &f.deployment_ids).await {
        Ok(_) => see_other("/portal/keys?done=replaced"),
        Err(SvcError::Invalid { message, .. }) => {
            keys_page(
                &svc,
                customer,
                None,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => message(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly", &e),
    }
}

/// `POST /portal/billing`: to the Stripe billing portal.
pub async fn billing(State(svc): State<Service>, headers: HeaderMap) -> Response {
    let customer = match poster(&svc, &headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match svc.portal_billing(customer).await {
        Ok(url) => see_other(&url),
        Err(e) => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Billing is unavailable",
            &e,
        ),
    }
}
