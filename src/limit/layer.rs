//! [`UpstreamLimitLayer`]: builds [`UpstreamLimit`] around the proxy.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::Layer;

use super::UpstreamLimit;
use crate::budget::BodyBudget;
use crate::metrics::Metrics;

/// How many requests may be at the upstream, and how many may wait, for how long.
#[derive(Clone, Copy, Debug)]
pub struct LimitSettings {
    pub max_concurrent: usize,
    pub max_queued: usize,
    pub max_wait: Duration,
}

/// Shared by every clone of the service: one budget for the whole gateway.
#[derive(Debug)]
pub(super) struct LimitState {
    pub permits: Arc<Semaphore>,
    pub queued: AtomicUsize,
    pub settings: LimitSettings,
    pub metrics: Arc<Metrics>,
    /// Holds the request bodies read before a slot is taken.
    pub budget: BodyBudget,
    /// How much of a request body is read before a slot is taken.
    pub buffer_limit: usize,
}

#[derive(Clone, Debug)]
pub struct UpstreamLimitLayer {
    state: Arc<LimitState>,
}

impl UpstreamLimitLayer {
    /// Up to `buffer_limit` bytes of a request body are read, held in `budget`, before the
    /// request waits for a slot.
    pub fn new(
        settings: LimitSettings,
        metrics: Arc<Metrics>,
        budget: BodyBudget,
        buffer_limit: usize,
    ) -> Self {
        UpstreamLimitLayer {
            state: Arc::new(LimitState {
                permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
                queued: AtomicUsize::new(0),
                settings,
                metrics,
                budget,
                buffer_limit,
            }),
        }
    }
}

impl<S> Layer<S> for UpstreamLimitLayer {
    type Service = UpstreamLimit<S>;

    fn layer(&self, inner: S) -> UpstreamLimit<S> {
        UpstreamLimit::new(inner, self.state.clone())
    }
}
