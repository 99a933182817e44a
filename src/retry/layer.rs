//! [`RetryLayer`]: builds [`Retry`] around the upstream path.

use std::sync::Arc;
use std::time::Duration;

use tower::retry::budget::TpsBudget;
use tower::Layer;

use super::Retry;
use crate::metrics::Metrics;

/// Shared by every clone of the service: one budget for the whole gateway.
#[derive(Clone, Debug)]
pub struct RetryLayer {
    pub(super) max_retries: u32,
    pub(super) budget: Arc<TpsBudget>,
    pub(super) metrics: Arc<Metrics>,
}

impl RetryLayer {
    /// At most `max_retries` retries per request (0 turns retrying off).
    pub fn new(max_retries: u32, metrics: Arc<Metrics>) -> Self {
        RetryLayer {
            max_retries,
            metrics,
            // Over a 10 s window: 5 retries a second whatever the traffic, plus 20% of requests.
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 5, 0.2)),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry::new(inner, self.clone())
    }
}
