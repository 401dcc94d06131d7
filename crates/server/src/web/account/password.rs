//! Forgotten (`/forgot-password`) and reset (`/reset-password`) passwords.

use app::identity::ResetInput;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Answer, EmailForm, TokenQuery, anonymous, failed};
use crate::AppState;
use crate::assets::Assets;
use crate::authn::{self, check_pre_session, cookie_names, pre_session};
use crate::extract::ClientInfo;
use crate::web::page::{Shell, describe, no_referrer, see_other, with_cookies};

#[derive(Template)]
#[template(path = "auth/forgot_password.html")]
struct ForgotPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    email: String,
}

impl ForgotPage {
    fn new(csrf: String) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            email: String::new(),
        }
    }
}

/// `GET /forgot-password`.
pub(super) async fn forgot_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = pre_session(&s, &headers);
    anonymous(StatusCode::OK, &ForgotPage::new(csrf), cookie)
}

/// `POST /forgot-password`: "Check your email" whether or not the account exists.
pub(super) async fn forgot_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<EmailForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    match s.app.forgot_password(&f.email, &c).await {
        Ok(()) => Ok(see_other("/check-email?for=reset")),
        Err(e) => {
            let page = ForgotPage {
                error: Some(describe(&e)),
                email: f.email,
                ..ForgotPage::new(f.csrf_token)
            };
            Ok(failed(&page, &e))
        }
    }
}

#[derive(Template)]
#[template(path = "auth/reset_password.html")]
struct ResetPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    token: String,
    expired: bool,
}

impl ResetPage {
    fn new(csrf: String, token: String) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            token,
            expired: false,
        }
    }
}

/// `GET /reset-password?token=`.
pub(super) async fn reset_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let (csrf, cookie) = pre_session(&s, &headers);
    no_referrer(anonymous(
        StatusCode::OK,
        &ResetPage::new(csrf, q.token),
        cookie,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ResetForm {
    csrf_token: String,
    token: String,
    new_password: String,
}

/// `POST /reset-password`: a weak password keeps the token, so the form stays usable.
pub(super) async fn reset_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<ResetForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    let input = ResetInput {
        token: f.token.clone(),
        new_password: f.new_password,
    };
    match s.app.reset_password(input, &c).await {
        Ok(()) => Ok(with_cookies(
            see_other("/signin?done=password_reset"),
            authn::clear_cookies(cookie_names(&s)),
        )),
        Err(e) => {
            let page = ResetPage {
                error: Some(describe(&e)),
                expired: e.code == "invalid_or_expired_token",
                ..ResetPage::new(f.csrf_token, f.token)
            };
            Ok(no_referrer(failed(&page, &e)))
        }
    }
}
