//! Sign in (`/signin`) and sign out (`/signout`; signed in: the route guard checks the
//! session's CSRF token).

use app::identity::{LoginInput, Registration};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{Answer, anonymous, failed, session_principal, signed_in};
use crate::AppState;
use crate::assets::Assets;
use crate::authn::{self, check_pre_session, cookie_names, pre_session};
use crate::extract::{Caller, ClientInfo, MaybePrincipal};
use crate::web::page::{Shell, describe, no_referrer, safe_next, see_other, with_cookies};

#[derive(Template)]
#[template(path = "auth/signin.html")]
struct SigninPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    email: String,
    next: String,
    unverified: bool,
    setup_open: bool,
    signup_open: bool,
}

impl SigninPage {
    fn new(state: &AppState, csrf: String, next: &str) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            email: String::new(),
            next: safe_next(next).to_owned(),
            unverified: false,
            setup_open: false,
            signup_open: state.app.identity_config().registration == Registration::Open,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SigninQuery {
    next: String,
    done: String,
}

fn signin_notice(done: &str) -> Option<&'static str> {
    match done {
        "signed_out" => Some("You are signed out."),
        "verified" => Some("Your email address is verified. Sign in to continue."),
        "password_reset" => Some("Your password is set. Sign in with it."),
        _ => None,
    }
}

/// `GET /signin`.
pub(super) async fn signin_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    MaybePrincipal(p): MaybePrincipal,
    Query(q): Query<SigninQuery>,
) -> Answer {
    if session_principal(p.as_ref()).is_some() {
        return Ok(see_other(safe_next(&q.next)));
    }
    let (csrf, cookie) = pre_session(&s, &headers);
    let page = SigninPage {
        notice: signin_notice(&q.done),
        setup_open: s.app.setup_open().await?,
        ..SigninPage::new(&s, csrf, &q.next)
    };
    let response = anonymous(StatusCode::OK, &page, cookie);
    // `next` may be an invitation link with its token.
    Ok(if q.next.contains("token=") {
        no_referrer(response)
    } else {
        response
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SigninForm {
    csrf_token: String,
    email: String,
    password: String,
    next: String,
}

/// `POST /signin`: on success the session cookies and a 303 to `next` (or `/`).
pub(super) async fn signin_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<SigninForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    let input = LoginInput {
        email: f.email.clone(),
        password: f.password,
        org_id: None,
    };
    match s.app.login(input, &c).await {
        Ok(signed) => Ok(signed_in(&s, &signed, &f.next)),
        Err(e) => {
            let page = SigninPage {
                error: Some(describe(&e)),
                email: f.email,
                unverified: e.code == "email_not_verified",
                ..SigninPage::new(&s, f.csrf_token, &f.next)
            };
            Ok(failed(&page, &e))
        }
    }
}

/// `POST /signout`: ends the session and clears its cookies.
pub(super) async fn signout(
    State(s): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
) -> Answer {
    let names = cookie_names(&s);
    let refresh = authn::cookie(&headers, names.refresh).filter(|v| !v.is_empty());
    s.app.logout(Some(&p), refresh).await?;
    Ok(with_cookies(
        see_other("/signin?done=signed_out"),
        authn::clear_cookies(names),
    ))
}
