//! `X-Request-Id`: taken from the client when it is a sane token, otherwise a new UUIDv7; put on
//! the request (for logs and error pages) and on every response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;

/// The id of the current request.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

const HEADER: &str = "x-request-id";

fn acceptable(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(crate) async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(HEADER, value.clone());
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, value);
    response
}

/// The trace span of a request: method, path (never the query string, which may hold tokens)
/// and request id.
pub(crate) fn span(request: &Request) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", |r| r.0.as_str());
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn client_ids_must_be_short_plain_tokens() {
        assert!(acceptable("0192f1c2-aaaa-7bbb-8ccc-0123456789ab"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("<script>"));
        assert!(!acceptable(&"x".repeat(65)));
    }
}
