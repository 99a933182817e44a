//! Transcoding middleware: JSON for the client, XML for Unity Connection.
//!
//! [`Transcode`] sits between the client and the [`crate::proxy`] service. On the way in it
//! turns a JSON request body into CUPI XML; on the way out it turns the upstream's XML into
//! JSON when the client wants JSON (see [`negotiate`]). Bodies that are neither (greeting audio,
//! multipart uploads, plain text) pass through untouched and streamed.
//!
//! The conversions themselves are the [`cupi_codec`] crate's, typed by its `Schema` table;
//! a request in CUPI [`Mode`] gets Unity Connection's own JSON mode instead
//! (`JsonStyle::Cupi`), for existing CUPI scripts.

mod error_page;
pub mod negotiate;
mod offload;
mod request_json;
mod request_xml;
mod response;
mod stream;
mod xml_error;

pub use negotiate::Mode;
pub(crate) use offload::cpu_bound;
pub use request_xml::refuse_unreadable_xml;

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use http::header::{HeaderValue, VARY};
use http::{Method, Request, Response};

use crate::budget::BodyBudget;
use crate::content_coding::ClientCodings;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::middleware::{Inner, Middleware, ResponseFuture};
use cupi_codec::Schema;
use negotiate::{Negotiation, ResponseFormat, UpstreamAccept};
use request_json::{ask_for_xml, has_nothing_to_transcode, transcode_request};
use response::{head_as_json, transcode_response, Passed, ToJson};

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
pub struct Transcode {
    schema: Arc<Schema>,
    limits: Limits,
    metrics: Arc<Metrics>,
    default_mode: Mode,
    budget: BodyBudget,
}

impl Transcode {
    /// `default_mode` serves the requests that name no `profile` in their `Accept`; the
    /// bodies read whole or in part are held in `budget`.
    pub fn new(
        schema: Arc<Schema>,
        limits: Limits,
        metrics: Arc<Metrics>,
        default_mode: Mode,
        budget: BodyBudget,
    ) -> Self {
        Transcode {
            schema,
            limits,
            metrics,
            default_mode,
            budget,
        }
    }

    /// The request transcoded on its way up, the answer on its way down: an async block
    /// (`middleware`: the future's size).
    #[expect(clippy::manual_async_fn, reason = "a smaller future")]
    fn answer<S: Inner>(
        self,
        request: Request<Body>,
        mut inner: S,
    ) -> impl Future<Output = Result<Response<Body>, GatewayError>> {
        async move {
            // The one place the request's mode is decided; all below follows it.
            let Negotiation { mode, format } =
                Negotiation::of(request.headers(), self.default_mode);
            let is_head = request.method() == Method::HEAD;
            let upstream_accept = negotiate::upstream_accept(request.headers());
            // Asked for identity on the client's behalf, the upstream's codings are fitted to
            // what the client takes; otherwise the client's own Accept-Encoding went up.
            let client_codings = match upstream_accept {
                UpstreamAccept::Xml(_) => Some(ClientCodings::of(request.headers())),
                UpstreamAccept::ClientAsIs => None,
            };
            let request = if has_nothing_to_transcode(&request) {
                let mut request = request;
                ask_for_xml(&mut request, upstream_accept);
                request
            } else {
                // Boxed where reached (`middleware`: the future's size).
                let (schema, limit) = (self.schema.clone(), self.limits.max_request_body);
                let transcoded =
                    transcode_request(request, upstream_accept, mode, schema, limit, &self.budget);
                Box::pin(transcoded).await.inspect_err(|e| {
                    if let GatewayError::InvalidJson(_) = e {
                        self.metrics.transcode_error("request", "invalid_json");
                    }
                })?
            };
            let mut response = inner.call(request).await?;
            // The body's form follows the client's `Accept`: shared caches must key on it.
            response
                .headers_mut()
                .append(VARY, HeaderValue::from_static("accept"));
            let passed_on = Passed {
                client: client_codings.as_ref(),
                has_body: !is_head,
                limit: self.limits.max_response_body,
                budget: &self.budget,
            };
            match (format, is_head) {
                (ResponseFormat::Xml, _) => passed_on.fit(response).await,
                (ResponseFormat::Json(style), true) => {
                    passed_on.fit(head_as_json(response, style)).await
                }
                (ResponseFormat::Json(style), false) => {
                    let to_json = ToJson {
                        schema: &self.schema,
                        style,
                        limit: self.limits.max_response_body,
                        metrics: &self.metrics,
                    };
                    transcode_response(response, to_json, passed_on).await
                }
            }
        }
    }
}

impl Middleware for Transcode {
    type Error = GatewayError;

    fn call<S: Inner>(&self, request: Request<Body>, inner: S) -> ResponseFuture {
        Box::pin(self.clone().answer(request, inner))
    }
}
