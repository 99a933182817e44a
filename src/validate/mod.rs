//! Request validation against the OpenAPI document, before anything reaches the upstream.
//!
//! Unity Connection processes a handful of requests at a time; a write it would refuse should
//! not take one of those slots. [`Validate`] checks each request against the [`Rules`]
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
//! use cupi_gateway::validate::Validate;
//!
//! let spec = ApiSpec::embedded().unwrap();
//! let metrics = cupi_gateway::metrics::Metrics::new(vec![]);
//! let budget = cupi_gateway::budget::BodyBudget::new(64 << 20, &metrics);
//! let validate = Validate::new(Arc::new(spec.rules().clone()), 1 << 20, Arc::new(spec.schema().clone()), budget);
//! # let _ = validate;
//! ```

mod params;
mod rules;
mod violation;

pub use params::{ParamRule, PatternError, QueryRules, ValueRule};
pub use rules::{BodyRules, FieldRule, RouteRules, Rules};
pub use violation::{Subject, Violation};

use std::sync::Arc;

use axum::body::Body;
use http::Request;

use crate::body::{is_bodiless_request, read_request_body};
use crate::budget::BodyBudget;
use crate::content_type::{self, BodyKind};
use crate::error::GatewayError;
use crate::middleware::{Inner, Middleware, ResponseFuture};
use crate::transcode::{cpu_bound, refuse_unreadable_xml};
use cupi_codec::{xml_to_json, Schema};

/// Checks requests to described paths against the document's rules before the inner
/// service sees them.
#[derive(Clone, Debug)]
pub struct Validate {
    rules: Arc<Rules>,
    max_body: usize,
    schema: Arc<Schema>,
    budget: BodyBudget,
}

impl Validate {
    /// `max_body` bounds how much of a request body is read to check it; `schema` reads XML
    /// bodies the way the transcoder would; the bodies read are held in `budget`.
    pub fn new(
        rules: Arc<Rules>,
        max_body: usize,
        schema: Arc<Schema>,
        budget: BodyBudget,
    ) -> Self {
        Validate {
            rules,
            max_body,
            schema,
            budget,
        }
    }
}

impl Middleware for Validate {
    type Error = GatewayError;

    fn call<S: Inner>(&self, request: Request<Body>, mut inner: S) -> ResponseFuture {
        let config = self.clone();
        Box::pin(async move {
            let request = match check_head(&request, &config)? {
                None => request,
                // Boxed where reached (`middleware`: the future's size).
                Some((kind, rules)) => Box::pin(check_body(request, kind, rules, &config)).await?,
            };
            inner.call(request).await
        })
    }
}

/// Checks what of a request is known before its body is read: `None` when that is all
/// there is to check, else the body's kind and the rules it is held to.
fn check_head<'c>(
    request: &Request<Body>,
    config: &'c Validate,
) -> Result<Option<(BodyKind, &'c BodyRules)>, GatewayError> {
    let Some(route) = config.rules.route(request.uri().path()) else {
        return Ok(None);
    };
    if !route.allows(request.method()) {
        return Err(GatewayError::MethodNotAllowed {
            method: request.method().to_string(),
            path: route.template.as_str().to_owned(),
            allow: route.allow_header(),
        });
    }
    if let Some(query_rules) = route.query_rules(request.method()) {
        let violations = query_rules.check(request.uri().query());
        if !violations.is_empty() {
            return Err(refused(violations));
        }
    }
    let Some(body_rules) = route.bodies.get(request.method()) else {
        return Ok(None);
    };
    if is_bodiless_request(request) {
        return Ok(None);
    }
    // Whatever cannot be checked is refused: a body that skipped validation because of its
    // spelling would be a way around it.
    let kind = BodyKind::of(request.headers());
    if !matches!(kind, BodyKind::Json | BodyKind::Xml) {
        return Err(GatewayError::UnsupportedMediaType(format!(
            "{} {} takes a JSON or XML body",
            request.method(),
            route.template.as_str()
        )));
    }
    if content_type::is_encoded(request.headers()) {
        return Err(GatewayError::UnsupportedMediaType(
            "a request body with a Content-Encoding cannot be checked: send it uncompressed".into(),
        ));
    }
    Ok(Some((kind, body_rules)))
}

/// Reads the body [`check_head`] left to check and holds it to `body_rules`; the request
/// with its body whole again, or why it is refused.
async fn check_body(
    request: Request<Body>,
    kind: BodyKind,
    body_rules: &BodyRules,
    config: &Validate,
) -> Result<Request<Body>, GatewayError> {
    let (parts, body) = request.into_parts();
    let bytes = read_request_body(body, config.max_body, &config.budget).await?;
    if kind != BodyKind::Json {
        refuse_unreadable_xml(&parts.headers, &bytes)?;
    }
    let (body, schema) = (bytes.clone(), config.schema.clone());
    let value: Option<serde_json::Value> = cpu_bound(bytes.len(), move || match kind {
        // A JSON body that does not parse is left to the transcoder, which names the problem
        // precisely (400 `invalid_json`) and never forwards it.
        BodyKind::Json => Ok::<_, GatewayError>(serde_json::from_slice(&body).ok()),
        _ => {
            let json = xml_to_json(&body, &schema).map_err(GatewayError::invalid_xml)?;
            Ok(serde_json::from_slice(&json).ok())
        }
    })
    .await?;
    if let Some(value) = value {
        let violations = body_rules.check(&value);
        if !violations.is_empty() {
            return Err(refused(violations));
        }
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The 400 naming every offending field or parameter.
fn refused(violations: Vec<Violation>) -> GatewayError {
    GatewayError::Validation(violations.into_iter().map(Violation::into_entry).collect())
}
