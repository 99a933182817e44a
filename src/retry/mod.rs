//! Retrying idempotent reads that Unity Connection answered 503.
//!
//! CUPI answers 503 when a request waited too long in its small queue: a moment later the
//! same read usually succeeds. [`Retry`] repeats `GET` and `HEAD` requests without a body
//! that got a 503 from the upstream, after a short backoff (or the upstream's `Retry-After`,
//! capped), at most `max_retries` times, and only while a retry budget allows: retries may
//! add at most 20% to the traffic (plus a small floor), so retries can never multiply the load
//! on a struggling server. Writes are never retried. The gateway's own 503 (`upstream_busy`,
//! from its queue) is not retried either: it is an answer, not an upstream failure.
//!
//! A retry is a new upstream request, so it goes with a new `parent-id` under the same
//! trace-id (see [`TraceContext::next_attempt`](crate::trace_context::TraceContext::next_attempt)):
//! Unity Connection's log tells the attempts apart, and the client's `traceparent` names the
//! first attempt's span.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::retry::Retry;
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let retry = Retry::new(2, metrics);
//! # let _ = retry;
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{header, Method, Request, Response, StatusCode};
use tower::retry::budget::{Budget, TpsBudget};
use tower::ServiceExt;

use crate::body::{is_bodiless_request, BodyFraming};
use crate::connection::ConnectionInfo;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::middleware::{Inner, Middleware, ResponseFuture};
use crate::trace_context::TraceContext;

/// The longest wait between two attempts, whatever `Retry-After` says: a client is waiting.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Retries bodiless reads the upstream answered 503. Every clone shares one budget: one for
/// the whole gateway.
#[derive(Clone, Debug)]
pub struct Retry {
    max_retries: u32,
    budget: Arc<TpsBudget>,
    metrics: Arc<Metrics>,
}

impl Retry {
    /// At most `max_retries` retries per request (0 turns retrying off).
    pub fn new(max_retries: u32, metrics: Arc<Metrics>) -> Self {
        Retry {
            max_retries,
            metrics,
            // Over a 10 s window: 5 retries a second whatever the traffic, plus 20% of requests.
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 5, 0.2)),
        }
    }
}

impl Middleware for Retry {
    type Error = GatewayError;

    /// Each attempt waits for `inner` to be ready again: the one handed in is ready for
    /// the first only.
    fn call<S: Inner>(&self, request: Request<Body>, mut inner: S) -> ResponseFuture {
        if !is_retryable(&request) || self.max_retries == 0 {
            return Box::pin(inner.call(request));
        }
        let config = self.clone();
        // The first attempt sends the request itself; what a retry needs of it is kept. The
        // future holds the request once, in `next`, and takes it out only to send it.
        let head = Head::of(&request);
        let mut next = Some(request);
        Box::pin(async move {
            config.budget.deposit();
            let mut attempt = 0;
            loop {
                let ready = inner.ready().await?;
                let request = next.take().unwrap_or_else(|| head.retry(attempt));
                let response = ready.call(request).await?;
                if response.status() != StatusCode::SERVICE_UNAVAILABLE
                    || attempt == config.max_retries
                    || !config.budget.withdraw()
                {
                    return Ok(response);
                }
                let wait = backoff(attempt, &response);
                // Dropping the answer releases its upstream slot before the wait.
                drop(response);
                tracing::debug!(attempt, ?wait, path = %head.uri.path(), "upstream 503; retrying");
                config.metrics.retries.inc();
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        })
    }
}

/// `GET` and `HEAD` with no body: safe to send twice.
fn is_retryable(request: &Request<Body>) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD) && is_bodiless_request(request)
}

/// What a retry repeats of a request: its head and what the inner services read from its
/// extensions.
struct Head {
    method: Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    connection: Option<ConnectionInfo>,
    framing: Option<BodyFraming>,
    trace: Option<TraceContext>,
}

impl Head {
    fn of(request: &Request<Body>) -> Head {
        let extensions = request.extensions();
        Head {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            connection: extensions.get::<ConnectionInfo>().cloned(),
            framing: extensions.get::<BodyFraming>().copied(),
            trace: extensions.get::<TraceContext>().cloned(),
        }
    }

    /// Retry `attempt` (1 on): a new upstream request, so a span id of its own under the
    /// same trace.
    fn retry(&self, attempt: u32) -> Request<Body> {
        debug_assert!(attempt > 0, "the first attempt sends the request itself");
        let mut copy = Request::new(Body::empty());
        *copy.method_mut() = self.method.clone();
        *copy.uri_mut() = self.uri.clone();
        *copy.version_mut() = self.version;
        *copy.headers_mut() = self.headers.clone();
        let extensions = copy.extensions_mut();
        if let Some(info) = &self.connection {
            extensions.insert(info.clone());
        }
        if let Some(framing) = self.framing {
            extensions.insert(framing);
        }
        if let Some(trace) = &self.trace {
            extensions.insert(trace.next_attempt());
        }
        copy
    }
}

/// 100 ms, 200 ms, 400 ms, …; a `Retry-After` in seconds instead, both capped.
fn backoff(attempt: u32, response: &Response<Body>) -> Duration {
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let exponential = Duration::from_millis(100u64.saturating_mul(1 << attempt.min(10)));
    retry_after.unwrap_or(exponential).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_a_capped_retry_after() {
        let plain = Response::new(Body::empty());
        assert_eq!(backoff(0, &plain), Duration::from_millis(100));
        assert_eq!(backoff(2, &plain), Duration::from_millis(400));
        assert_eq!(backoff(20, &plain), MAX_BACKOFF);
        let mut told = Response::new(Body::empty());
        told.headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().unwrap());
        assert_eq!(backoff(0, &told), Duration::from_secs(1));
        told.headers_mut()
            .insert(header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(backoff(0, &told), MAX_BACKOFF);
    }

    #[test]
    fn only_bodiless_reads_are_retried() {
        let get = Request::get("/vmrest/ports").body(Body::empty()).unwrap();
        assert!(is_retryable(&get));
        let put = Request::put("/vmrest/portgroups/x")
            .body(Body::empty())
            .unwrap();
        assert!(!is_retryable(&put));
        let get_with_body = Request::get("/x")
            .header(header::CONTENT_LENGTH, "2")
            .body(Body::from("{}"))
            .unwrap();
        assert!(!is_retryable(&get_with_body));
        let chunked = Request::get("/x")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(Body::from("{}"))
            .unwrap();
        assert!(!is_retryable(&chunked));
    }
}
