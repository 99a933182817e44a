//! The whole gateway as one tower service, kept apart from `main` so tests can drive it
//! in-process with `oneshot` or serve it on a real socket.
//!
//! ```text
//!   request ──► Dispatch ──/vmrest/**──► Validate ► Transcode ► Coalesce ► Retry ► Limit
//!                  │            (errors rendered         ► Proxy ► Upstream ──► Unity Connection
//!                  │             as JSON here)
//!                  └── anything else ──► the gateway's own routes (/healthz, /metrics, /docs…)
//! ```
//!
//! `Dispatch` refuses what [`crate::target`] refuses and splits by its answer; the own
//! routes are [`crate::routes`]'.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(upstream: cupi_gateway::upstream::Upstream) {
//! use std::sync::Arc;
//! use tower::ServiceExt;
//! use cupi_gateway::{app, openapi::ApiSpec, transcode::Limits};
//!
//! let settings = app::Settings {
//!     limits: Limits { max_request_body: 1 << 20, max_response_body: 64 << 20 },
//!     validate_requests: true,
//!     upstream_limit: cupi_gateway::limit::LimitSettings {
//!         max_concurrent: 5,
//!         max_queued: 100,
//!         max_wait: std::time::Duration::from_secs(10),
//!         shared: None,
//!     },
//!     cors_allowed_origins: Vec::new(),
//!     upstream_retries: 2,
//!     request_timeout: std::time::Duration::from_secs(120),
//!     default_mode: cupi_gateway::transcode::Mode::Typed,
//!     bodies: cupi_gateway::budget::BodySettings::default(),
//!     compress_responses: true,
//! };
//! let gateway = app::app(upstream, Arc::new(ApiSpec::embedded().unwrap()), settings);
//! let request = http::Request::get("/healthz").body(axum::body::Body::empty()).unwrap();
//! let response = gateway.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::Router;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::access_log::AccessLog;
use crate::budget::{BodyBudget, BodySettings};
use crate::coalesce::Coalesce;
use crate::compression::ClientCompressionLayer;
use crate::error::{error_response, GatewayError};
use crate::limit::{LimitSettings, UpstreamLimit};
use crate::metrics::Metrics;
use crate::middleware::{BoxFuture, Middleware};
use crate::openapi::ApiSpec;
use crate::proxy::Proxy;
use crate::retry::Retry;
use crate::routes;
use crate::target::{self, Destination};
use crate::trace_context::{TRACEPARENT, TRACESTATE};
use crate::transcode::{Limits, Mode, Transcode};
use crate::upstream::Upstream;
use crate::validate::Validate;

/// The gateway as a cloneable service that never fails: errors are already JSON responses.
pub type App = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// How the `/vmrest` stack behaves.
#[derive(Clone, Debug)]
pub struct Settings {
    pub limits: Limits,
    /// Check requests against the OpenAPI document before forwarding them.
    pub validate_requests: bool,
    /// How many requests may be at the upstream at once, and how many may wait.
    pub upstream_limit: LimitSettings,
    /// Longest time from a request to its response head, all waits and retries included.
    pub request_timeout: Duration,
    /// Retries of a bodiless GET/HEAD that got an upstream 503 (0: none).
    pub upstream_retries: u32,
    /// Browser origins allowed to call the gateway (CORS); empty: CORS closed.
    pub cors_allowed_origins: Vec<HeaderValue>,
    /// How requests that name no `profile` in their `Accept` are served (`--cupi-compat`:
    /// as Unity Connection serves them).
    pub default_mode: Mode,
    /// The memory budget of all buffered bodies, and the pace client bodies must keep.
    pub bodies: BodySettings,
    /// Compress answers as the client's `Accept-Encoding` asks (off behind a proxy that
    /// compresses anyway).
    pub compress_responses: bool,
}

/// Builds the gateway in front of `upstream`, typed and validated by `spec`.
pub fn app(upstream: Upstream, spec: Arc<ApiSpec>, settings: Settings) -> App {
    let metrics = Arc::new(Metrics::new(spec.path_templates()));
    app_with_metrics(upstream, spec, settings, metrics)
}

/// [`app`], counting into `metrics`, which the caller shares with the server (open
/// connections are counted there).
pub fn app_with_metrics(
    upstream: Upstream,
    spec: Arc<ApiSpec>,
    settings: Settings,
    metrics: Arc<Metrics>,
) -> App {
    let shared_limit = settings.upstream_limit.shared.clone();
    let own = routes::own_routes(&upstream, spec.clone(), metrics.clone(), shared_limit);
    let schema = Arc::new(spec.schema().clone());
    // One budget for every body any layer holds in memory.
    let budget = BodyBudget::new(settings.bodies.budget, &metrics);
    let transcode = Transcode::new(
        schema.clone(),
        settings.limits,
        metrics.clone(),
        settings.default_mode,
        budget.clone(),
    );
    let (cap, buffered) = (
        settings.upstream_limit.clone(),
        settings.limits.max_request_body,
    );
    let limit = UpstreamLimit::new(cap, metrics.clone(), budget.clone(), buffered);
    let validate = settings.validate_requests.then(|| {
        let rules = Arc::new(spec.rules().clone());
        let max_body = settings.limits.max_request_body;
        Validate::new(rules, max_body, schema.clone(), budget.clone()).into_layer()
    });
    let vmrest = ServiceBuilder::new()
        .option_layer(validate)
        .layer(transcode.into_layer())
        .layer(Coalesce::new(metrics.clone(), budget.clone()).into_layer())
        .layer(Retry::new(settings.upstream_retries, metrics.clone()).into_layer())
        .layer(limit.into_layer())
        .service(Proxy::new(upstream, metrics.clone()));
    let dispatch = Dispatch {
        vmrest,
        request_timeout: settings.request_timeout,
        own,
    };
    let request_rate = settings.bodies.request_rate;
    let app = ServiceBuilder::new()
        // Every client body keeps a minimum pace, whichever layer reads it (→ 408).
        .map_request(move |request: Request<Body>| request.map(|body| request_rate.apply(body)))
        // Every request gets an id (the client's own `x-request-id` if it is a plain id) and
        // continues the client's trace or starts one (see `trace_context`): both are logged,
        // returned to the client, and forwarded upstream with the other headers.
        .layer(AccessLog::new(metrics.clone()).into_layer())
        .option_layer(cors(&settings.cors_allowed_origins))
        // Inside the access log, so it logs the bytes that went on the wire; every answer,
        // the gateway's own errors and routes too.
        .option_layer(
            settings
                .compress_responses
                .then_some(ClientCompressionLayer),
        )
        .service(catch_panics(dispatch));
    BoxCloneSyncService::new(app)
}

/// A panic while handling a request is a bug; it becomes a 500 in the JSON error shape,
/// logged and counted with the request's id, rather than a connection dropped without a word.
/// (Without this, tokio ends only the connection's task: the process carries on either way.)
fn catch_panics<S>(
    inner: S,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
       + Clone
       + Send
       + Sync
       + 'static
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    ServiceBuilder::new()
        .map_response(|response: Response<_>| response.map(Body::new))
        .layer(CatchPanicLayer::custom(panic_response as fn(_) -> _))
        .service(inner)
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)");
    tracing::error!(panic = message, "handling a request panicked; answered 500");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the gateway failed while handling this request; the failure is in its log",
    )
}

/// CORS for browser frontends on other origins: closed unless origins are listed. Listed
/// origins may send credentials (Basic auth, the session cookies); preflights are answered
/// here and never reach Unity Connection.
fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::POST,
                Method::DELETE,
                Method::PATCH,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("x-request-id"),
                TRACEPARENT.clone(),
                TRACESTATE.clone(),
            ])
            .expose_headers([
                header::LOCATION,
                header::RETRY_AFTER,
                header::ALLOW,
                HeaderName::from_static("x-request-id"),
                TRACEPARENT.clone(),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Sends `/vmrest` traffic to the proxy stack (`V`, before its errors are rendered) and
/// everything else to the gateway's own routes.
#[derive(Clone)]
struct Dispatch<V> {
    vmrest: V,
    request_timeout: Duration,
    own: Router,
}

impl<V> Service<Request<Body>> for Dispatch<V>
where
    V: Service<Request<Body>, Response = Response<Body>, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    V::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness is checked on the chosen branch in `call` (via `oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let checked = crate::body::check_transfer_encoding(&request)
            .and_then(|()| target::destination(&request));
        let destination = match checked {
            Ok(destination) => destination,
            Err(error) => return Box::pin(async move { Ok(error.into_response()) }),
        };
        if destination == Destination::OwnRoutes {
            let own = self.own.clone();
            return Box::pin(async move { own.oneshot(request).await });
        }
        let response = self.vmrest.clone().oneshot(request);
        let deadline = self.request_timeout;
        Box::pin(async move {
            // The whole request, queue wait and retries included, up to the response head.
            let result = match tokio::time::timeout(deadline, response).await {
                Ok(result) => result,
                Err(_) => Err(GatewayError::RequestDeadline(deadline)),
            };
            // The one place where a typed error becomes the JSON error response.
            Ok(result.unwrap_or_else(GatewayError::into_response))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_handling_a_request_is_a_500_in_the_error_shape() {
        let panicking = tower::service_fn(|_: Request<Body>| async {
            if true {
                panic!("a bug");
            }
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let response = catch_panics(panicking)
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 10)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["code"], "internal_error", "{body}");
    }
}
