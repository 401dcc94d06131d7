//! Account pages (identity spec §2.3, web UI spec §4): first-run setup, sign in, sign up, email
//! verification, forgotten and reset passwords, sign out, invitations and the org switch.
//!
//! Every anonymous form carries a token derived from the pre-session cookie (§8.2), checked
//! before anything else; success answers 303 to a page, failure shows the form again with the
//! sentence from `app` and the status its error kind maps to.

mod invite;
mod password;
mod setup;
mod signin;
mod signup;
mod switch_org;

use app::AppError;
use app::authz::{Credential, Principal};
use askama::Template;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::page::{render, safe_next, see_other, with_cookies, with_retry_after};
use crate::access::{Access, Routes, Surface};
use crate::authn::{cookie_names, session_cookies};
use crate::{ApiError, AppState};

type Answer = Result<Response, ApiError>;

/// Renders an anonymous page and sets the pre-session cookie when the browser has none.
fn anonymous(status: StatusCode, page: &impl Template, cookie: Option<HeaderValue>) -> Response {
    with_cookies(render(status, page), cookie)
}

/// A page that shows `e` next to the form.
fn failed(page: &impl Template, e: &AppError) -> Response {
    with_retry_after(render(crate::error::status_of(e.kind), page), e)
}

/// Sets the cookies of a new session and goes to `next`.
fn signed_in(state: &AppState, signed: &app::identity::SignedIn, next: &str) -> Response {
    with_cookies(
        see_other(safe_next(next)),
        session_cookies(cookie_names(state), signed),
    )
}

fn session_principal(p: Option<&Principal>) -> Option<&Principal> {
    p.filter(|p| p.credential == Credential::Session)
}

/// The query of the pages reached from an emailed link (`?token=`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenQuery {
    token: String,
}

/// A form that only asks for an email address (resend verification, forgotten password).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailForm {
    csrf_token: String,
    email: String,
}

/// Registers the account pages.
pub(crate) fn routes(r: Routes) -> Routes {
    r.route(
        Surface::Web,
        Method::GET,
        "/setup",
        Access::public(),
        get(setup::setup_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/setup",
        Access::public(),
        post(setup::setup_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/signin",
        Access::public(),
        get(signin::signin_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/signin",
        Access::public(),
        post(signin::signin_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/signup",
        Access::public(),
        get(signup::signup_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/signup",
        Access::public(),
        post(signup::signup_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/check-email",
        Access::public(),
        get(signup::check_email),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/verify-email",
        Access::public(),
        get(signup::verify_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/verify-email",
        Access::public(),
        post(signup::verify_submit),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/verify-email/resend",
        Access::public(),
        post(signup::verify_resend),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/forgot-password",
        Access::public(),
        get(password::forgot_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/forgot-password",
        Access::public(),
        post(password::forgot_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/reset-password",
        Access::public(),
        get(password::reset_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/reset-password",
        Access::public(),
        post(password::reset_submit),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/signout",
        Access::signed_in(),
        post(signin::signout),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/switch-org",
        Access::signed_in(),
        post(switch_org::switch_org),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/invite",
        Access::public(),
        get(invite::invite_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/invite/accept",
        Access::public(),
        post(invite::invite_accept),
    )
}
