//! The gateway's own routes: every path outside `/vmrest`, answered here and never sent to
//! Unity Connection. The paths are the ones [`OWN_ROUTES`] lists, which the index page (`/`)
//! offers; anything else is a 404 in the JSON error shape.

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};

use crate::error::{error_response, GatewayError};
use crate::limit::shared::SharedLimit;
use crate::metrics::Metrics;
use crate::openapi::{self, ApiSpec};
use crate::own_paths::OWN_ROUTES;
use crate::readiness;
use crate::upstream::Upstream;

/// The CUPI reads the index page offers before the gateway's own paths.
const INDEX_VMREST_EXAMPLES: [&str; 2] = ["/vmrest/portgroups", "/vmrest/ports"];

/// Every own route, for the gateway in front of `upstream`; a 404 for any other path.
pub(crate) fn own_routes(
    upstream: &Upstream,
    spec: Arc<ApiSpec>,
    metrics: Arc<Metrics>,
    shared_limit: Option<SharedLimit>,
) -> Router {
    let readiness = readiness::routes(
        upstream.origin().clone(),
        upstream.connect_timeout(),
        shared_limit,
    );
    let index = index(&upstream.origin().to_string());
    Router::new()
        .route("/", get(move || async move { Json(index) }))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(readiness)
        .merge(metrics_route(metrics))
        .merge(openapi::serve::routes(spec))
        .fallback(|request: Request<Body>| async move {
            GatewayError::NotFound {
                path: request.uri().path().to_owned(),
            }
            .into_response()
        })
        .method_not_allowed_fallback(|| async {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route only answers GET",
            )
        })
}

/// The body of `GET /`: what this is, what it is in front of, and where to go next.
fn index(upstream: &str) -> serde_json::Value {
    let offered: Vec<&str> = INDEX_VMREST_EXAMPLES
        .into_iter()
        .chain(OWN_ROUTES.iter().filter(|r| r.on_index).map(|r| r.path))
        .collect();
    serde_json::json!({
        "name": "cupi-gateway",
        "version": env!("CARGO_PKG_VERSION"),
        "upstream": upstream,
        "try": offered,
    })
}

/// `GET /metrics`: Prometheus' text format.
fn metrics_route(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                let mut response = Response::new(Body::from(metrics.encode()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[test]
    fn the_index_offers_the_cupi_examples_then_the_own_routes() {
        let body = index("http://upstream");
        assert_eq!(body["upstream"], "http://upstream");
        assert_eq!(
            body["try"],
            serde_json::json!([
                "/vmrest/portgroups",
                "/vmrest/ports",
                "/docs",
                "/openapi.json",
                "/healthz",
                "/readyz",
                "/metrics"
            ])
        );
    }

    #[tokio::test]
    async fn every_listed_route_is_served() {
        let upstream = Upstream::new(&crate::upstream::UpstreamConfig {
            origin: "http://127.0.0.1:1".parse().unwrap(),
            verification: Default::default(),
            connect_timeout: std::time::Duration::from_millis(100),
            response_timeout: std::time::Duration::from_secs(1),
        })
        .unwrap();
        let spec = Arc::new(ApiSpec::embedded().unwrap());
        let metrics = Arc::new(Metrics::new(spec.path_templates()));
        let router = own_routes(&upstream, spec, metrics, None);
        for route in &OWN_ROUTES {
            let request = Request::get(route.path).body(Body::empty()).unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_ne!(response.status(), StatusCode::NOT_FOUND, "{}", route.path);
        }
    }
}
