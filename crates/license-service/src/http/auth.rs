//! HMAC-signed requests from ops and admin tooling (billing spec §6.1): the `Signed` extractor
//! checks the key, its scope for the route, the time, the signature and the one-time nonce
//! before the handler sees the body.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use license::service_auth::{self, Scope};
use serde_json::json;

use crate::db::nonces;
use crate::service::Service;

/// A verified request: the key that signed it and the body it covered.
#[derive(Debug)]
pub struct Signed {
    /// The signing key id.
    pub kid: String,
    /// The body.
    pub body: Bytes,
}

impl Signed {
    /// The body as JSON of `T`; a body that is not gives 422 `invalid_request`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::service::SvcError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| crate::service::SvcError::invalid(422, "invalid_request", e.to_string()))
    }
}

/// The one refusal for every reason (the reason goes to a counter, never to the caller).
pub struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized"})),
        )
            .into_response()
    }
}

/// The scope a path needs (§6.1 step 1).
fn scope_of(path: &str) -> Scope {
    if path.starts_with("/v1/licenses") {
        Scope::Admin
    } else if path.starts_with("/v1/entitlements/") && path.ends_with("/comp") {
        Scope::OpsComp
    } else {
        Scope::Ops
    }
}

impl FromRequest<Service> for Signed {
    type Rejection = Response;

    async fn from_request(req: Request, svc: &Service) -> Result<Self, Self::Rejection> {
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = Bytes::from_request(req, svc)
            .await
            .map_err(IntoResponse::into_response)?;
        let now = svc.clock.now();
        let refuse = |reason: &str| {
            metrics::counter!("service_auth_failures_total", "reason" => reason.to_owned())
                .increment(1);
            Unauthorized.into_response()
        };
        let verified = service_auth::verify(
            &header,
            &service_auth::Request {
                method: &method,
                path: &path,
                query: &query,
                body: &body,
            },
            &svc.config.auth,
            scope_of(&path),
            now.timestamp(),
        )
        .map_err(|r| refuse(&format!("{r:?}")))?;
        let expires = chrono::DateTime::from_timestamp(verified.ts, 0).unwrap_or(now)
            + Duration::seconds(600);
        let mut c = svc
            .store
            .acquire()
            .await
            .map_err(|e| crate::service::SvcError::from(e).into_response())?;
        let fresh = nonces::insert(&mut c.conn(), &verified.kid, &verified.nonce, expires)
            .await
            .map_err(|e| crate::service::SvcError::from(e).into_response())?;
        if !fresh {
            return Err(refuse("Replay"));
        }
        Ok(Signed {
            kid: verified.kid,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_their_scopes() {
        assert_eq!(scope_of("/v1/checkout-sessions"), Scope::Ops);
        assert_eq!(scope_of("/v1/entitlements/0190"), Scope::Ops);
        assert_eq!(scope_of("/v1/entitlements/0190/comp"), Scope::OpsComp);
        assert_eq!(scope_of("/v1/licenses/abc/revoke"), Scope::Admin);
    }
}
