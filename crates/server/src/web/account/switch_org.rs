//! Switching org (`/switch-org`; signed in: the route guard checks the session's CSRF token).

use app::AppError;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use domain::OrgId;
use serde::Deserialize;

use super::Answer;
use crate::authn::{cookie_names, session_cookies};
use crate::extract::Caller;
use crate::web::page::{safe_next, see_other, with_cookies};
use crate::{ApiError, AppState};

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SwitchForm {
    org_id: String,
    next: String,
}

/// `POST /switch-org`: new tokens for another org of the caller, then back to the same path
/// without its query (filters such as team or repo belong to the old org).
pub(super) async fn switch_org(
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
