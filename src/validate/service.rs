//! [`Validate`]: the service that refuses what the document does not allow.

use std::task::{Context, Poll};

use axum::body::Body;
use http::{Request, Response};
use tower::Service;

use super::layer::ValidateLayer;
use crate::body::{is_bodiless_request, read_request_body};
use crate::content_type::{self, BodyKind};
use crate::error::GatewayError;
use crate::transcode::{cpu_bound, refuse_unreadable_xml};
use crate::BoxFuture;
use cupi_codec::xml_to_json;

/// Checks requests to described paths; built by [`ValidateLayer`].
#[derive(Clone, Debug)]
pub struct Validate<S> {
    inner: S,
    config: ValidateLayer,
}

impl<S> Validate<S> {
    pub(super) fn new(inner: S, config: ValidateLayer) -> Self {
        Validate { inner, config }
    }
}

impl<S> Service<Request<Body>> for Validate<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Response<Body>, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let mut inner = crate::take_ready(&mut self.inner);
        let config = self.config.clone();
        Box::pin(async move {
            let request = check(request, &config).await?;
            inner.call(request).await
        })
    }
}

/// Returns the request (its body re-assembled if it was read) or why it is refused.
async fn check(
    request: Request<Body>,
    config: &ValidateLayer,
) -> Result<Request<Body>, GatewayError> {
    let Some(route) = config.rules().route(request.uri().path()) else {
        return Ok(request);
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
            return Err(GatewayError::Validation(violations));
        }
    }
    let Some(body_rules) = route.bodies.get(request.method()) else {
        return Ok(request);
    };
    if is_bodiless_request(&request) {
        return Ok(request);
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
    let (parts, body) = request.into_parts();
    let bytes = read_request_body(body, config.max_body(), config.budget()).await?;
    if kind != BodyKind::Json {
        refuse_unreadable_xml(&parts.headers, &bytes)?;
    }
    let (body, schema) = (bytes.clone(), config.schema().clone());
    let value: Option<serde_json::Value> = cpu_bound(bytes.len(), move || match kind {
        // A JSON body that does not parse is left to the transcoder, which names the problem
        // precisely (400 `invalid_json`) and never forwards it.
        BodyKind::Json => Ok::<_, GatewayError>(serde_json::from_slice(&body).ok()),
        _ => {
            let json = xml_to_json(&body, &schema).map_err(GatewayError::InvalidXml)?;
            Ok(serde_json::from_slice(&json).ok())
        }
    })
    .await?;
    if let Some(value) = value {
        let violations = body_rules.check(&value);
        if !violations.is_empty() {
            return Err(GatewayError::Validation(violations));
        }
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
