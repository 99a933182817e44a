//! One log line per request: method, path, status, time taken, the request id that is
//! also returned to the client and sent upstream as `x-request-id`, and the W3C trace id that
//! goes with them in `traceparent`, so a client's report or trace, the gateway's log and Unity
//! Connection's log can be matched.
//!
//! The outermost of the gateway's layers gives each request those ids ([`request_id::assign`],
//! [`TraceContext::adopt`]) and writes them on its answer: the layers that need them are all
//! inside it, and one layer doing all three costs a request one future, not three.
//!
//! Only the method and the path are logged: never headers (Basic credentials, session
//! cookies), never the query string (search values may be personal data), never bodies.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use axum::body::Body;
//! use http::{Request, Response};
//! use tower::ServiceBuilder;
//! use cupi_gateway::access_log::AccessLog;
//! use cupi_gateway::middleware::Middleware;
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let routes = tower::service_fn(|_: Request<Body>| async {
//!     Ok::<_, Infallible>(Response::new(Body::empty()))
//! });
//! let stack = ServiceBuilder::new()
//!     .layer(AccessLog::new(metrics).into_layer())
//!     .service(routes);
//! # let _ = stack;
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use futures_util::FutureExt;
use http::Request;

use crate::metrics::Metrics;
use crate::middleware::{Inner, Middleware, ResponseFuture};
use crate::request_id::{self, X_REQUEST_ID};
use crate::trace_context::{TraceContext, TRACEPARENT};

/// Gives each request its ids, and logs and counts it when its response head is ready.
#[derive(Clone, Debug)]
pub struct AccessLog {
    metrics: Arc<Metrics>,
}

impl AccessLog {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        AccessLog { metrics }
    }
}

impl Middleware for AccessLog {
    // Outside the error rendering: every error is a response by now.
    type Error = Infallible;

    fn call<S: Inner<Infallible>>(
        &self,
        mut request: Request<Body>,
        mut inner: S,
    ) -> ResponseFuture<Infallible> {
        let started = Instant::now();
        let request_id = request_id::assign(&mut request);
        let trace = TraceContext::adopt(&mut request);
        let (trace_id, traceparent) = (trace.trace_id(), trace.traceparent());
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        // `map`, not an async block, which would hold the inner future twice (as captured
        // and as awaited; `middleware`: the future's size).
        Box::pin(inner.call(request).map(move |response| {
            let mut response = response?;
            let status = response.status().as_u16();
            let elapsed = started.elapsed().as_secs_f64();
            metrics.observe_request(metrics.route_of(&path), &method, status, elapsed);
            // Client-controlled values are recorded as `&str`, which the text format writes
            // quoted and escaped (and JSON as strings), so none can forge another field. The
            // id is plain visible ASCII (`request_id::is_fit`) or the gateway's UUID.
            tracing::info!(
                target: "cupi_gateway::access",
                request_id = request_id.to_str().unwrap_or("-"),
                trace_id = %trace_id,
                method = method.as_str(),
                path = path.as_str(),
                status,
                elapsed_ms = elapsed * 1000.0,
                "request"
            );
            let headers = response.headers_mut();
            // An id the answer carries already (the upstream's own) is left as it is.
            if !headers.contains_key(&X_REQUEST_ID) {
                headers.insert(X_REQUEST_ID.clone(), request_id);
            }
            headers.insert(TRACEPARENT.clone(), traceparent);
            Ok(response)
        }))
    }
}
