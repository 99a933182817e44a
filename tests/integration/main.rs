//! The integration tests, one binary: each module was a test file of its own, and one binary
//! links the gateway once instead of thirty times. `cargo test --test integration MODULE::`
//! runs one module; docs/architecture.md says what each checks.
#![forbid(unsafe_code)]

mod support;

mod cert_rotation;
mod cli;
mod coalesce;
mod compat;
mod compression;
mod connections;
mod cupi_mode;
mod fuzz_properties;
mod gateway;
mod hostile_metrics_logs;
mod hostile_xml;
mod inbound_tls;
mod metrics;
mod openapi;
mod openapi_params;
mod protocol;
mod readme;
mod review_cupi;
mod roundtrip;
mod shared_limit;
mod signal;
mod simulator;
mod simulator_links;
mod slow_clients;
mod streaming;
mod trace_context;
mod upstream_edges;
mod upstream_encoding;
mod upstream_limit;
mod upstream_tls;
mod xml_edges;
