//! Invitations (`/invite`, `/invite/accept`): the preview and accepting it, with or without an
//! account.

use app::AppError;
use app::authz::Principal;
use app::identity::{AcceptInput, InvitePreview};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{Answer, TokenQuery, anonymous, failed, session_principal, signed_in};
use crate::AppState;
use crate::assets::Assets;
use crate::authn::{check_pre_session, pre_session};
use crate::extract::{ClientInfo, MaybePrincipal};
use crate::web::page::{Shell, describe, no_referrer, show_time};

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
pub(super) async fn invite_form(
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
pub(super) struct AcceptForm {
    csrf_token: String,
    token: String,
    name: String,
    password: String,
}

/// `POST /invite/accept`: joins the org (creating the account for a new address), signs in to
/// it and goes to the start page. A signed-in user posts the same form; its pre-session token
/// binds it to this browser as the session token would.
pub(super) async fn invite_accept(
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
