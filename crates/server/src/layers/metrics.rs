//! Prometheus metrics: request count and latency by method, route template and status.
//!
//! The route label is the matched path template (`/api/v1/org/members/{user_id}`), or
//! `unmatched`, and unusual methods are labelled `other`, so label cardinality stays bounded
//! whatever clients send. Metric handles are cached per worker thread, so recording a request
//! is two atomic updates rather than a registry lookup with freshly allocated labels.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::{Layer, Service};

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide Prometheus recorder (installed on first use) and its render handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

/// Drains recorded histogram samples into their buckets every 5 s until `shutdown`.
///
/// The exporter keeps raw samples until a scrape or an upkeep; without this, a server that is
/// never scraped would grow by 8 bytes per request.
pub(crate) async fn upkeep(shutdown: tokio_util::sync::CancellationToken) {
    let handle = metrics_handle();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// Route layer: carries the matched path template out on the response for [`record`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct CaptureRouteLayer;

impl<S> Layer<S> for CaptureRouteLayer {
    type Service = CaptureRoute<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CaptureRoute(inner)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CaptureRoute<S>(S);

impl<S> Service<Request> for CaptureRoute<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = WithRoute<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        WithRoute {
            inner: self.0.call(request),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner future, then the route template inserted into its response.
    pub(crate) struct WithRoute<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, E> Future for WithRoute<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

type Handles = (Counter, Histogram);
/// Handles by `(method, status)`, then by route template.
type HandleCache = HashMap<(&'static str, u16), HashMap<String, Handles>>;

thread_local! {
    static HANDLES: RefCell<HandleCache> = RefCell::new(HashMap::new());
}

/// Counts the request and records its latency.
pub(crate) fn record(method: &Method, status: StatusCode, response: &Response, started: Instant) {
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let method = method_label(method);
    let elapsed = started.elapsed().as_secs_f64();
    HANDLES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let by_route = cache.entry((method, status.as_u16())).or_default();
        if let Some((count, latency)) = by_route.get(route) {
            count.increment(1);
            latency.record(elapsed);
            return;
        }
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        let count = metrics::counter!("http_requests_total", &labels);
        let latency = metrics::histogram!("http_request_duration_seconds", &labels);
        count.increment(1);
        latency.record(elapsed);
        by_route.insert(route.to_owned(), (count, latency));
    });
}
