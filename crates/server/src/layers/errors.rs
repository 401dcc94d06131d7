//! The single place where error responses get their final form.
//!
//! Errors from our handlers arrive as envelopes already. Everything else — extractor rejections,
//! 404/405 fallbacks, the body limit, the timeout — arrives as a bare status with plain text and
//! is rewritten here: into the JSON envelope on API and machine paths, into an HTML page on web
//! paths (which also get our own errors as pages, with the request id for support).

use app::AppError;
use askama::Template;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Map;

use crate::error::{Rendered, code_for, envelope};
use crate::web::{ErrorPage, FinalPage};

/// API and machine endpoints answer JSON; everything else is a web page.
pub(crate) fn is_web_path(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/static/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics"))
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("No route for {method} {}.", uri.path()),
        &Map::new(),
    )
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    envelope(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("{method} is not allowed on {}.", uri.path()),
        &Map::new(),
    )
}

/// Gives an error response its final form: the JSON envelope on API and machine paths (our own
/// envelopes pass through untouched), an HTML page on web paths.
pub(crate) async fn render(web: bool, request_id: &str, response: Response) -> Response {
    let status = response.status();
    let already_rendered = response.extensions().get::<Rendered>().is_some();
    if !web && already_rendered {
        return response;
    }
    if web && response.extensions().get::<FinalPage>().is_some() {
        // A page that shows its own error (a form with the message next to its fields).
        return response;
    }
    let app_error = response.extensions().get::<AppError>().cloned();
    let (parts, body) = response.into_parts();
    let message = match &app_error {
        Some(e) => e.message.clone(),
        None if already_rendered => default_message(status),
        None => plain_text(body)
            .await
            .unwrap_or_else(|| default_message(status)),
    };
    let mut out = if web {
        let page = ErrorPage {
            assets: crate::assets::assets(),
            version: crate::VERSION,
            status: status.as_u16(),
            title: title(status),
            message: &message,
            request_id,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering the error page failed");
                (status, message).into_response()
            }
        }
    } else {
        let code = app_error
            .as_ref()
            .map_or_else(|| code_for(status), |e| e.code);
        let details = app_error.map(|e| e.details).unwrap_or_default();
        envelope(status, code, &message, &details)
    };
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    // Keep what inner layers attached (e.g. the matched route for metrics).
    out.extensions_mut().extend(parts.extensions);
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}

/// The text body of a rejection, if short and printable.
async fn plain_text(body: Body) -> Option<String> {
    let bytes = to_bytes(body, 2048).await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    let text = text.trim();
    (!text.is_empty() && !text.starts_with('{') && !text.starts_with('<')).then(|| text.to_owned())
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "The request body is larger than this server accepts.".into()
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            "The server could not answer in time; try again shortly.".into()
        }
        StatusCode::NOT_FOUND => "This page does not exist.".into(),
        s => s.canonical_reason().unwrap_or("Error").to_owned() + ".",
    }
}

fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "You do not have access to this page",
        StatusCode::UNAUTHORIZED => "Please sign in",
        StatusCode::PAYMENT_REQUIRED => "This needs a higher plan",
        s if s.is_server_error() => "Something went wrong",
        _ => "This request could not be completed",
    }
}

#[cfg(test)]
mod tests {
    use super::is_web_path;

    #[test]
    fn api_and_machine_paths_are_not_web() {
        for p in [
            "/api/v1/x",
            "/healthz",
            "/readyz",
            "/metrics",
            "/static/a/b.css",
        ] {
            assert!(!is_web_path(p), "{p}");
        }
        for p in ["/", "/dashboard", "/nope"] {
            assert!(is_web_path(p), "{p}");
        }
    }
}
