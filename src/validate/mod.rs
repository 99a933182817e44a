//! Request validation against the OpenAPI document, before anything reaches the upstream.
//!
//! Unity Connection processes a handful of requests at a time; a write it would refuse should
//! not take one of those slots. [`ValidateLayer`] checks each request against the [`Rules`]
//! read from the document:
//!
//! - a method the document does not describe for a described path → 405 with `Allow`
//!   (ports are read-only: `PUT /vmrest/ports/{id}` is refused here);
//! - a body field that is read-only or unknown, or of the wrong JSON type → 400 naming every
//!   offending field (`{"errors":[{"code":"read_only_field","field":"DisplayName",...}]}`);
//! - a described query parameter whose value its schema does not allow (`pattern`, `type`,
//!   `minimum`, `maximum`), given twice, or not decodable → 400 naming it
//!   (`{"errors":[{"code":"invalid_parameter","parameter":"query",...}]}`).
//!
//! Paths the document does not describe are forwarded unvalidated. The layer is left out
//! entirely with `--no-request-validation`, for servers whose release allows more writes.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use cupi_gateway::openapi::ApiSpec;
//! use cupi_gateway::validate::ValidateLayer;
//!
//! let spec = ApiSpec::embedded().unwrap();
//! let metrics = cupi_gateway::metrics::Metrics::new(vec![]);
//! let budget = cupi_gateway::budget::BodyBudget::new(64 << 20, &metrics);
//! let layer = ValidateLayer::new(Arc::new(spec.rules().clone()), 1 << 20, Arc::new(spec.schema().clone()), budget);
//! # let _ = layer;
//! ```

mod layer;
mod params;
mod rules;
mod service;

pub use layer::ValidateLayer;
pub use params::{ParamRule, PatternError, QueryRules, ValueRule};
pub use rules::{BodyRules, FieldRule, RouteRules, Rules, Subject, Violation};
pub use service::Validate;
