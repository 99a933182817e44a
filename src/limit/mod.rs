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
//! let layer = UpstreamLimitLayer::new(settings, metrics);
//! # let _ = layer;
//! ```

mod layer;
mod service;

pub use layer::{LimitSettings, UpstreamLimitLayer};
pub use service::UpstreamLimit;
