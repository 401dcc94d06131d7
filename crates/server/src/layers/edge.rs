//! The edge: what every request gets, as one tower service without per-request boxing.
//!
//! On the way in: the request id and a (debug-level) span. On the way out: error responses get
//! their final form (`errors::render`, the only step that may need to read a body, so the only
//! one that allocates a future), then security headers, the request id header and metrics.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::response::Response;
use futures::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Span;

use super::request_id::{self, RequestId};
use super::{errors, headers, metrics};
use crate::AppState;

/// Installs [`Edge`].
#[derive(Clone)]
pub(crate) struct EdgeLayer(AppState);

impl EdgeLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self(state)
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The edge service.
#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    state: AppState,
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
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        EdgeFuture {
            inner,
            span,
            seen: Some(seen),
            state: self.state.clone(),
            rendering: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner response, then (for errors) its rendering, then the finishing touches.
    pub(crate) struct EdgeFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        seen: Option<Seen>,
        state: AppState,
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
                return Poll::Ready(Ok(finish(this.state, this.seen.take(), response)));
            }
            let Ok(response) = {
                let _entered = this.span.enter();
                ready!(this.inner.as_mut().poll(cx))
            };
            let status = response.status();
            if !(status.is_client_error() || status.is_server_error()) {
                return Poll::Ready(Ok(finish(this.state, this.seen.take(), response)));
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
            let state = this.state.clone();
            *this.rendering = Some(Box::pin(async move {
                errors::render(&state, web, &id, response).await
            }));
        }
    }
}

fn finish(state: &AppState, seen: Option<Seen>, mut response: Response) -> Response {
    let Some(seen) = seen else {
        return response;
    };
    headers::apply(state, seen.uri.path().starts_with("/api/"), &mut response);
    request_id::set(&seen.id, &mut response);
    metrics::record(&seen.method, response.status(), &response, seen.started);
    response
}
