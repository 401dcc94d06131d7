//! The OpenAPI 3.1 document's metadata; operations are added by `utoipa_axum::routes!` as routes
//! are registered, so the document is generated from the handlers and cannot drift from them.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dev Health API",
        description = "Engineering analytics with an enterprise layer. JSON over HTTPS under /api/v1. \
Errors use one envelope: {\"error\": code, \"message\": text, ...details}; every response carries X-Request-Id.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "system", description = "Health, readiness and metrics of this process"),
    )
)]
struct ApiDoc;

/// The document before any operation is added.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_owned();
    doc
}
