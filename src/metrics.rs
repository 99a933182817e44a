//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One [`Metrics`] per gateway instance (not a global), handed to the layers that observe:
//! the access log (requests, latency), the transcoder (errors, typed-value fallbacks), the retry
//! layer, the upstream limit (shed requests, requests in flight) and the proxy (upstream
//! latency).
//!
//! Every label value comes from a closed set, so no client can grow `/metrics` (and the
//! gateway's memory, as each label set is kept for the life of the process) by sending new
//! values: routes are OpenAPI path templates (`/vmrest/portgroups/{objectId}`), the gateway's
//! own paths ([`crate::own_paths::OWN_ROUTES`]), `/vmrest/{other}` or `{unknown}`; methods are the
//! standard ones or `other`; statuses are the response's three digits; transcoding reasons are
//! the gateway's own names.
//!
//! # Example
//!
//! ```
//! let metrics = cupi_gateway::metrics::Metrics::new(vec![]);
//! metrics.shed.inc();
//! assert!(metrics.encode().contains("cupi_gateway_upstream_shed_total 1"));
//! ```

use std::sync::Arc;

use http::Method;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry};

use cupi_uri::{PathTemplate, PathToMatch};

use crate::own_paths::own_route;

type HistogramFamily = Family<RouteMethod, Histogram, fn() -> Histogram>;

/// The methods counted under their own name; any other (extension) method is `other`.
const LABELLED_METHODS: [&str; 9] = [
    "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// The method label: the standard method's name, or `other` for any extension method, which
/// a client may invent anew for every request.
pub(crate) fn method_label(method: &Method) -> &'static str {
    member_of(&LABELLED_METHODS, method.as_str()).unwrap_or("other")
}

/// `value` as the `'static` member of a closed set it equals, if any: a label that costs no
/// allocation and cannot be a value the client made up.
fn member_of(set: &[&'static str], value: &str) -> Option<&'static str> {
    set.iter().copied().find(|member| *member == value)
}

/// A route label: one of the OpenAPI templates (shared, not copied per request) or one of the
/// gateway's own fixed names.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    Template(Arc<str>),
    Fixed(&'static str),
}

impl Route {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Route::Template(template) => template,
            Route::Fixed(name) => name,
        }
    }
}

// By the text alone: a template and a fixed name that read the same are one label.
impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// Labels of `cupi_gateway_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: Route,
    pub method: &'static str,
    pub status: u16,
}

/// Labels of the request duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteMethod {
    pub route: Route,
    pub method: &'static str,
}

/// Labels of `cupi_gateway_transcode_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TranscodeErrorLabels {
    pub direction: &'static str,
    pub reason: &'static str,
}

/// Labels of `cupi_gateway_tls_reloads_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TlsReloadLabels {
    /// `server_certificate` or `upstream_ca`.
    pub files: &'static str,
    /// `success` or `failure`.
    pub result: &'static str,
}

/// Labels of `cupi_gateway_tls_certificate_expiry_timestamp_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TlsFilesLabel {
    pub files: &'static str,
}

/// Every metric the gateway keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    routes: Vec<(PathTemplate, Route)>,
    /// Requests answered, by route, method and status.
    pub(crate) requests: Family<RequestLabels, Counter>,
    /// Time from request to response head at the gateway, by route and method.
    pub(crate) request_seconds: HistogramFamily,
    /// Time from sending to the upstream to its response head.
    pub(crate) upstream_seconds: Histogram,
    /// Requests at the upstream right now (holding a slot of the concurrency cap).
    pub upstream_in_flight: Gauge,
    /// Requests answered 503 `upstream_busy` by the gateway's own queue.
    pub shed: Counter,
    /// 1 while the upstream budget is shared through Redis, 0 in local fallback or without it.
    pub(crate) shared_mode: Gauge,
    /// Leases on shared slots this replica holds now.
    pub(crate) shared_leases: Gauge,
    /// Requests that waited in the shared queue (not granted a slot at once).
    pub(crate) shared_waits: Counter,
    /// Falls from the shared budget back to the local cap (Redis failed or was slow).
    pub(crate) shared_fallbacks: Counter,
    /// Time of each call to Redis for the shared budget.
    pub(crate) redis_seconds: Histogram,
    /// Retries of reads that got an upstream 503.
    pub retries: Counter,
    /// Requests answered with an identical concurrent request's upstream response.
    pub coalesced: Counter,
    /// Bodies the transcoder could not convert, by direction and reason.
    pub(crate) transcode_errors: Family<TranscodeErrorLabels, Counter>,
    /// Typed fields whose text was not of their type and was kept as a string.
    pub(crate) typed_fallbacks: Counter,
    /// Streamed responses cut off after their head was sent (a fault late in the body).
    pub(crate) responses_aborted: Counter,
    /// Client connections open now (at most `--max-connections`), kept by the server.
    pub open_connections: Gauge,

    /// Bytes of the body budget held by buffered request and response bodies now.
    pub(crate) body_budget_in_use: Gauge,
    /// Reloads of changed TLS files, by which files and whether they loaded.
    pub(crate) tls_reloads: Family<TlsReloadLabels, Counter>,
    /// When the loaded certificate (the earliest of a CA file's) expires, in Unix seconds.
    pub(crate) tls_expiry: Family<TlsFilesLabel, Gauge>,
}

/// 1 ms to ~65 s in doublings: CUPI answers in milliseconds to tens of seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Registers `metric` under `name` and hands it back, so each field of [`Metrics`] is made
/// and registered in one place.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    /// `routes` are the OpenAPI path templates, used as route labels.
    pub fn new(routes: Vec<PathTemplate>) -> Self {
        let mut registry = Registry::with_prefix("cupi_gateway");
        let r = &mut registry;
        let routes = routes
            .into_iter()
            .map(|template| {
                let label = Route::Template(Arc::from(template.as_str()));
                (template, label)
            })
            .collect();
        Metrics {
            routes,
            requests: registered(r, "requests", "Requests answered, by route, method and status", Family::default()),
            request_seconds: registered(r, "request_duration_seconds", "Time to response head at the gateway", HistogramFamily::new_with_constructor(latency_histogram)),
            upstream_seconds: registered(r, "upstream_duration_seconds", "Time to response head at the upstream", latency_histogram()),
            upstream_in_flight: registered(r, "upstream_in_flight", "Requests at the upstream now", Gauge::default()),
            shed: registered(r, "upstream_shed", "Requests refused with 503 upstream_busy by the gateway's queue", Counter::default()),
            shared_mode: registered(r, "upstream_limit_shared", "1 while the upstream budget is shared through Redis (--upstream-limit-redis), 0 on the local cap", Gauge::default()),
            shared_leases: registered(r, "upstream_limit_leases", "Leases on shared upstream slots held by this replica now", Gauge::default()),
            shared_waits: registered(r, "upstream_limit_shared_waits", "Requests that waited in the shared queue for a slot", Counter::default()),
            shared_fallbacks: registered(r, "upstream_limit_fallbacks", "Falls back to the local cap because Redis failed or was slow", Counter::default()),
            redis_seconds: registered(r, "upstream_limit_redis_duration_seconds", "Time of each call to Redis for the shared upstream budget", Histogram::new(exponential_buckets(0.0001, 2.0, 15))),
            retries: registered(r, "upstream_retries", "Retries of reads after an upstream 503", Counter::default()),
            coalesced: registered(r, "coalesced_requests", "Requests answered with an identical concurrent request's upstream response", Counter::default()),
            transcode_errors: registered(r, "transcode_errors", "Bodies that could not be transcoded", Family::default()),
            typed_fallbacks: registered(r, "typed_fallbacks", "Typed values kept as strings because their text was not of their type", Counter::default()),
            responses_aborted: registered(r, "responses_aborted", "Streamed responses cut off after their head was sent, for a fault late in the body", Counter::default()),
            open_connections: registered(r, "open_connections", "Client connections open now", Gauge::default()),
            body_budget_in_use: registered(r, "body_budget_bytes_in_use", "Bytes of the body budget held by buffered request and response bodies", Gauge::default()),
            tls_reloads: registered(r, "tls_reloads", "Reloads of changed TLS files (server_certificate, upstream_ca), by result; on failure the files loaded before stay", Family::default()),
            tls_expiry: registered(r, "tls_certificate_expiry_timestamp_seconds", "Not-after of the loaded certificate (of a CA file, its earliest), in Unix seconds", Family::default()),
            registry,
        }
    }

    /// Counts a reload of changed TLS files; `files` and `result` are the gateway's own names.
    pub(crate) fn tls_reloaded(&self, files: &'static str, result: &'static str) {
        let labels = TlsReloadLabels { files, result };
        self.tls_reloads.get_or_create(&labels).inc();
    }

    /// Records when the certificate loaded from `files` expires.
    pub(crate) fn tls_expires_at(&self, files: &'static str, unix_seconds: i64) {
        self.tls_expiry
            .get_or_create(&TlsFilesLabel { files })
            .set(unix_seconds);
    }

    /// The route label of a request path.
    pub(crate) fn route_of(&self, path: &str) -> Route {
        let to_match = PathToMatch::new(path);
        if let Some((_, label)) = self.routes.iter().find(|(t, _)| t.matches_path(&to_match)) {
            return label.clone();
        }
        if let Some(own) = own_route(path) {
            return Route::Fixed(own);
        }
        Route::Fixed(match path {
            p if p.starts_with("/docs/") => "/docs/{asset}",
            p if cupi_uri::is_vmrest(p) => "/vmrest/{other}",
            _ => "{unknown}",
        })
    }

    /// Counts an answered request and its time to the response head.
    pub(crate) fn observe_request(&self, route: Route, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method,
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteMethod { route, method })
            .observe(seconds);
    }

    /// Counts a transcoding failure.
    pub(crate) fn transcode_error(&self, direction: &'static str, reason: &'static str) {
        let labels = TranscodeErrorLabels { direction, reason };
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
        let route = |path: &str| metrics.route_of(path).as_str().to_owned();
        assert_eq!(route("/vmrest/ports/abc"), "/vmrest/ports/{objectId}");
        assert_eq!(route("/vmrest/users/abc"), "/vmrest/{other}");
        assert_eq!(route("/healthz"), "/healthz");
        assert_eq!(route("/docs/swagger-ui.css"), "/docs/{asset}");
        assert_eq!(route("/anything/else"), "{unknown}");
        assert_eq!(route("/healthz/x"), "{unknown}");
    }

    #[test]
    fn method_labels_are_the_standard_methods_or_other() {
        for method in [Method::GET, Method::PATCH, Method::OPTIONS, Method::TRACE] {
            assert_eq!(method_label(&method), method.as_str());
        }
        for extension in ["PURGE", "get", "GETX", &"X".repeat(1024)] {
            let method = Method::from_bytes(extension.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{extension}");
        }
    }

    #[test]
    fn extension_methods_share_one_label_set() {
        let metrics = Metrics::new(vec![]);
        for i in 0..50 {
            let method = Method::from_bytes(format!("M{i:0>1000}").as_bytes()).unwrap();
            metrics.observe_request(metrics.route_of("/vmrest/x"), &method, 404, 0.01);
        }
        let text = metrics.encode();
        let line = r#"cupi_gateway_requests_total{route="/vmrest/{other}",method="other",status="404"} 50"#;
        assert!(text.contains(line), "{text}");
        assert!(text.len() < 8 * 1024, "{} bytes", text.len());
    }
}
