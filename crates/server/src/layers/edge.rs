//! The edge: what every request gets, as one tower service without per-request boxing.
//!
//! On the way in: the request id, a (debug-level) span, the body limit (a `Content-Length`
//! over the limit is answered 413 at once; streamed bodies are capped where extractors read
//! them) and a deadline. Around the inner service: panics become a 500 envelope and a missed
//! deadline a 503. On the way out: error responses get their final form (`errors::render`, the
//! only step that may read a body, so the only one that allocates a future), then security
//! headers, the request id header and metrics.
//!
//! One service rather than a stack of `from_fn` and tower-http layers: those box a future,
//! clone the inner service or re-box bodies per request, and `/healthz` throughput is
//! benchmarked against bare axum (`scripts/bench`).

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::Response;
use futures::future::BoxFuture;
use serde_json::Map;
use tokio::time::Sleep;
use tower::{Layer, Service};
use tracing::Span;

use super::request_id::{self, RequestId};
use super::{errors, headers, metrics};
use crate::ServerConfig;
use crate::client_ip::ProxyTrust;

const X_FORWARDED_FOR: &str = "x-forwarded-for";
use crate::error::envelope;

/// Installs [`Edge`] with the server's limits.
#[derive(Debug, Clone)]
pub(crate) struct EdgeLayer {
    body_limit: usize,
    timeout: Duration,
    https: bool,
    proxies: Arc<ProxyTrust>,
}

impl EdgeLayer {
    pub(crate) fn new(config: &ServerConfig) -> Self {
        Self {
            body_limit: config.body_limit_bytes,
            timeout: config.request_timeout,
            https: config.is_https(),
            proxies: Arc::new(config.proxies.clone()),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            config: self.clone(),
        }
    }
}

/// The edge service.
#[derive(Debug, Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    config: EdgeLayer,
}

/// What the way out needs to know about the request.
struct Seen {
    id: RequestId,
    method: Method,
    uri: Uri,
    started: Instant,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let id = request_id::assign(&mut request);
        let span = tracing::debug_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id.as_str());
        let seen = Seen {
            id,
            method: request.method().clone(),
            uri: request.uri().clone(),
            started,
        };
        let config = &self.config;
        if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
            let forwarded = request
                .headers()
                .get_all(X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok());
            let client = config.proxies.client_ip(peer.ip(), forwarded);
            request.extensions_mut().insert(client);
        }
        let deadline =
            tokio::time::sleep_until(tokio::time::Instant::from_std(started) + config.timeout);
        let (inner, early) = if declared_length(&request).is_some_and(|n| n > config.body_limit) {
            (None, Some(too_large()))
        } else {
            if may_have_body(&request) {
                DefaultBodyLimit::max(config.body_limit).apply(&mut request);
            }
            let _entered = span.enter();
            match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
                Ok(future) => (Some(future), None),
                Err(panic) => (None, Some(panic_response(&panic))),
            }
        };
        EdgeFuture {
            inner,
            deadline,
            early,
            span,
            seen: Some(seen),
            https: config.https,
            rendering: None,
        }
    }
}

/// An HTTP/1.1 request without `Content-Length` or `Transfer-Encoding` has no body; GET and HEAD
/// requests normally have none. Only requests that may carry one need the streaming cap.
fn may_have_body(request: &Request) -> bool {
    let headers = request.headers();
    !matches!(*request.method(), Method::GET | Method::HEAD)
        || headers.contains_key(header::CONTENT_LENGTH)
        || headers.contains_key(header::TRANSFER_ENCODING)
}

fn declared_length(request: &Request) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn too_large() -> Response {
    envelope(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The request body is larger than this server accepts.",
        &Map::new(),
    )
}

/// A panic becomes a 500 envelope; the panic message is logged, never sent.
fn panic_response(panic: &Box<dyn Any + Send>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    envelope(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "An unexpected error occurred.",
        &Map::new(),
    )
}

pin_project_lite::pin_project! {
    /// The inner response (or an early answer), then for errors their rendering, then the
    /// finishing touches.
    pub(crate) struct EdgeFuture<F> {
        #[pin]
        inner: Option<F>,
        #[pin]
        deadline: Sleep,
        early: Option<Response>,
        span: Span,
        seen: Option<Seen>,
        https: bool,
        rendering: Option<BoxFuture<'static, Response>>,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some(rendering) = this.rendering.as_mut() {
                let response = ready!(rendering.as_mut().poll(cx));
                return Poll::Ready(Ok(finish(*this.https, this.seen.take(), response)));
            }
            let response = match (this.early.take(), this.inner.as_mut().as_pin_mut()) {
                (Some(early), _) => early,
                (None, Some(inner)) => {
                    let _entered = this.span.enter();
                    match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                        Ok(Poll::Ready(Ok(response))) => response,
                        Ok(Poll::Pending) => {
                            ready!(this.deadline.as_mut().poll(cx));
                            // Out of time: drop the handler's future and answer 503.
                            status_only(StatusCode::SERVICE_UNAVAILABLE)
                        }
                        Err(panic) => panic_response(&panic),
                    }
                }
                (None, None) => status_only(StatusCode::INTERNAL_SERVER_ERROR),
            };
            // The inner future is finished (or abandoned): never poll it again.
            this.inner.set(None);
            let status = response.status();
            if !(status.is_client_error() || status.is_server_error()) {
                return Poll::Ready(Ok(finish(*this.https, this.seen.take(), response)));
            }
            let id = this
                .seen
                .as_ref()
                .map(|s| s.id.as_str().to_owned())
                .unwrap_or_default();
            let web = this
                .seen
                .as_ref()
                .is_some_and(|s| errors::is_web_path(s.uri.path()));
            if status.is_server_error()
                && let Some(seen) = this.seen.as_ref()
            {
                tracing::error!(request_id = %id, method = %seen.method, path = %seen.uri.path(), status = status.as_u16(), "request failed");
            }
            *this.rendering = Some(Box::pin(
                async move { errors::render(web, &id, response).await },
            ));
        }
    }
}

/// A bare status as a response, for the error renderer to dress.
fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    response
}

fn finish(https: bool, seen: Option<Seen>, mut response: Response) -> Response {
    let Some(seen) = seen else {
        return response;
    };
    headers::apply(https, seen.uri.path().starts_with("/api/"), &mut response);
    request_id::set(&seen.id, &mut response);
    metrics::record(&seen.method, response.status(), &response, seen.started);
    response
}
