//! `/api/v1/auth/*` and `/api/v1/setup` (identity spec §2.3): thin handlers over the `app`
//! identity services. Every answer here carries `Cache-Control: no-store`.

use app::identity::{
    ForgotInput, LoginInput, PasswordChangeInput, RegisterInput, ResetInput, SetupInput,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::OrgId;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::routes;

use crate::access::{Access, Routes};
use crate::extract::{ApiJson, Caller, ClientInfo, MaybePrincipal};
use crate::{ApiError, AppState};

/// A JSON answer that must not be cached (tokens, personal data).
pub(crate) fn private(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

type Answer = Result<Response, ApiError>;

/// An optional JSON body (empty → None) for endpoints that also work from cookies.
fn optional_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        let code = if e.to_string().contains("unknown field") {
            "unknown_field"
        } else {
            "invalid_json"
        };
        ApiError(app::AppError::new(
            app::ErrorKind::BadRequest,
            code,
            format!("The body is not valid: {e}."),
        ))
    })
}

/// Creates an account and its community org; 202 whether or not the address is known.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = serde_json::Value,
    responses((status = 202, description = "Check your email"), (status = 422, description = "invalid_email, weak_password"),
        (status = 403, description = "registration_closed"), (status = 429, description = "Throttled")))]
async fn register(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(input): ApiJson<RegisterInput>,
) -> Answer {
    s.app.register(input, &c).await?;
    Ok(private(
        StatusCode::ACCEPTED,
        json!({ "status": "check_email" }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

/// Confirms an email address with the mailed token.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "Verified"), (status = 400, description = "invalid_or_expired_token")))]
async fn verify_email(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(body): ApiJson<TokenBody>,
) -> Answer {
    s.app.verify_email(&body.token, &c).await?;
    Ok(private(StatusCode::OK, json!({ "status": "verified" })))
}

/// Sends a new verification link if the account exists and is unverified; always 202.
#[utoipa::path(post, path = "/api/v1/auth/verify-email/resend", tag = "auth", request_body = serde_json::Value,
    responses((status = 202, description = "Check your email"), (status = 422, description = "invalid_email")))]
async fn resend_verification(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(body): ApiJson<ForgotInput>,
) -> Answer {
    s.app.resend_verification(&body.email, &c).await?;
    Ok(private(
        StatusCode::ACCEPTED,
        json!({ "status": "check_email" }),
    ))
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "Token pair, user, org and role"), (status = 401, description = "invalid_credentials"),
        (status = 403, description = "email_not_verified, account_disabled, org_not_available"), (status = 429, description = "too_many_attempts")))]
async fn login(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(input): ApiJson<LoginInput>,
) -> Answer {
    Ok(private(StatusCode::OK, s.app.login(input, &c).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Rotates a refresh token (body, or the refresh cookie) into a new pair.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "New token pair"),
        (status = 401, description = "invalid_refresh_token, session_revoked, refresh_reuse_detected")))]
async fn refresh(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    let body: Option<RefreshBody> = optional_json(&body)?;
    let names = crate::authn::cookie_names(&s);
    let token = body
        .and_then(|b| b.refresh_token)
        .or_else(|| crate::authn::cookie(&headers, names.refresh).map(str::to_owned))
        .ok_or_else(|| {
            ApiError(app::AppError::new(
                app::ErrorKind::Unauthenticated,
                "invalid_refresh_token",
                "Send the refresh token.",
            ))
        })?;
    Ok(private(StatusCode::OK, s.app.refresh(&token, &c).await?))
}

/// Ends the caller's session (by access token or refresh token); idempotent.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "Signed out")))]
async fn logout(
    State(s): State<AppState>,
    MaybePrincipal(p): MaybePrincipal,
    body: axum::body::Bytes,
) -> Answer {
    let body: Option<RefreshBody> = optional_json(&body)?;
    let token = body.and_then(|b| b.refresh_token);
    s.app.logout(p.as_ref(), token.as_deref()).await?;
    let mut response = private(StatusCode::OK, json!({ "idp_logout_url": null }));
    for c in crate::authn::clear_cookies(crate::authn::cookie_names(&s)) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}

/// Ends every session of the caller (API tokens stay).
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    responses((status = 200, description = "Number of sessions ended")))]
async fn logout_all(State(s): State<AppState>, Caller(p): Caller) -> Answer {
    let n = s.app.logout_all(&p).await?;
    Ok(private(StatusCode::OK, json!({ "revoked_sessions": n })))
}

/// The caller: user, org, role, effective permissions and memberships.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, description = "The caller"), (status = 401, description = "Not signed in")))]
async fn me(State(s): State<AppState>, Caller(p): Caller) -> Answer {
    Ok(private(StatusCode::OK, s.app.me(&p).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    org_id: OrgId,
}

/// Moves the session to another org of the caller and returns a new pair.
#[utoipa::path(post, path = "/api/v1/auth/switch-org", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "New token pair"), (status = 404, description = "Not a member")))]
async fn switch_org(
    State(s): State<AppState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<SwitchBody>,
) -> Answer {
    Ok(private(
        StatusCode::OK,
        s.app.switch_org(&p, body.org_id).await?,
    ))
}

/// Changes the caller's password; every other session ends.
#[utoipa::path(post, path = "/api/v1/auth/password/change", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "Changed"), (status = 401, description = "invalid_credentials"), (status = 422, description = "weak_password")))]
async fn change_password(
    State(s): State<AppState>,
    Caller(p): Caller,
    ApiJson(input): ApiJson<PasswordChangeInput>,
) -> Answer {
    s.app.change_password(&p, input).await?;
    Ok(private(StatusCode::OK, json!({ "status": "changed" })))
}

/// Mails a reset link if the account exists; always 202.
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "auth", request_body = serde_json::Value,
    responses((status = 202, description = "Check your email"), (status = 422, description = "invalid_email")))]
async fn forgot_password(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(body): ApiJson<ForgotInput>,
) -> Answer {
    s.app.forgot_password(&body.email, &c).await?;
    Ok(private(
        StatusCode::ACCEPTED,
        json!({ "status": "check_email" }),
    ))
}

/// Sets a new password with the mailed token; every session ends.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth", request_body = serde_json::Value,
    responses((status = 200, description = "Password set"), (status = 400, description = "invalid_or_expired_token"), (status = 422, description = "weak_password")))]
async fn reset_password(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(input): ApiJson<ResetInput>,
) -> Answer {
    s.app.reset_password(input, &c).await?;
    Ok(private(
        StatusCode::OK,
        json!({ "status": "password_reset" }),
    ))
}

/// First run: creates the owner, the first org and the platform admin; 409 afterwards.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = serde_json::Value,
    responses((status = 201, description = "Set up; the owner is signed in"), (status = 409, description = "setup_complete")))]
async fn setup(
    State(s): State<AppState>,
    ClientInfo(c): ClientInfo,
    ApiJson(input): ApiJson<SetupInput>,
) -> Answer {
    Ok(private(StatusCode::CREATED, s.app.setup(input, &c).await?))
}

/// Bodies of the account endpoints are small; anything larger is refused with 413 (identity
/// spec §8.4: auth 16 KiB).
const AUTH_BODY_LIMIT: usize = 16 * 1024;

fn small(
    (schemas, paths, method_router): utoipa_axum::router::UtoipaMethodRouter<AppState>,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    (
        schemas,
        paths,
        method_router.layer(axum::extract::DefaultBodyLimit::max(AUTH_BODY_LIMIT)),
    )
}

/// Registers the account and session routes.
pub(crate) fn routes(r: Routes) -> Routes {
    r.api(Access::public(), small(routes!(register)))
        .api(Access::public(), small(routes!(verify_email)))
        .api(Access::public(), small(routes!(resend_verification)))
        .api(Access::public(), small(routes!(login)))
        .api(Access::public(), small(routes!(refresh)))
        .api(Access::public(), small(routes!(logout)))
        .api(Access::signed_in(), small(routes!(logout_all)))
        .api(Access::authenticated(), routes!(me))
        .api(Access::signed_in(), small(routes!(switch_org)))
        .api(Access::signed_in(), small(routes!(change_password)))
        .api(Access::public(), small(routes!(forgot_password)))
        .api(Access::public(), small(routes!(reset_password)))
        .api(Access::public(), small(routes!(setup)))
}
