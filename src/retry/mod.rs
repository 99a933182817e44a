//! Retrying idempotent reads that Unity Connection answered 503.
//!
//! CUPI answers 503 when a request waited too long in its small queue: a moment later the
//! same read usually succeeds. [`RetryLayer`] repeats `GET` and `HEAD` requests without a body
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
//! use cupi_gateway::retry::RetryLayer;
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let layer = RetryLayer::new(2, metrics);
//! # let _ = layer;
//! ```

mod layer;
mod service;

pub use layer::RetryLayer;
pub use service::Retry;
