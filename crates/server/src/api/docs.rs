//! `GET /api/v1/openapi.json` and the API reference page `GET /api/docs`.

use askama::Template;
use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::access::{Access, Routes, Surface};
use crate::assets::Assets;
use crate::{ApiError, AppState};

async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        state.openapi_json.clone(),
    )
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage<'a> {
    assets: &'a Assets,
    version: &'a str,
}

async fn api_docs() -> Response {
    let page = ApiDocsPage {
        assets: crate::assets::assets(),
        version: crate::VERSION,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::from(crate::web::template_error(&e)).into_response(),
    }
}

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(
            Surface::Machine,
            Method::GET,
            "/api/v1/openapi.json",
            Access::public(),
            get(openapi_json),
        )
        .route(
            Surface::Web,
            Method::GET,
            "/api/docs",
            Access::public(),
            get(api_docs),
        )
}
