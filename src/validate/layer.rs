//! [`ValidateLayer`]: builds [`Validate`] around an inner service.

use std::sync::Arc;

use tower::Layer;

use super::{Rules, Validate};
use crate::budget::BodyBudget;
use cupi_codec::Schema;

/// Validates requests against the document's rules before the inner service sees them.
#[derive(Clone, Debug)]
pub struct ValidateLayer {
    rules: Arc<Rules>,
    max_body: usize,
    schema: Arc<Schema>,
    budget: BodyBudget,
}

impl ValidateLayer {
    /// `max_body` bounds how much of a request body is read to check it; `schema` reads XML
    /// bodies the way the transcoder would; the bodies read are held in `budget`.
    pub fn new(
        rules: Arc<Rules>,
        max_body: usize,
        schema: Arc<Schema>,
        budget: BodyBudget,
    ) -> Self {
        ValidateLayer {
            rules,
            max_body,
            schema,
            budget,
        }
    }
}

impl<S> Layer<S> for ValidateLayer {
    type Service = Validate<S>;

    fn layer(&self, inner: S) -> Validate<S> {
        Validate::new(inner, self.clone())
    }
}

impl ValidateLayer {
    pub(super) fn rules(&self) -> &Rules {
        &self.rules
    }

    pub(super) fn max_body(&self) -> usize {
        self.max_body
    }

    pub(super) fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub(super) fn budget(&self) -> &BodyBudget {
        &self.budget
    }
}
