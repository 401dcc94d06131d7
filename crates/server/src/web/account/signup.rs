//! Sign up (`/signup`), the "Check your email" page (`/check-email`) and email verification
//! (`/verify-email`, `/verify-email/resend`).

use app::identity::{RegisterInput, Registration};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Answer, EmailForm, TokenQuery, anonymous, failed};
use crate::AppState;
use crate::assets::Assets;
use crate::authn::{check_pre_session, pre_session};
use crate::extract::ClientInfo;
use crate::web::page::{Shell, describe, no_referrer, render, see_other};

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    open: bool,
    name: String,
    email: String,
    org_name: String,
}

impl SignupPage {
    fn new(state: &AppState, csrf: String) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            open: state.app.identity_config().registration == Registration::Open,
            name: String::new(),
            email: String::new(),
            org_name: String::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SignupForm {
    csrf_token: String,
    name: String,
    email: String,
    password: String,
    org_name: String,
}

/// `GET /signup`.
pub(super) async fn signup_form(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    let (csrf, cookie) = pre_session(&s, &headers);
    Ok(anonymous(
        StatusCode::OK,
        &SignupPage::new(&s, csrf),
        cookie,
    ))
}

/// `POST /signup`: always ends on "Check your email", whether or not the address is known.
pub(super) async fn signup_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<SignupForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    let org_name = f.org_name.trim();
    let input = RegisterInput {
        email: f.email.clone(),
        password: f.password,
        name: f.name.clone(),
        org_name: (!org_name.is_empty()).then(|| org_name.to_owned()),
    };
    match s.app.register(input, &c).await {
        Ok(()) => Ok(see_other("/check-email?for=signup")),
        Err(e) => {
            let page = SignupPage {
                error: Some(describe(&e)),
                name: f.name,
                email: f.email,
                org_name: f.org_name,
                ..SignupPage::new(&s, f.csrf_token)
            };
            Ok(failed(&page, &e))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Check your email

#[derive(Template)]
#[template(path = "auth/check_email.html")]
struct CheckEmailPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    message: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CheckEmailQuery {
    r#for: String,
}

/// `GET /check-email`: the same words whether or not an account exists (identity spec §2.7).
pub(super) async fn check_email(Query(q): Query<CheckEmailQuery>) -> Response {
    let message = match q.r#for.as_str() {
        "reset" => {
            "If an account uses that address, we have sent it a link to set a new password. The link works for one hour."
        }
        "verify" => {
            "If that address has an account waiting for verification, we have sent it a new link."
        }
        _ => {
            "We have sent a message to the address you gave. Follow its link to verify your email, then sign in."
        }
    };
    render(
        StatusCode::OK,
        &CheckEmailPage {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            message,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Verify email

#[derive(Template)]
#[template(path = "auth/verify_email.html")]
struct VerifyPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    token: String,
    email: String,
}

impl VerifyPage {
    fn new(csrf: String, token: String) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            token,
            email: String::new(),
        }
    }
}

/// `GET /verify-email?token=`: a confirm button, so that link scanners that fetch the URL do
/// not use the token up.
pub(super) async fn verify_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let (csrf, cookie) = pre_session(&s, &headers);
    no_referrer(anonymous(
        StatusCode::OK,
        &VerifyPage::new(csrf, q.token),
        cookie,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct VerifyForm {
    csrf_token: String,
    token: String,
}

/// `POST /verify-email`.
pub(super) async fn verify_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<VerifyForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    match s.app.verify_email(&f.token, &c).await {
        Ok(()) => Ok(see_other("/signin?done=verified")),
        Err(e) => {
            let page = VerifyPage {
                error: Some(describe(&e)),
                ..VerifyPage::new(f.csrf_token, String::new())
            };
            Ok(no_referrer(failed(&page, &e)))
        }
    }
}

/// `POST /verify-email/resend`: the same answer whether or not the address has an account.
pub(super) async fn verify_resend(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<EmailForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    match s.app.resend_verification(&f.email, &c).await {
        Ok(()) => Ok(see_other("/check-email?for=verify")),
        Err(e) => {
            let page = VerifyPage {
                error: Some(describe(&e)),
                email: f.email,
                ..VerifyPage::new(f.csrf_token, String::new())
            };
            Ok(failed(&page, &e))
        }
    }
}
