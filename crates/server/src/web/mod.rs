//! Server-rendered pages (askama templates compiled into the binary, htmx for fragments).
//!
//! Pages extending `layout.html` show the signed-in header (org switcher, sign out) from a
//! [`page::Shell`]. Every page works without JavaScript: forms are plain POSTs with a CSRF
//! token, answered by a 303 to a page, or by the form again with the error next to it.

mod account;
mod billing;
mod dashboard;
mod gate;
mod license;
mod members;
mod page;

use app::{AppError, ErrorKind};
use askama::Template;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;

use crate::AppState;
use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::extract::MaybePrincipal;

/// Marks a response that is a finished page even though its status is an error (a form shown
/// again with its message): the error layer passes it through instead of drawing the error page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinalPage;

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
    shell: Option<page::Shell>,
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

async fn landing(
    State(state): State<AppState>,
    MaybePrincipal(p): MaybePrincipal,
    uri: Uri,
) -> Response {
    // The start page is public: a session that cannot be shown just gets the anonymous header.
    let shell = page::shell(&state, p.as_ref(), uri.path())
        .await
        .unwrap_or_default();
    let landing = Landing {
        assets: crate::assets::assets(),
        version: crate::VERSION,
        shell,
        backend: state.app.backend(),
        mode: &state.config.mode,
    };
    page::render(StatusCode::OK, &landing)
}

/// Registers the pages and the static file route.
pub(crate) fn routes(routes: Routes) -> Routes {
    let routes = dashboard::routes(billing::routes(license::routes(members::routes(
        account::routes(routes),
    ))));
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
