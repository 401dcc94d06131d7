//! `X-Request-Id`: taken from the client when it is a sane token, otherwise a new UUIDv7; put on
//! the request (for handlers and error pages) and on every response.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

/// The id of the current request (a header value: cloning it is a reference-count increment).
#[derive(Debug, Clone)]
pub(crate) struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text (always ASCII by construction).
    pub(crate) fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

const HEADER: HeaderName = HeaderName::from_static("x-request-id");

fn acceptable(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Chooses the id and writes it on the request header (replacing an unacceptable one).
pub(crate) fn assign(request: &mut Request) -> RequestId {
    if let Some(value) = request.headers().get(&HEADER)
        && let Ok(text) = value.to_str()
        && acceptable(text)
    {
        return RequestId(value.clone());
    }
    // A UUIDv7 from the thread-local generator: `Uuid::now_v7` serializes every request on a
    // process-wide mutex for its counter, which request ids do not need.
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &rand::random()).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid.hyphenated().encode_lower(&mut buf);
    let value = HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(HEADER, value.clone());
    RequestId(value)
}

/// Puts the id on the response.
pub(crate) fn set(id: &RequestId, response: &mut Response) {
    response.headers_mut().insert(HEADER, id.0.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_must_be_short_plain_tokens() {
        assert!(acceptable("0192f1c2-aaaa-7bbb-8ccc-0123456789ab"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("<script>"));
        assert!(!acceptable(&"x".repeat(65)));
    }

    #[test]
    fn generated_ids_are_uuid_v7_and_replace_unacceptable_ones() {
        let mut request = Request::new(axum::body::Body::empty());
        request
            .headers_mut()
            .insert(HEADER, HeaderValue::from_static("bad id"));
        let id = assign(&mut request);
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(request.headers()[&HEADER], id.as_str());
    }
}
