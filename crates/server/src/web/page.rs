//! What every page handler shares: the signed-in header (org switcher, sign out), rendering a
//! template into a final response, redirects, safe `next` targets, and error sentences.

use app::AppError;
use app::authz::{Credential, Principal};
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use domain::Permission;

use super::{FinalPage, template_error};
use crate::{ApiError, AppState};

/// One organization in the switcher.
#[derive(Debug, Clone)]
pub(crate) struct OrgChoice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

/// The signed-in part of the header (`templates/layout.html`).
#[derive(Debug, Clone)]
pub(crate) struct Shell {
    /// Display name (the email when the user has no name).
    pub name: String,
    pub email: String,
    /// The current org's name (the switcher is plain text with one org).
    pub org_label: String,
    pub orgs: Vec<OrgChoice>,
    /// The session's synchronizer token.
    pub csrf: String,
    /// The current path, where switching org returns to.
    pub here: String,
    /// Whether the navigation shows the Dashboard (members holding `analytics:read`).
    pub dashboard_link: bool,
    /// Whether the caller may open `/admin/members`.
    pub members_link: bool,
    /// Whether the navigation shows License (owners and admins, self-hosted).
    pub license_link: bool,
    /// Whether the navigation shows Billing (owners and admins, SaaS).
    pub billing_link: bool,
    /// Licensing banners (owners and admins only).
    pub banners: Vec<super::license::Banner>,
}

/// The header of a signed-in browser session; `None` for anonymous callers and API tokens.
pub(crate) async fn shell(
    state: &AppState,
    principal: Option<&Principal>,
    here: &str,
) -> Result<Option<Shell>, AppError> {
    let Some(p) = principal.filter(|p| p.credential == Credential::Session) else {
        return Ok(None);
    };
    let me = state.app.me(p).await?;
    let current = me.org.as_ref().map(|o| o.id);
    let (banners, license_link) = super::license::shell_extras(state, p).await;
    let orgs = me
        .memberships
        .iter()
        .map(|m| OrgChoice {
            id: m.org_id.to_string(),
            label: format!("{} ({})", m.name, m.role),
            selected: Some(m.org_id) == current,
        })
        .collect();
    Ok(Some(Shell {
        name: if me.user.name.is_empty() {
            me.user.email.clone()
        } else {
            me.user.name.clone()
        },
        email: me.user.email,
        org_label: me
            .org
            .map_or_else(|| "No organization".to_owned(), |o| o.name),
        orgs,
        csrf: crate::authn::csrf_token(state, p.credential_id),
        here: here.to_owned(),
        dashboard_link: p.holds(Permission::AnalyticsRead),
        members_link: p.holds(Permission::InvitesRead),
        license_link,
        billing_link: p.holds(Permission::BillingRead) && state.app.ensure_saas().is_ok(),
        banners,
    }))
}

/// A rendered page with `status`: HTML, never cached (pages carry CSRF tokens and personal
/// data), and final — the error layer leaves it as it is, even for a 4xx.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response.extensions_mut().insert(FinalPage);
            response
        }
        Err(e) => ApiError(template_error(&e)).into_response(),
    }
}

/// Adds `Set-Cookie` headers.
pub(crate) fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// For pages whose URL carries a token (identity spec §8.1).
pub(crate) fn no_referrer(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// 303 See Other to a local path (the answer to a successful form post).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    response.headers_mut().insert(header::LOCATION, value);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A redirect target from a form or query: a local path (with its query), else `/`. Rejects
/// absolute and protocol-relative URLs (`//host`, `/\host`) so nobody can bounce a user to
/// another site through our sign-in.
pub(crate) fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok { next } else { "/" }
}

/// The sentence to show for an error from `app`. Throttling is stated in minutes, as the
/// sign-in page promises ("Too many attempts. Try again in N minutes.").
pub(crate) fn describe(e: &AppError) -> String {
    if e.kind == app::ErrorKind::TooManyRequests
        && let Some(secs) = e.details.get("retry_after_s").and_then(|v| v.as_u64())
    {
        let minutes = secs.div_ceil(60).max(1);
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        return format!("Too many attempts. Try again in {minutes} {unit}.");
    }
    e.message.clone()
}

/// Adds `Retry-After` to a page that reports throttling.
pub(crate) fn with_retry_after(mut response: Response, e: &AppError) -> Response {
    if let Some(secs) = e.details.get("retry_after_s").and_then(|v| v.as_u64()) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A time from the API (RFC 3339) as pages show it: `12 Mar 2025, 09:00 UTC`.
pub(crate) fn show_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%-d %b %Y, %H:%M UTC")
                .to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_this_site() {
        assert_eq!(safe_next("/admin/members"), "/admin/members");
        assert_eq!(safe_next("/invite?token=abc"), "/invite?token=abc");
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/a\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn throttling_is_stated_in_minutes() {
        let e = AppError::new(
            app::ErrorKind::TooManyRequests,
            "too_many_attempts",
            "Too many attempts. Try again in 30 seconds.",
        )
        .with("retry_after_s", 30);
        assert_eq!(describe(&e), "Too many attempts. Try again in 1 minute.");
        let e = e.with("retry_after_s", 61);
        assert_eq!(describe(&e), "Too many attempts. Try again in 2 minutes.");
    }

    #[test]
    fn times_are_shown_in_utc_with_the_zone_named() {
        assert_eq!(show_time("2025-03-12T09:00:00Z"), "12 Mar 2025, 09:00 UTC");
        assert_eq!(show_time("garbage"), "garbage");
    }
}
