//! `/api/v1/org/*` and `/api/v1/invites/*` (identity spec §2.4): invites, members and API
//! tokens. The org is always the principal's; ids in paths are looked up within it.

use app::identity::{AcceptInput, NewInviteInput, NewTokenInput, TransferInput};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::permission::marker::{
    ApiTokensOwn, InvitesManage, InvitesRead, MembersRead, MembersRemove, OwnershipTransfer,
    RolesAssign,
};
use domain::{Role, UserId};
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::routes;

use super::auth::private;
use crate::access::{Access, Routes};
use crate::extract::{
    ApiJson, ApiQuery, Caller, ClientInfo, MaybePrincipal, PathId, RequireFeature,
};
use crate::{ApiError, AppState, Auth};

type Answer = Result<Response, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(ApiError(app::AppError::new(
            app::ErrorKind::BadRequest,
            "invalid_query",
            "limit must be between 1 and 200.",
        ))),
    }
}

/// Invites someone by email; the link goes only to their mailbox.
#[utoipa::path(post, path = "/api/v1/org/invites", tag = "members", request_body = serde_json::Value,
    responses((status = 201, description = "Invited"), (status = 402, description = "limit_exceeded"),
        (status = 409, description = "already_member, invite_pending"), (status = 422, description = "invalid_role, invalid_email")))]
async fn create_invite(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesManage>,
    ApiJson(input): ApiJson<NewInviteInput>,
) -> Answer {
    Ok(private(
        StatusCode::CREATED,
        s.app.create_invite(&a, input).await?,
    ))
}

/// The org's invites, newest first.
#[utoipa::path(get, path = "/api/v1/org/invites", tag = "members",
    responses((status = 200, description = "A page of invites")))]
async fn list_invites(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesRead>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Answer {
    if q.role.is_some() {
        return Err(ApiError(app::AppError::new(
            app::ErrorKind::BadRequest,
            "invalid_query",
            "role is not a filter of invites.",
        )));
    }
    let limit = page_limit(q.limit)?;
    Ok(private(
        StatusCode::OK,
        s.app
            .list_invites(&a, q.status.as_deref(), q.cursor.as_deref(), limit)
            .await?,
    ))
}

/// Sends a pending invite again with a new link and a new 72 h.
#[utoipa::path(post, path = "/api/v1/org/invites/{id}/resend", tag = "members",
    params(("id" = String, Path, description = "Invite id")),
    responses((status = 200, description = "Sent again"), (status = 404, description = "No such invite"), (status = 409, description = "invite_not_pending"), (status = 429, description = "Too soon")))]
async fn resend_invite(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesManage>,
    PathId(id): PathId,
) -> Answer {
    Ok(private(StatusCode::OK, s.app.resend_invite(&a, id).await?))
}

/// Revokes a pending invite.
#[utoipa::path(delete, path = "/api/v1/org/invites/{id}", tag = "members",
    params(("id" = String, Path, description = "Invite id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such invite"), (status = 409, description = "invite_not_pending")))]
async fn revoke_invite(
    State(s): State<AppState>,
    Auth(a): Auth<InvitesManage>,
    PathId(id): PathId,
) -> Answer {
    s.app.revoke_invite(&a, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    token: String,
}

/// What an invite offers, for the holder of its token.
#[utoipa::path(get, path = "/api/v1/invites/preview", tag = "members",
    params(("token" = String, Query, description = "The mailed token")),
    responses((status = 200, description = "The invite"), (status = 400, description = "invalid_or_expired_token")))]
async fn preview_invite(State(s): State<AppState>, ApiQuery(q): ApiQuery<PreviewQuery>) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.preview_invite(&q.token).await?,
    ))
}

/// Accepts an invite: joins the org (creating the account for a new address) and signs in.
#[utoipa::path(post, path = "/api/v1/invites/accept", tag = "members", request_body = serde_json::Value,
    responses((status = 200, description = "A session in the org"), (status = 400, description = "invalid_or_expired_token"),
        (status = 402, description = "limit_exceeded"), (status = 403, description = "invite_email_mismatch"), (status = 409, description = "account_exists_login_required")))]
async fn accept_invite(
    State(s): State<AppState>,
    MaybePrincipal(p): MaybePrincipal,
    ClientInfo(c): ClientInfo,
    ApiJson(input): ApiJson<AcceptInput>,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.accept_invite(p.as_ref(), input, &c).await?,
    ))
}

/// The org's members.
#[utoipa::path(get, path = "/api/v1/org/members", tag = "members",
    responses((status = 200, description = "A page of members")))]
async fn list_members(
    State(s): State<AppState>,
    Auth(a): Auth<MembersRead>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Answer {
    if q.status.is_some() {
        return Err(ApiError(app::AppError::new(
            app::ErrorKind::BadRequest,
            "invalid_query",
            "status is not a filter of members.",
        )));
    }
    let limit = page_limit(q.limit)?;
    Ok(private(
        StatusCode::OK,
        s.app
            .list_members(&a, q.role, q.cursor.as_deref(), limit)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

/// Changes a member's role (rules R1–R4).
#[utoipa::path(patch, path = "/api/v1/org/members/{user_id}", tag = "members", request_body = serde_json::Value,
    params(("user_id" = String, Path, description = "The member's user id")),
    responses((status = 200, description = "Changed"), (status = 403, description = "owner_protected, role_above_caller"),
        (status = 404, description = "No such member"), (status = 409, description = "last_owner"), (status = 422, description = "invalid_role")))]
async fn change_role(
    State(s): State<AppState>,
    Auth(a): Auth<RolesAssign>,
    PathId(id): PathId,
    ApiJson(body): ApiJson<RoleBody>,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app
            .change_role(&a, UserId::from_uuid(id), &body.role)
            .await?,
    ))
}

/// Removes a member; their sessions in this org and their tokens for it end.
#[utoipa::path(delete, path = "/api/v1/org/members/{user_id}", tag = "members",
    params(("user_id" = String, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed"), (status = 403, description = "owner_protected"), (status = 404, description = "No such member"), (status = 409, description = "last_owner")))]
async fn remove_member(
    State(s): State<AppState>,
    Auth(a): Auth<MembersRemove>,
    PathId(id): PathId,
) -> Answer {
    s.app.remove_member(&a, UserId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Leaves the current org.
#[utoipa::path(post, path = "/api/v1/org/leave", tag = "members",
    responses((status = 204, description = "Left"), (status = 409, description = "last_owner")))]
async fn leave(State(s): State<AppState>, Caller(p): Caller) -> Answer {
    s.app.leave_org(&p).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes another member owner; the caller becomes admin.
#[utoipa::path(post, path = "/api/v1/org/ownership/transfer", tag = "members", request_body = serde_json::Value,
    responses((status = 200, description = "Transferred"), (status = 401, description = "reauth_required"), (status = 404, description = "No such member"),
        (status = 409, description = "target_not_eligible"), (status = 422, description = "cannot_transfer_to_self")))]
async fn transfer(
    State(s): State<AppState>,
    Auth(a): Auth<OwnershipTransfer>,
    ApiJson(input): ApiJson<TransferInput>,
) -> Answer {
    s.app.transfer_ownership(&a, input).await?;
    Ok(private(StatusCode::OK, json!({ "status": "transferred" })))
}

/// Creates an API token; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/org/api-tokens", tag = "api-tokens", request_body = serde_json::Value,
    responses((status = 201, description = "Created; store the token now"), (status = 402, description = "feature_not_licensed"),
        (status = 403, description = "scope_exceeds_role"), (status = 409, description = "name_taken"), (status = 422, description = "invalid_scope, scope_not_grantable, invalid_expiry")))]
async fn create_token(
    State(s): State<AppState>,
    Auth(a): Auth<ApiTokensOwn>,
    _: RequireFeature<domain::feature::marker::ApiAccess>,
    ApiJson(input): ApiJson<NewTokenInput>,
) -> Answer {
    Ok(private(
        StatusCode::CREATED,
        s.app.create_api_token(&a, input).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensQuery {
    #[serde(default)]
    all: bool,
}

/// The caller's tokens (or all of the org's, with `all=true` and `api_tokens:admin`).
#[utoipa::path(get, path = "/api/v1/org/api-tokens", tag = "api-tokens",
    params(("all" = Option<bool>, Query, description = "Every token of the org")),
    responses((status = 200, description = "Tokens, without secrets")))]
async fn list_tokens(
    State(s): State<AppState>,
    Auth(a): Auth<ApiTokensOwn>,
    ApiQuery(q): ApiQuery<TokensQuery>,
) -> Answer {
    let items = s.app.list_api_tokens(&a, q.all).await?;
    Ok(private(StatusCode::OK, json!({ "items": items })))
}

/// Revokes a token (its creator, or a token admin).
#[utoipa::path(delete, path = "/api/v1/org/api-tokens/{id}", tag = "api-tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such token")))]
async fn revoke_token(
    State(s): State<AppState>,
    Auth(a): Auth<ApiTokensOwn>,
    PathId(id): PathId,
) -> Answer {
    s.app.revoke_api_token(&a, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Registers the org routes.
pub(crate) fn routes(r: Routes) -> Routes {
    r.api(Access::member::<InvitesManage>(), routes!(create_invite))
        .api(Access::member::<InvitesRead>(), routes!(list_invites))
        .api(Access::member::<InvitesManage>(), routes!(resend_invite))
        .api(Access::member::<InvitesManage>(), routes!(revoke_invite))
        .api(Access::public(), routes!(preview_invite))
        .api(Access::public(), routes!(accept_invite))
        .api(Access::member::<MembersRead>(), routes!(list_members))
        .api(Access::member::<RolesAssign>(), routes!(change_role))
        .api(Access::member::<MembersRemove>(), routes!(remove_member))
        .api(Access::any_member(), routes!(leave))
        .api(Access::session::<OwnershipTransfer>(), routes!(transfer))
        .api(Access::session::<ApiTokensOwn>(), routes!(create_token))
        .api(Access::session::<ApiTokensOwn>(), routes!(list_tokens))
        .api(Access::session::<ApiTokensOwn>(), routes!(revoke_token))
}
