//! Shielding the upstream: at most N requests at Unity Connection at once, a bounded wait
//! queue for the rest, and a clean 503 with `Retry-After` when the queue is full or the wait
//! runs out.
//!
//! Unity Connection processes only a handful of requests at a time (documented as 5, older
//! releases 3) and answers 503 itself when its own queue times out. Frontends fan out; without
//! a cap, a page load could fill the server's queue for every other client. [`UpstreamLimit`]
//! holds a permit from the moment a request is sent until its response body has been read to
//! the end (or dropped), since the server is busy until then.
//!
//! A slot is for the upstream's time, not the client's: a request body that no layer above
//! has read whole is read here first, up to a bound and held in the gateway's body budget,
//! before the request waits for a slot. A client that dribbles its body (and its body's
//! minimum rate ends it, 408) then holds a buffer, never a slot; only a body larger than the
//! bound streams while holding one.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use cupi_gateway::limit::{UpstreamLimitLayer, LimitSettings};
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let settings = LimitSettings {
//!     max_concurrent: 5,
//!     max_queued: 100,
//!     max_wait: Duration::from_secs(10),
//! };
//! let budget = cupi_gateway::budget::BodyBudget::new(64 << 20, &metrics);
//! let layer = UpstreamLimitLayer::new(settings, metrics, budget, 1 << 20);
//! # let _ = layer;
//! ```

mod layer;
mod service;

pub use layer::{LimitSettings, UpstreamLimitLayer};
pub use service::UpstreamLimit;
