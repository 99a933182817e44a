//! The gateway's documentation routes: the document itself, and Swagger UI around it.
//!
//! - `GET /openapi.json`, `GET /openapi.yaml`: the merged document, its `servers` entry set to
//!   the address the client used, so "Try it out" calls this gateway;
//! - `GET /docs`: Swagger UI. Its assets (from the npm package `swagger-ui-dist`, see
//!   `assets/swagger-ui/README.md`) are compiled into the binary: the page loads nothing from
//!   the internet, so it works on an isolated network.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};

use super::{ApiSpec, PlainJson};
use crate::connection::ConnectionInfo;
use crate::error::error_response;
use crate::proxy::headers::client_authority;

const INDEX_HTML: &[u8] = include_bytes!("../../assets/swagger-ui/index.html");
const SWAGGER_UI_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const SWAGGER_UI_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");

/// The documentation routes, to be merged into the gateway's own routes.
pub fn routes(spec: Arc<ApiSpec>) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/openapi.yaml", get(openapi_yaml))
        .route(
            "/docs",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/docs/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async { asset(SWAGGER_UI_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async { asset(SWAGGER_UI_JS, "text/javascript; charset=utf-8") }),
        )
        .with_state(spec)
}

async fn openapi_json(State(spec): State<Arc<ApiSpec>>, request: Request<Body>) -> Response<Body> {
    let document = spec.document_for(&server_url(&request));
    match serde_json::to_vec_pretty(&document) {
        Ok(bytes) => typed(bytes, "application/json"),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &e.to_string(),
        ),
    }
}

async fn openapi_yaml(State(spec): State<Arc<ApiSpec>>, request: Request<Body>) -> Response<Body> {
    let document = spec.document_for(&server_url(&request));
    match serde_saphyr::to_string(&PlainJson(&document)) {
        Ok(yaml) => typed(yaml.into_bytes(), "application/yaml"),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &e.to_string(),
        ),
    }
}

/// `http://<the address the client used>`, or `/` (same origin) without a usable `Host`.
fn server_url(request: &Request<Body>) -> String {
    // Behind a TLS-terminating proxy, its X-Forwarded-Proto is the scheme the browser used;
    // an `http` server URL there would be blocked as mixed content by "Try it out".
    let forwarded = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"));
    let scheme = forwarded.unwrap_or_else(|| {
        request
            .extensions()
            .get::<ConnectionInfo>()
            .map_or("http", |c| c.scheme)
    });
    match client_authority(request.headers(), request.uri()) {
        Some(authority) => format!("{scheme}://{authority}"),
        None => "/".to_owned(),
    }
}

fn typed(bytes: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(bytes));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn asset(bytes: &'static [u8], content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
