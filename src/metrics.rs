//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One [`Metrics`] per gateway instance (not a global), handed to the layers that observe:
//! the access log (requests, latency), the transcoder (errors, typed-value fallbacks), the retry
//! layer, the upstream limit (shed requests, requests in flight) and the proxy (upstream
//! latency). Route labels are OpenAPI path templates (`/vmrest/portgroups/{objectId}`), or
//! `/vmrest/{other}` for undescribed paths, so label cardinality stays bounded whatever ids
//! clients send.
//!
//! # Example
//!
//! ```
//! let metrics = cupi_gateway::metrics::Metrics::new(vec![]);
//! metrics.shed.inc();
//! assert!(metrics.encode().contains("cupi_gateway_upstream_shed_total 1"));
//! ```

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::path_template::PathTemplate;

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Every metric the gateway keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    routes: Vec<PathTemplate>,
    /// Requests answered, by route, method and status.
    pub requests: Family<Labels, Counter>,
    /// Time from request to response head at the gateway, by route and method.
    pub request_seconds: HistogramFamily,
    /// Time from sending to the upstream to its response head.
    pub upstream_seconds: Histogram,
    /// Requests at the upstream right now (holding a slot of the concurrency cap).
    pub upstream_in_flight: Gauge,
    /// Requests answered 503 `upstream_busy` by the gateway's own queue.
    pub shed: Counter,
    /// Retries of reads that got an upstream 503.
    pub retries: Counter,
    /// Requests answered with an identical concurrent request's upstream response.
    pub coalesced: Counter,
    /// Bodies the transcoder could not convert, by direction and reason.
    pub transcode_errors: Family<Labels, Counter>,
    /// Typed fields whose text was not of their type and was kept as a string.
    pub typed_fallbacks: Counter,
    /// Streamed responses cut off after their head was sent (a fault late in the body).
    pub responses_aborted: Counter,
    /// Bytes of the body budget held by buffered request and response bodies now.
    pub body_budget_in_use: Gauge,
}

/// 1 ms to ~65 s in doublings: CUPI answers in milliseconds to tens of seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    /// `routes` are the OpenAPI path templates, used as route labels.
    pub fn new(routes: Vec<PathTemplate>) -> Self {
        let mut registry = Registry::with_prefix("cupi_gateway");
        let requests = Family::<Labels, Counter>::default();
        let request_seconds = HistogramFamily::new_with_constructor(latency_histogram);
        let upstream_seconds = latency_histogram();
        let upstream_in_flight = Gauge::default();
        let shed = Counter::default();
        let retries = Counter::default();
        let coalesced = Counter::default();
        let transcode_errors = Family::<Labels, Counter>::default();
        let typed_fallbacks = Counter::default();
        let responses_aborted = Counter::default();
        let body_budget_in_use = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to response head at the gateway",
            request_seconds.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time to response head at the upstream",
            upstream_seconds.clone(),
        );
        registry.register(
            "upstream_in_flight",
            "Requests at the upstream now",
            upstream_in_flight.clone(),
        );
        registry.register(
            "upstream_shed",
            "Requests refused with 503 upstream_busy by the gateway's queue",
            shed.clone(),
        );
        registry.register(
            "upstream_retries",
            "Retries of reads after an upstream 503",
            retries.clone(),
        );
        registry.register(
            "coalesced_requests",
            "Requests answered with an identical concurrent request's upstream response",
            coalesced.clone(),
        );
        registry.register(
            "transcode_errors",
            "Bodies that could not be transcoded",
            transcode_errors.clone(),
        );
        registry.register(
            "typed_fallbacks",
            "Typed values kept as strings because their text was not of their type",
            typed_fallbacks.clone(),
        );
        registry.register(
            "responses_aborted",
            "Streamed responses cut off after their head was sent, for a fault late in the body",
            responses_aborted.clone(),
        );
        registry.register(
            "body_budget_bytes_in_use",
            "Bytes of the body budget held by buffered request and response bodies",
            body_budget_in_use.clone(),
        );
        Metrics {
            registry,
            routes,
            requests,
            request_seconds,
            upstream_seconds,
            upstream_in_flight,
            shed,
            retries,
            coalesced,
            transcode_errors,
            typed_fallbacks,
            responses_aborted,
            body_budget_in_use,
        }
    }

    /// The route label of a request path.
    pub fn route_of(&self, path: &str) -> String {
        if let Some(template) = self.routes.iter().find(|t| t.matches(path)) {
            return template.as_str().to_owned();
        }
        match path {
            "/" | "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/openapi.yaml"
            | "/docs" => path.to_owned(),
            p if p.starts_with("/docs/") => "/docs/{asset}".to_owned(),
            p if p == "/vmrest" || p.starts_with("/vmrest/") => "/vmrest/{other}".to_owned(),
            _ => "{unknown}".to_owned(),
        }
    }

    /// Counts a transcoding failure.
    pub fn transcode_error(&self, direction: &'static str, reason: &str) {
        let labels = vec![
            ("direction", direction.to_owned()),
            ("reason", reason.to_owned()),
        ];
        self.transcode_errors.get_or_create(&labels).inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_bounded() {
        let metrics = Metrics::new(vec![PathTemplate::parse("/vmrest/ports/{objectId}")]);
        assert_eq!(
            metrics.route_of("/vmrest/ports/abc"),
            "/vmrest/ports/{objectId}"
        );
        assert_eq!(metrics.route_of("/vmrest/users/abc"), "/vmrest/{other}");
        assert_eq!(metrics.route_of("/healthz"), "/healthz");
        assert_eq!(metrics.route_of("/docs/swagger-ui.css"), "/docs/{asset}");
        assert_eq!(metrics.route_of("/anything/else"), "{unknown}");
    }
}
