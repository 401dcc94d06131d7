//! `/admin/members` (web UI spec §8): members with role changes and removal, pending invites
//! with resend and revoke, and the invite form. Each form posts to its own route, declared
//! with the permission its `app` service needs; success answers 303 back to the page with a
//! one-time notice, failure shows the page again with the sentence from `app`.

use app::AppError;
use app::authz::{Authorized, Principal, authorize};
use app::identity::{NewInviteInput, TransferInput};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use domain::permission::marker::{
    InvitesManage, InvitesRead, MembersRead, MembersRemove, OwnershipTransfer, RolesAssign,
};
use domain::{Permission, UserId};
use serde::Deserialize;

use super::page::{Shell, describe, render, see_other, shell, show_time, with_retry_after};
use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::extract::PathId;
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

const PATH: &str = "/admin/members";
/// Roles a member can be given here (the app refuses what the caller may not do).
const ROLES: &[&str] = &["owner", "admin", "editor", "viewer"];
/// Roles an invite can carry (never owner).
const INVITABLE: &[&str] = &["admin", "editor", "viewer"];
/// Members and invites per page.
const PAGE: u32 = 200;

struct MemberRow {
    user_id: String,
    name: String,
    email: String,
    role: String,
    sso: bool,
    last_login: String,
    is_me: bool,
}

struct InviteRow {
    id: String,
    email: String,
    role: String,
    expires: String,
    sends: i32,
}

#[derive(Template)]
#[template(path = "admin/members.html")]
struct MembersPage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    org_name: String,
    members: Vec<MemberRow>,
    next_cursor: Option<String>,
    invites: Vec<InviteRow>,
    can_assign: bool,
    can_remove: bool,
    can_manage_invites: bool,
    roles: &'static [&'static str],
    invitable: &'static [&'static str],
    invite_email: String,
    invite_role: String,
    invite_error: Option<String>,
    can_transfer: bool,
    /// Members who could become owner: `(user id, "Name (email)")`.
    transfer_targets: Vec<(String, String)>,
    transfer_error: Option<String>,
}

/// What a page render adds to the lists: a notice, an error at the top, or an error of the
/// invite form (with what was typed).
#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    error: Option<String>,
    invite_error: Option<String>,
    invite_email: String,
    invite_role: String,
    transfer_error: Option<String>,
    cursor: Option<String>,
}

fn notice(done: &str) -> Option<&'static str> {
    match done {
        "invited" => Some("Invitation sent."),
        "resent" => Some("Invitation sent again with a new link."),
        "revoked" => Some("Invitation revoked."),
        "role_changed" => Some("Role changed."),
        "removed" => Some("Member removed."),
        "transferred" => Some("Ownership transferred. You are now an admin of this organization."),
        _ => None,
    }
}

/// Builds the page for `principal` (who holds at least `members:read` and `invites:read`).
async fn members_page(
    state: &AppState,
    principal: &Principal,
    extras: Extras,
) -> Result<MembersPage, AppError> {
    let members_read = authorize::<MembersRead>(Some(principal))?;
    let invites_read = authorize::<InvitesRead>(Some(principal))?;
    let members = state
        .app
        .list_members(&members_read, None, extras.cursor.as_deref(), PAGE)
        .await?;
    let invites = state
        .app
        .list_invites(&invites_read, Some("pending"), None, PAGE)
        .await?;
    let shell = shell(state, Some(principal), PATH).await?;
    let csrf = crate::authn::csrf_token(state, principal.credential_id);
    let org_name = shell
        .as_ref()
        .map(|s| s.org_label.clone())
        .unwrap_or_default();
    let transfer_targets = members
        .items
        .iter()
        .filter(|m| m.user_id != principal.user_id && m.role != domain::Role::Owner)
        .map(|m| {
            let label = if m.name.is_empty() {
                m.email.clone()
            } else {
                format!("{} ({})", m.name, m.email)
            };
            (m.user_id.to_string(), label)
        })
        .collect();
    Ok(MembersPage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        shell,
        csrf,
        notice: extras.notice,
        error: extras.error,
        org_name,
        members: members
            .items
            .into_iter()
            .map(|m| MemberRow {
                user_id: m.user_id.to_string(),
                is_me: m.user_id == principal.user_id,
                name: if m.name.is_empty() {
                    m.email.clone()
                } else {
                    m.name
                },
                email: m.email,
                role: m.role.to_string(),
                sso: m.sso_linked,
                last_login: m
                    .last_login_at
                    .as_deref()
                    .map_or_else(|| "Never".to_owned(), show_time),
            })
            .collect(),
        next_cursor: members.next_cursor,
        invites: invites
            .items
            .into_iter()
            .map(|i| InviteRow {
                id: i.id.to_string(),
                email: i.email,
                role: i.role.to_string(),
                expires: show_time(&i.expires_at),
                sends: i.send_count,
            })
            .collect(),
        can_assign: principal.holds(Permission::RolesAssign),
        can_remove: principal.holds(Permission::MembersRemove),
        can_manage_invites: principal.holds(Permission::InvitesManage),
        roles: ROLES,
        invitable: INVITABLE,
        invite_email: extras.invite_email,
        invite_role: if extras.invite_role.is_empty() {
            "viewer".to_owned()
        } else {
            extras.invite_role
        },
        invite_error: extras.invite_error,
        can_transfer: principal.holds(Permission::OwnershipTransfer),
        transfer_targets,
        transfer_error: extras.transfer_error,
    })
}

/// The page again after a failed action, with the status of the error.
async fn failed(state: &AppState, principal: &Principal, e: &AppError, extras: Extras) -> Answer {
    let page = members_page(state, principal, extras).await?;
    Ok(with_retry_after(
        render(crate::error::status_of(e.kind), &page),
        e,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    done: String,
    cursor: Option<String>,
}

/// `GET /admin/members`.
async fn list(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesRead>,
    Query(q): Query<PageQuery>,
) -> Answer {
    let extras = Extras {
        notice: notice(&q.done),
        cursor: q.cursor.filter(|c| !c.is_empty()),
        ..Extras::default()
    };
    let page = members_page(&s, a.principal(), extras).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InviteForm {
    email: String,
    role: String,
}

/// `POST /admin/invites`: `limit_exceeded` and every other refusal show next to the form.
async fn invite(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesManage>,
    Form(f): Form<InviteForm>,
) -> Answer {
    let input = NewInviteInput {
        email: f.email.clone(),
        role: f.role.clone(),
    };
    match s.app.create_invite(&a, input).await {
        Ok(_) => Ok(see_other("/admin/members?done=invited")),
        Err(e) => {
            let extras = Extras {
                invite_error: Some(describe(&e)),
                invite_email: f.email,
                invite_role: f.role,
                ..Extras::default()
            };
            failed(&s, a.principal(), &e, extras).await
        }
    }
}

/// Shows an action's outcome: 303 with a notice, or the page with the error.
async fn outcome<T>(
    state: &AppState,
    principal: &Principal,
    result: Result<T, AppError>,
    done: &str,
) -> Answer {
    match result {
        Ok(_) => Ok(see_other(&format!("{PATH}?done={done}"))),
        Err(e) => {
            let extras = Extras {
                error: Some(describe(&e)),
                ..Extras::default()
            };
            failed(state, principal, &e, extras).await
        }
    }
}

/// `POST /admin/invites/{id}/resend`.
async fn resend(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesManage>,
    PathId(id): PathId,
) -> Answer {
    let result = s.app.resend_invite(&a, id).await;
    outcome(&s, a.principal(), result, "resent").await
}

/// `POST /admin/invites/{id}/revoke`.
async fn revoke(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesManage>,
    PathId(id): PathId,
) -> Answer {
    let result = s.app.revoke_invite(&a, id).await;
    outcome(&s, a.principal(), result, "revoked").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleForm {
    role: String,
}

/// `POST /admin/members/{user_id}/role`.
async fn change_role(
    State(s): State<AppState>,
    Auth(a): Auth<RolesAssign>,
    PathId(id): PathId,
    Form(f): Form<RoleForm>,
) -> Answer {
    let result = s.app.change_role(&a, UserId::from_uuid(id), &f.role).await;
    outcome(&s, a.principal(), result, "role_changed").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TransferForm {
    new_owner_user_id: String,
    current_password: String,
}

/// `POST /admin/members/transfer`: the chosen member becomes owner, the caller admin; the
/// caller confirms with their current password.
async fn transfer(
    State(s): State<AppState>,
    Auth(a): Auth<OwnershipTransfer>,
    Form(f): Form<TransferForm>,
) -> Answer {
    let result = match f.new_owner_user_id.parse::<UserId>() {
        Ok(target) => {
            let input = TransferInput {
                new_owner_user_id: target,
                current_password: (!f.current_password.is_empty()).then_some(f.current_password),
            };
            s.app.transfer_ownership(&a, input).await
        }
        Err(_) => Err(AppError::new(
            app::ErrorKind::Invalid,
            "invalid_field",
            "Choose the member who becomes owner.",
        )),
    };
    match result {
        Ok(()) => Ok(see_other("/admin/members?done=transferred")),
        Err(e) => {
            let extras = Extras {
                transfer_error: Some(describe(&e)),
                ..Extras::default()
            };
            failed(&s, a.principal(), &e, extras).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/remove_member.html")]
struct RemovePage {
    assets: &'static Assets,
    version: &'static str,
    shell: Option<Shell>,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    org_name: String,
    user_id: String,
    name: String,
    email: String,
}

/// `GET /admin/members/{user_id}/remove`: the confirmation (a page, so it works without
/// JavaScript).
async fn confirm_remove(
    State(s): State<AppState>,
    Auth(a): Auth<MembersRemove>,
    PathId(id): PathId,
) -> Answer {
    let principal = a.principal();
    let read: Authorized<MembersRead> = authorize(Some(principal))?;
    let user = UserId::from_uuid(id);
    let mut cursor: Option<String> = None;
    let member = loop {
        let page = s
            .app
            .list_members(&read, None, cursor.as_deref(), PAGE)
            .await?;
        if let Some(m) = page.items.into_iter().find(|m| m.user_id == user) {
            break m;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => {
                return Err(ApiError(AppError::new(
                    app::ErrorKind::NotFound,
                    "not_found",
                    "No such member.",
                )));
            }
        }
    };
    let shell = shell(&s, Some(principal), PATH).await?;
    let page = RemovePage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        csrf: crate::authn::csrf_token(&s, principal.credential_id),
        org_name: shell
            .as_ref()
            .map(|s| s.org_label.clone())
            .unwrap_or_default(),
        shell,
        notice: None,
        error: None,
        user_id: member.user_id.to_string(),
        name: if member.name.is_empty() {
            member.email.clone()
        } else {
            member.name
        },
        email: member.email,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /admin/members/{user_id}/remove`.
async fn remove(
    State(s): State<AppState>,
    Auth(a): Auth<MembersRemove>,
    PathId(id): PathId,
) -> Answer {
    let result = s.app.remove_member(&a, UserId::from_uuid(id)).await;
    outcome(&s, a.principal(), result, "removed").await
}

/// Registers the members pages. Web pages take sessions only; the page itself needs
/// `invites:read` (admins and owners), which implies `members:read`.
pub(crate) fn routes(r: Routes) -> Routes {
    r.route(
        Surface::Web,
        Method::GET,
        PATH,
        Access::session::<InvitesRead>(),
        get(list),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/admin/invites",
        Access::session::<InvitesManage>(),
        post(invite),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/admin/invites/{id}/resend",
        Access::session::<InvitesManage>(),
        post(resend),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/admin/invites/{id}/revoke",
        Access::session::<InvitesManage>(),
        post(revoke),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/admin/members/{user_id}/role",
        Access::session::<RolesAssign>(),
        post(change_role),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/admin/members/transfer",
        Access::session::<OwnershipTransfer>(),
        post(transfer),
    )
    .route(
        Surface::Web,
        Method::GET,
        "/admin/members/{user_id}/remove",
        Access::session::<MembersRemove>(),
        get(confirm_remove),
    )
    .route(
        Surface::Web,
        Method::POST,
        "/admin/members/{user_id}/remove",
        Access::session::<MembersRemove>(),
        post(remove),
    )
}
