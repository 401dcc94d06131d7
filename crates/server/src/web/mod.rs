//! Server-rendered pages (askama templates compiled into the binary, htmx for fragments).

use app::{AppError, ErrorKind};
use askama::Template;
use axum::extract::State;
use axum::http::Method;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::{ApiError, AppState};

/// The error page (404, 403, 500, …), rendered by the error layer for web paths.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub assets: &'a Assets,
    pub version: &'a str,
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    assets: &'a Assets,
    version: &'a str,
    backend: &'a str,
    mode: &'a str,
}

/// A template that fails to render is a bug: log it, answer 500.
pub(crate) fn template_error(e: &askama::Error) -> AppError {
    tracing::error!(error = %e, "template rendering failed");
    AppError::new(
        ErrorKind::Internal,
        "internal_error",
        "An unexpected error occurred.",
    )
}

async fn landing(State(state): State<AppState>) -> Response {
    let page = Landing {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        backend: state.app.backend(),
        mode: &state.config.mode,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError(template_error(&e)).into_response(),
    }
}

/// Registers the pages and the static file route.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .route(
            Surface::Web,
            Method::GET,
            "/",
            Access::public(),
            get(landing),
        )
        .route(
            Surface::Machine,
            Method::GET,
            "/static/{hash}/{*path}",
            Access::public(),
            get(crate::assets::serve),
        )
}
