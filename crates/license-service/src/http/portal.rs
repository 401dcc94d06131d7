//! `/portal/*`: the self-hosted customer portal pages (billing spec §12).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::portal::{BINDING_COOKIE, BINDING_TTL, Purchase};
use crate::service::{Service, SvcError};

#[derive(Template)]
#[template(path = "portal/buy.html")]
struct BuyPage {
    plans: Vec<(String, String)>,
    error: Option<String>,
    email: String,
    company: String,
    deployment_ids: String,
}

#[derive(Template)]
#[template(path = "portal/key.html")]
struct KeyPage {
    tier: String,
    valid_until: String,
    grace_days: i64,
    deployment_ids: String,
    first_deployment: String,
    token: String,
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    heading: &'static str,
    text: String,
}

pub(super) fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, [("cache-control", "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!("portal template: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /portal`: the purchase form.
pub async fn buy(State(svc): State<Service>) -> Response {
    render(
        StatusCode::OK,
        &BuyPage {
            plans: svc.self_hosted_plans(),
            error: None,
            email: String::new(),
            company: String::new(),
            deployment_ids: "self-hosted".into(),
        },
    )
}

/// `POST /portal/checkout`: creates the Checkout Session, binds this browser to it, redirects.
pub async fn checkout(State(svc): State<Service>, Form(p): Form<Purchase>) -> Response {
    match svc.portal_checkout(&p).await {
        Ok((session, url)) => {
            let binding = svc.binding(&session, svc.clock.now());
            with_cookie(&svc, see_other(&url), BINDING_COOKIE, &binding, BINDING_TTL)
        }
        Err(SvcError::Invalid { message, .. }) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &BuyPage {
                plans: svc.self_hosted_plans(),
                error: Some(message),
                email: p.email,
                company: p.company,
                deployment_ids: p.deployment_ids,
            },
        ),
        Err(e) => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Payment is unavailable",
            &e,
        ),
    }
}

pub(super) fn message(status: StatusCode, heading: &'static str, e: &SvcError) -> Response {
    let text = match e {
        SvcError::Invalid { message, .. } => message.clone(),
        _ => "Please try again in a few minutes.".into(),
    };
    if !matches!(e, SvcError::Invalid { .. }) {
        tracing::warn!("portal: {e}");
    }
    render(status, &MessagePage { heading, text })
}

/// `?session_id=`.
#[derive(Debug, Deserialize)]
pub struct Success {
    session_id: String,
}

/// `GET /portal/checkout/success`: the key, for the browser that started this checkout.
pub async fn success(
    State(svc): State<Service>,
    headers: HeaderMap,
    Query(q): Query<Success>,
) -> Response {
    let cookie = cookie(&headers, BINDING_COOKIE).unwrap_or_default();
    if !svc.bound(&cookie, &q.session_id, svc.clock.now()) {
        return message(
            StatusCode::FORBIDDEN,
            "This page belongs to another browser",
            &SvcError::invalid(
                403,
                "not_bound",
                "Open it in the browser you paid with, or sign in to the portal to see your keys.",
            ),
        );
    }
    match svc.portal_key(&q.session_id).await {
        Ok(l) => render(
            StatusCode::OK,
            &KeyPage {
                tier: l.tier.as_str().into(),
                valid_until: chrono::DateTime::from_timestamp(l.exp, 0)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                grace_days: l.grace_days,
                first_deployment: l.deployment_ids.first().cloned().unwrap_or_default(),
                deployment_ids: l.deployment_ids.join(", "),
                token: l.token.unwrap_or_default(),
            },
        ),
        Err(e @ SvcError::Invalid { .. }) => message(StatusCode::ACCEPTED, "Payment pending", &e),
        Err(e) => message(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly", &e),
    }
}

/// A cookie's value from the request.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A 303 to `to`.
pub(super) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// `r` setting the portal cookie `name` (HttpOnly, `SameSite=Lax`, `Secure` behind https,
/// scoped to `/portal`) for `ttl`.
pub(super) fn with_cookie(
    svc: &Service,
    mut r: Response,
    name: &str,
    value: &str,
    ttl: chrono::Duration,
) -> Response {
    let secure = if svc.config.public_base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{name}={value}; Path=/portal; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        ttl.num_seconds()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}
