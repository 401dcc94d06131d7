//! Account pages (identity spec §2.3, web UI spec §4): first-run setup, sign in, sign up, email
//! verification, forgotten and reset passwords, sign out, invitations and the org switch.
//!
//! Every anonymous form carries a token derived from the pre-session cookie (§8.2), checked
//! before anything else; success answers 303 to a page, failure shows the form again with the
//! sentence from `app` and the status its error kind maps to.

use app::authz::{Credential, Principal};
use app::identity::{
    AcceptInput, InvitePreview, LoginInput, RegisterInput, ResetInput, SetupInput,
};
use app::{AppError, identity::Registration};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::OrgId;
use serde::Deserialize;

use super::page::{
    Shell, describe, no_referrer, render, safe_next, see_other, show_time, with_cookies,
    with_retry_after,
};
use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::authn::{self, check_pre_session, cookie_names, pre_session, session_cookies};
use crate::extract::{Caller, ClientInfo, MaybePrincipal};
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

// ---------------------------------------------------------------------------------------------
// Setup

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    name: String,
    email: String,
    org_name: String,
}

impl SetupPage {
    fn new(csrf: String) -> Self {
        Self {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            shell: None,
            csrf,
            notice: None,
            error: None,
            name: String::new(),
            email: String::new(),
            org_name: String::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetupForm {
    csrf_token: String,
    name: String,
    email: String,
    password: String,
    org_name: String,
}

/// `GET /setup`: the first-run form, while no account exists.
async fn setup_form(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    if !s.app.setup_open().await? {
        return Ok(see_other("/signin"));
    }
    let (csrf, cookie) = pre_session(&s, &headers);
    Ok(anonymous(StatusCode::OK, &SetupPage::new(csrf), cookie))
}

/// `POST /setup`: creates the owner and the first org, and signs the owner in.
async fn setup_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientInfo(c): ClientInfo,
    Form(f): Form<SetupForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    if !s.app.setup_open().await? {
        return Ok(see_other("/signin"));
    }
    let input = SetupInput {
        email: f.email.clone(),
        password: f.password,
        name: f.name.clone(),
        org_name: f.org_name.clone(),
    };
    match s.app.setup(input, &c).await {
        Ok(signed) => Ok(signed_in(&s, &signed, "/")),
        Err(e) => {
            let page = SetupPage {
                error: Some(describe(&e)),
                name: f.name,
                email: f.email,
                org_name: f.org_name,
                ..SetupPage::new(f.csrf_token)
            };
            Ok(failed(&page, &e))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign in

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
struct SigninQuery {
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
async fn signin_form(
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
struct SigninForm {
    csrf_token: String,
    email: String,
    password: String,
    next: String,
}

/// `POST /signin`: on success the session cookies and a 303 to `next` (or `/`).
async fn signin_submit(
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

// ---------------------------------------------------------------------------------------------
// Sign up

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
struct SignupForm {
    csrf_token: String,
    name: String,
    email: String,
    password: String,
    org_name: String,
}

/// `GET /signup`.
async fn signup_form(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    let (csrf, cookie) = pre_session(&s, &headers);
    Ok(anonymous(
        StatusCode::OK,
        &SignupPage::new(&s, csrf),
        cookie,
    ))
}

/// `POST /signup`: always ends on "Check your email", whether or not the address is known.
async fn signup_submit(
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
struct CheckEmailQuery {
    r#for: String,
}

/// `GET /check-email`: the same words whether or not an account exists (identity spec §2.7).
async fn check_email(Query(q): Query<CheckEmailQuery>) -> Response {
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenQuery {
    token: String,
}

/// `GET /verify-email?token=`: a confirm button, so that link scanners that fetch the URL do
/// not use the token up.
async fn verify_form(
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
struct VerifyForm {
    csrf_token: String,
    token: String,
}

/// `POST /verify-email`.
async fn verify_submit(
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailForm {
    csrf_token: String,
    email: String,
}

/// `POST /verify-email/resend`: the same answer whether or not the address has an account.
async fn verify_resend(
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

// ---------------------------------------------------------------------------------------------
// Forgotten and reset passwords

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
async fn forgot_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = pre_session(&s, &headers);
    anonymous(StatusCode::OK, &ForgotPage::new(csrf), cookie)
}

/// `POST /forgot-password`: "Check your email" whether or not the account exists.
async fn forgot_submit(
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
async fn reset_form(
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
struct ResetForm {
    csrf_token: String,
    token: String,
    new_password: String,
}

/// `POST /reset-password`: a weak password keeps the token, so the form stays usable.
async fn reset_submit(
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

// ---------------------------------------------------------------------------------------------
// Sign out and switching org (signed in: the route guard checks the session's CSRF token)

/// `POST /signout`: ends the session and clears its cookies.
async fn signout(State(s): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Answer {
    let names = cookie_names(&s);
    let refresh = authn::cookie(&headers, names.refresh).filter(|v| !v.is_empty());
    s.app.logout(Some(&p), refresh).await?;
    Ok(with_cookies(
        see_other("/signin?done=signed_out"),
        authn::clear_cookies(names),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SwitchForm {
    org_id: String,
    next: String,
}

/// `POST /switch-org`: new tokens for another org of the caller, then back to the same path
/// without its query (filters such as team or repo belong to the old org).
async fn switch_org(
    State(s): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Form(f): Form<SwitchForm>,
) -> Answer {
    let org: OrgId = f.org_id.parse().map_err(|_| {
        ApiError(AppError::new(
            app::ErrorKind::BadRequest,
            "invalid_field",
            "Choose an organization from the list.",
        ))
    })?;
    let signed = s.app.switch_org(&p, org).await?;
    let path = safe_next(&f.next);
    let path = path.split('?').next().unwrap_or("/");
    let cookies = session_cookies(cookie_names(&s), &signed);
    if headers.contains_key("hx-request") {
        // htmx follows a 303 inside its XHR; tell it to navigate instead.
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(path) {
            response.headers_mut().insert("hx-redirect", v);
        }
        return Ok(with_cookies(response, cookies));
    }
    Ok(with_cookies(see_other(path), cookies))
}

// ---------------------------------------------------------------------------------------------
// Invitations

/// The invitation as the page shows it.
struct InviteInfo {
    org_name: String,
    inviter: String,
    role: String,
    email: String,
    expires: String,
}

impl From<InvitePreview> for InviteInfo {
    fn from(p: InvitePreview) -> Self {
        Self {
            org_name: p.org_name,
            inviter: if p.inviter_name.is_empty() {
                "an admin".to_owned()
            } else {
                p.inviter_name
            },
            role: p.role.to_string(),
            email: p.email,
            expires: show_time(&p.expires_at),
        }
    }
}

#[derive(Template)]
#[template(path = "auth/invite.html")]
struct InvitePage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    preview: Option<InviteInfo>,
    token: String,
    /// `new` (create an account), `signin` (account exists), `accept` (signed in with the
    /// invited address) or `mismatch` (signed in with another address).
    mode: &'static str,
    signed_in_as: String,
    signin_link: String,
    name: String,
}

/// Builds the invitation page for `token` as seen by `principal`.
async fn invite_page(
    state: &AppState,
    principal: Option<&Principal>,
    token: String,
    csrf: String,
) -> Result<InvitePage, AppError> {
    let mut page = InvitePage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        shell: None,
        csrf,
        notice: None,
        error: None,
        preview: None,
        mode: "new",
        signed_in_as: String::new(),
        signin_link: String::new(),
        name: String::new(),
        token,
    };
    let preview = match state.app.preview_invite(&page.token).await {
        Ok(p) => p,
        Err(e) if e.kind == app::ErrorKind::BadRequest => {
            page.error = Some(describe(&e));
            return Ok(page);
        }
        Err(e) => return Err(e),
    };
    let next = format!("/invite?token={}", page.token);
    page.signin_link = format!(
        "/signin?{}",
        serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
    );
    page.mode = match session_principal(principal) {
        Some(p) => {
            let me = state.app.me(p).await?;
            let mine = auth::email::EmailNorm::parse(&me.user.email)
                .is_ok_and(|e| e.as_str() == preview.email);
            page.signed_in_as = me.user.email;
            if mine { "accept" } else { "mismatch" }
        }
        None if preview.account_exists => "signin",
        None => "new",
    };
    page.preview = Some(preview.into());
    Ok(page)
}

/// `GET /invite?token=`: org, role, inviter and expiry, and the way to accept.
async fn invite_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    MaybePrincipal(p): MaybePrincipal,
    Query(q): Query<TokenQuery>,
) -> Answer {
    let (csrf, cookie) = pre_session(&s, &headers);
    let page = invite_page(&s, p.as_ref(), q.token, csrf).await?;
    let status = if page.preview.is_some() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(no_referrer(anonymous(status, &page, cookie)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    csrf_token: String,
    token: String,
    name: String,
    password: String,
}

/// `POST /invite/accept`: joins the org (creating the account for a new address), signs in to
/// it and goes to the start page. A signed-in user posts the same form; its pre-session token
/// binds it to this browser as the session token would.
async fn invite_accept(
    State(s): State<AppState>,
    headers: HeaderMap,
    MaybePrincipal(p): MaybePrincipal,
    ClientInfo(c): ClientInfo,
    Form(f): Form<AcceptForm>,
) -> Answer {
    check_pre_session(&s, &headers, &f.csrf_token)?;
    let principal = session_principal(p.as_ref());
    let input = AcceptInput {
        token: f.token.clone(),
        name: (!f.name.trim().is_empty()).then(|| f.name.clone()),
        password: (!f.password.is_empty()).then_some(f.password),
    };
    match s.app.accept_invite(principal, input, &c).await {
        Ok(signed) => Ok(signed_in(&s, &signed, "/")),
        Err(e) => {
            let mut page = invite_page(&s, principal, f.token, f.csrf_token).await?;
            page.error = Some(describe(&e));
            page.name = f.name;
            Ok(no_referrer(failed(&page, &e)))
        }
    }
}

/// Registers the account pages.
pub(crate) fn routes(r: Routes) -> Routes {
    r.route(
        Surface::Web,
        Method::GET,
        "/setup",
        Access::public(),
        get(setup_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/setup",
        Access::public(),
        post(setup_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/signin",
        Access::public(),
        get(signin_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/signin",
        Access::public(),
        post(signin_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/signup",
        Access::public(),
        get(signup_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/signup",
        Access::public(),
        post(signup_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/check-email",
        Access::public(),
        get(check_email),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/verify-email",
        Access::public(),
        get(verify_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/verify-email",
        Access::public(),
        post(verify_submit),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/verify-email/resend",
        Access::public(),
        post(verify_resend),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/forgot-password",
        Access::public(),
        get(forgot_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/forgot-password",
        Access::public(),
        post(forgot_submit),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/reset-password",
        Access::public(),
        get(reset_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/reset-password",
        Access::public(),
        post(reset_submit),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/signout",
        Access::signed_in(),
        post(signout),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/switch-org",
        Access::signed_in(),
        post(switch_org),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/invite",
        Access::public(),
        get(invite_form),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/invite/accept",
        Access::public(),
        post(invite_accept),
    )
}
