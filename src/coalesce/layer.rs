//! [`CoalesceLayer`]: builds [`Coalesce`] above the retries, so followers share them too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tower::Layer;

use super::service::Flight;
use super::Coalesce;
use crate::budget::BodyBudget;
use crate::metrics::Metrics;

/// Shared by every clone of the service: the requests in flight, by key.
#[derive(Debug)]
pub(super) struct CoalesceState {
    pub flights: Mutex<HashMap<super::key::Key, Flight>>,
    pub metrics: Arc<Metrics>,
    /// Holds the shared responses' bodies.
    pub budget: BodyBudget,
}

#[derive(Clone, Debug)]
pub struct CoalesceLayer {
    state: Arc<CoalesceState>,
}

impl CoalesceLayer {
    /// The responses read to share them are held in `budget`.
    pub fn new(metrics: Arc<Metrics>, budget: BodyBudget) -> Self {
        CoalesceLayer {
            state: Arc::new(CoalesceState {
                flights: Mutex::new(HashMap::new()),
                metrics,
                budget,
            }),
        }
    }
}

impl<S> Layer<S> for CoalesceLayer {
    type Service = Coalesce<S>;

    fn layer(&self, inner: S) -> Coalesce<S> {
        Coalesce::new(inner, self.state.clone())
    }
}
