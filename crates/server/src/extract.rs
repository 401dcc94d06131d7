//! Typed extractors.

use app::authz::{Authorized, Principal, authorize};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::PermissionMarker;

use app::{AppError, ErrorKind};

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

/// A JSON body with the bad-input answers of identity spec §8.4: wrong content type → 415,
/// malformed JSON → 400 `invalid_json`, an unknown field → 400 `unknown_field`, a missing or
/// mistyped field → 422 `invalid_field`.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text.rsplit(": ").next().unwrap_or(&text).to_owned();
                let e = match rejection {
                    JsonRejection::MissingJsonContentType(_) => AppError::new(
                        ErrorKind::UnsupportedMediaType,
                        "unsupported_media_type",
                        "Send the body as JSON with Content-Type: application/json.",
                    ),
                    JsonRejection::JsonDataError(_) if text.contains("unknown field") => {
                        AppError::new(
                            ErrorKind::BadRequest,
                            "unknown_field",
                            format!(
                                "The body has a field this endpoint does not accept: {detail}."
                            ),
                        )
                    }
                    JsonRejection::JsonDataError(_) => AppError::new(
                        ErrorKind::Invalid,
                        "invalid_field",
                        format!("The body does not have the expected fields: {detail}."),
                    ),
                    JsonRejection::BytesRejection(_) => AppError::new(
                        ErrorKind::PayloadTooLarge,
                        "payload_too_large",
                        "The body is too large or could not be read.",
                    ),
                    _ => AppError::new(
                        ErrorKind::BadRequest,
                        "invalid_json",
                        format!("The body is not valid JSON: {detail}."),
                    ),
                };
                Err(ApiError(e))
            }
        }
    }
}

/// Query parameters; unknown or malformed ones → 400 `invalid_query`.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| {
                ApiError(AppError::new(
                    ErrorKind::BadRequest,
                    "invalid_query",
                    format!("The query string is not valid: {e}."),
                ))
            })
    }
}

/// A UUID path parameter; anything else → 400 `invalid_id`.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let invalid = || {
            ApiError(AppError::new(
                ErrorKind::BadRequest,
                "invalid_id",
                "The id in the path is not a valid id.",
            ))
        };
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| invalid())?;
        uuid::Uuid::parse_str(&raw)
            .map(PathId)
            .map_err(|_| invalid())
    }
}

/// The calling client (IP from the trusted-proxy rule, user agent).
#[derive(Debug, Clone)]
pub struct ClientInfo(pub app::identity::Client);

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<crate::client_ip::ClientIp>()
            .copied();
        Ok(ClientInfo(crate::authn::client(&parts.headers, ip)))
    }
}

/// The principal if the request is authenticated (public routes that also serve signed-in
/// callers: logout, invite acceptance).
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybePrincipal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybePrincipal(parts.extensions.get::<Principal>().cloned()))
    }
}

/// The authenticated principal of a guarded route (any declaration but public).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError(app::authz::unauthenticated()))
    }
}

/// The HTTP gate of a paid feature (entitlements spec §5.5): a handler taking
/// `RequireFeature<F>` runs only when the caller's org may use `F`; otherwise the §6 refusal
/// (402 `feature_not_licensed`, 403 `feature_disabled`, 503 `entitlements_unavailable`). The
/// org is always the authenticated principal's.
#[derive(Debug, Clone, Copy)]
pub struct RequireFeature<F: domain::FeatureMarker>(std::marker::PhantomData<F>);

impl<F: domain::FeatureMarker> FromRequestParts<crate::AppState> for RequireFeature<F> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .ok_or_else(|| ApiError(app::authz::unauthenticated()))?;
        state.app.require(principal.org()?, F::FEATURE).await?;
        Ok(RequireFeature(std::marker::PhantomData))
    }
}

/// Present only in SaaS mode: the license webhook and billing answer 404 on a self-hosted
/// instance before anything else (body checks included) is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Saas;

impl FromRequestParts<crate::AppState> for Saas {
    type Rejection = ApiError;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        state.app.ensure_saas()?;
        Ok(Saas)
    }
}

/// This request's id (`X-Request-Id`, set by the edge on every request), passed on to
/// license-svc so a retried request reuses the same Stripe idempotency key.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
        Ok(RequestId(id))
    }
}
