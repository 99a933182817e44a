//! The forwarding service: turns a client's request into the upstream's request and the
//! upstream's response back into the client's.
//!
//! The path and query go upstream byte for byte; `Authorization`, cookies and `Set-Cookie`
//! pass untouched. What changes is what a proxy must change ([`headers`]): hop-by-hop headers
//! are dropped both ways, `Host` becomes the upstream's, `X-Forwarded-*` tell the upstream who
//! asked, and a `Location` pointing at the upstream is rewritten to point at the gateway.
//! `traceparent` and `tracestate` are the gateway's: written from the request's
//! [`TraceContext`], never the client's unchecked ones.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(upstream: cupi_gateway::upstream::Upstream) {
//! use tower::ServiceExt;
//! use cupi_gateway::proxy::Proxy;
//!
//! let request = http::Request::get("/vmrest/ports").body(axum::body::Body::empty()).unwrap();
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let response = Proxy::new(upstream, metrics).oneshot(request).await;
//! # }
//! ```

pub(crate) mod headers;

use std::task::{Context, Poll};

use axum::body::Body;
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use tower::Service;

use std::sync::Arc;

use crate::body::is_bodiless_request;
use crate::connection::ConnectionInfo;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::middleware::BoxFuture;
use crate::trace_context::TraceContext;
use crate::upstream::Upstream;

/// Forwards every request it gets to the upstream. Routing (only `/vmrest`) happens before it.
#[derive(Clone, Debug)]
pub struct Proxy {
    upstream: Upstream,
    metrics: Arc<Metrics>,
}

impl Proxy {
    pub fn new(upstream: Upstream, metrics: Arc<Metrics>) -> Self {
        Proxy { upstream, metrics }
    }
}

impl Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Response<Body>, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        // The pooled client has no readiness of its own; limits come in front of the proxy.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let upstream = self.upstream.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let connection = request
                .extensions()
                .get::<ConnectionInfo>()
                .cloned()
                .unwrap_or_default();
            let client_authority = headers::client_authority(request.headers(), request.uri());
            // hyper sends an empty chunked body for a body it cannot see the end of; a request
            // that came without one goes upstream without one.
            let bodiless = is_bodiless_request(&request);
            let (mut parts, body) = request.into_parts();
            let body = if bodiless { Body::empty() } else { body };
            let path_and_query = parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            parts.uri = upstream.origin().uri_for(path_and_query);
            headers::prepare_request(
                &mut parts.headers,
                upstream.origin(),
                &connection,
                client_authority.as_ref(),
            );
            // The gateway's span goes upstream (after the hop-by-hop clean-up, which a
            // `Connection: traceparent` would otherwise aim at it).
            if let Some(trace) = parts.extensions.get::<TraceContext>() {
                trace.write_to(&mut parts.headers);
            }
            parts.version = http::Version::HTTP_11;
            // Extensions are per-hop data of ours; none of them is for the upstream.
            parts.extensions = http::Extensions::new();

            let sent = std::time::Instant::now();
            let response = upstream.send(Request::from_parts(parts, body)).await;
            metrics
                .upstream_seconds
                .observe(sent.elapsed().as_secs_f64());
            let response = response?;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                // The gateway drops `Upgrade` from every request, so no 101 was asked for.
                return Err(GatewayError::UpstreamProtocol(
                    "101 Switching Protocols to a request that did not ask to upgrade".into(),
                ));
            }

            let (mut parts, body) = response.into_parts();
            let gateway = client_authority.as_ref().map(|a| (connection.scheme, a));
            headers::prepare_response(&mut parts.headers, upstream.origin(), gateway);
            Ok(Response::from_parts(parts, body))
        })
    }
}
