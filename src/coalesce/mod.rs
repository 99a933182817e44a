//! Coalescing identical concurrent reads into one upstream request.
//!
//! A frontend page load fans out, and ten tabs of the same admin page ask for the same port
//! group list at the same moment. Unity Connection handles only a handful of requests at once,
//! so [`Coalesce`] sends one of them upstream (the *leader*) and answers the others (the
//! *followers*) with a copy of its response, or of its failure.
//!
//! Two requests are identical when their method (`GET` or `HEAD`, without a body), their target
//! (path and query) and every header that could change the answer are equal: `Authorization`,
//! `Cookie`, `Host`, `Accept*` and any header this module does not know. A response is
//! therefore never shared across different credentials or sessions; a `Set-Cookie` in it goes
//! to requests that already sent the same credentials and cookies. Only headers that identify a
//! request rather than shape its answer (`x-request-id`, `user-agent`, tracing, `referer`,
//! `x-forwarded-for`) are ignored.
//!
//! Only textual bodies (XML, JSON, HTML and text error pages, not content-encoded) of at most
//! [`PREFIX_LIMIT`](crate::body::PREFIX_LIMIT) bytes are shared: the leader reads it and every
//! caller gets the same bytes. For anything else (a greeting's audio, a list too long to hold)
//! the leader keeps its streaming body and each follower sends its own request. If the leader goes away
//! before its answer (its client hung up), a waiting follower becomes the next leader.
//!
//! Trace context: only the leader's `traceparent` (its trace, the gateway's span for it) goes
//! upstream. Each follower still continues or starts its own trace, logs it and gets it back,
//! but Unity Connection never sees it: a follower's request line there is the leader's.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::coalesce::CoalesceLayer;
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let budget = cupi_gateway::budget::BodyBudget::new(64 << 20, &metrics);
//! let layer = CoalesceLayer::new(metrics, budget);
//! # let _ = layer;
//! ```

mod key;
mod layer;
mod service;

pub use layer::CoalesceLayer;
pub use service::Coalesce;
