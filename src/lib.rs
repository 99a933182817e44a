//! cupi-gateway: a JSON gateway in front of Cisco Unity Connection's provisioning API (CUPI).
//!
//! The modules, in the order a request meets them:
//!
//! - [`start`]: start-up: the document, the upstream (or the embedded simulator), binding,
//!   what `cargo run` prints;
//! - [`server`]: the accept loop, HTTP/1.1 and HTTP/2, inbound TLS, graceful drain; each
//!   request gets its [`connection`] info;
//! - [`app`]: the tower stack; [`target`] guards the request target and splits `/vmrest` from
//!   the gateway's own [`routes`];
//! - [`validate`]: requests checked against the OpenAPI document before they go upstream;
//! - [`transcode`]: content negotiation and JSON ↔ XML bodies ([`cupi_codec`]);
//! - [`coalesce`]: identical concurrent reads share one upstream request;
//! - [`retry`]: idempotent reads that got an upstream 503 are retried, within a budget;
//! - [`middleware`]: the one way the layers above are written, and the one service around them;
//! - [`limit`]: at most N requests at Unity Connection, a bounded queue, 503 beyond it;
//! - [`proxy`]: header rewriting and forwarding;
//! - [`upstream`]: the pooled HTTPS client to Unity Connection.
//!
//! Beside the data path:
//!
//! - bodies: [`body`] (bounded reads, whether there is a body), [`body_error`] (what a failed
//!   read is answered with), [`content_type`] (what a body is, by its headers), [`body_rate`]
//!   (the pace of client bodies), [`budget`] (the memory all held bodies share),
//!   [`content_coding`] and [`compression`] (gzip and deflate, from the upstream and to the
//!   client); [`header_weights`] (the q-values of `Accept` and `Accept-Encoding`);
//! - the request's identity: [`request_id`], [`trace_context`], [`access_log`];
//! - the gateway's own routes: [`own_paths`] (the list), [`routes`] (`/`, `/healthz`),
//!   [`openapi`] (the document, its tables, `/docs`), [`metrics`], [`readiness`];
//! - [`tls_reload`]: certificate, key and upstream CA files re-read when they change, or on SIGHUP;
//! - [`healthcheck`]: the `healthcheck` subcommand, a container healthcheck without curl;
//! - [`config`] and [`error`]: flags/environment, and the one JSON error shape.
//!
//! `pub` modules are the ones the binary, the tests in `tests/`, the benchmarks and the doc
//! examples use.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod app;
pub mod body;
mod body_error;
pub mod body_rate;
pub mod budget;
pub mod coalesce;
mod compression;
pub mod config;
pub mod connection;
mod content_coding;
mod content_type;
pub mod error;
mod header_weights;
pub mod healthcheck;
pub mod limit;
pub mod log_format;
pub mod log_sink;
pub mod metrics;
pub mod middleware;
pub mod openapi;
mod own_paths;
pub mod proxy;
pub mod random;
mod readiness;
pub mod request_id;
pub mod retry;
mod routes;
pub mod server;
pub mod start;
mod target;
mod tls_reload;
pub mod trace_context;
pub mod transcode;
pub mod upstream;
pub mod validate;
