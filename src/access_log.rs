//! One log line per request: method, path, status, time taken, the request id that is
//! also returned to the client and sent upstream as `x-request-id`, and the W3C trace id that
//! goes with them in `traceparent`, so a client's report or trace, the gateway's log and Unity
//! Connection's log can be matched.
//!
//! Only the method and the path are logged: never headers (Basic credentials, session
//! cookies), never the query string (search values may be personal data), never bodies.
//!
//! # Example
//!
//! ```
//! use tower::ServiceBuilder;
//! use cupi_gateway::access_log::AccessLogLayer;
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let stack = ServiceBuilder::new().layer(AccessLogLayer::new(metrics));
//! # let _ = stack;
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use http::{Request, Response};
use tower::{Layer, Service};

use crate::metrics::Metrics;
use crate::trace_context::TraceContext;
use crate::BoxFuture;

/// Logs and counts each request when its response head is ready.
#[derive(Clone, Debug)]
pub struct AccessLogLayer {
    metrics: Arc<Metrics>,
}

impl AccessLogLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        AccessLogLayer { metrics }
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Built by [`AccessLogLayer`].
#[derive(Clone, Debug)]
pub struct AccessLog<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request<Body>> for AccessLog<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        // The gateway's own hex, never the client's bytes: safe to log unquoted.
        let trace_id = request
            .extensions()
            .get::<TraceContext>()
            .map_or_else(|| "-".to_owned(), |trace| trace.trace_id().to_string());
        let response = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = response.await?;
            let status = response.status().as_u16();
            let elapsed = started.elapsed().as_secs_f64();
            metrics.observe_request(metrics.route_of(&path), &method, status, elapsed);
            // Client-controlled values are recorded as `&str`, which the text format writes
            // quoted and escaped (and JSON as strings), so none can forge another field.
            tracing::info!(
                target: "cupi_gateway::access",
                request_id = request_id.as_str(),
                trace_id = %trace_id,
                method = method.as_str(),
                path = path.as_str(),
                status,
                elapsed_ms = elapsed * 1000.0,
                "request"
            );
            Ok(response)
        })
    }
}
