//! Typed extractors.

use app::authz::{Authorized, Principal, authorize};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::PermissionMarker;

use crate::ApiError;

/// The capability for permission `P`: a handler taking `Auth<P>` cannot run for a caller
/// without `P`, whatever the route declared. The route declaration (see [`crate::access`])
/// enforces the same permission before the body is read; this extractor makes the handler's
/// own signature state it too, and hands the capability to the `app` service.
#[derive(Debug, Clone)]
pub struct Auth<P: PermissionMarker>(pub Authorized<P>);

impl<P: PermissionMarker, S: Send + Sync> FromRequestParts<S> for Auth<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Auth(authorize::<P>(parts.extensions.get::<Principal>())?))
    }
}
