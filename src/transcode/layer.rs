//! [`TranscodeLayer`]: builds [`Transcode`] around an inner service.

use std::sync::Arc;

use tower::Layer;

use super::{Mode, Transcode};
use crate::budget::BodyBudget;
use crate::metrics::Metrics;
use cupi_codec::Schema;

/// How many bytes the transcoder may buffer. Bodies that are passed through untouched are
/// streamed and not limited here.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest JSON request body accepted for transcoding (larger → 413).
    pub max_request_body: usize,
    /// Largest XML response body accepted for transcoding (larger → 502).
    pub max_response_body: usize,
}

/// Adds JSON ↔ XML transcoding to a service that speaks CUPI XML.
#[derive(Clone, Debug)]
pub struct TranscodeLayer {
    schema: Arc<Schema>,
    limits: Limits,
    metrics: Arc<Metrics>,
    default_mode: Mode,
    budget: BodyBudget,
}

impl TranscodeLayer {
    /// `default_mode` serves the requests that name no `profile` in their `Accept`; the
    /// bodies read whole or in part are held in `budget`.
    pub fn new(
        schema: Arc<Schema>,
        limits: Limits,
        metrics: Arc<Metrics>,
        default_mode: Mode,
        budget: BodyBudget,
    ) -> Self {
        TranscodeLayer {
            schema,
            limits,
            metrics,
            default_mode,
            budget,
        }
    }
}

impl<S> Layer<S> for TranscodeLayer {
    type Service = Transcode<S>;

    fn layer(&self, inner: S) -> Transcode<S> {
        Transcode::new(
            inner,
            self.schema.clone(),
            self.limits,
            self.metrics.clone(),
            self.default_mode,
            self.budget.clone(),
        )
    }
}
