//! A simulator of Cisco Unity Connection's CUPI port group and port resources, embedded in
//! cupi-gateway and used by its tests and benchmarks.
//!
//! It exists so the gateway can be developed, tested and benchmarked without a Unity
//! Connection server: it serves `/vmrest/portgroups[/{id}]` and `/vmrest/ports[/{id}]` in
//! CUPI's XML, with Basic auth and session cookies, `query`/`sort`/paging, the one writable
//! PUT, and CUPI-style errors. Data is the example from Cisco's "Port Groups and Ports" page
//! (typos fixed) plus optional deterministic generated groups.
//!
//! So that every link in that data resolves, it also serves, read-only and with the same list
//! machinery, what the port groups and ports point at: `/vmrest/phonesystems[/{id}]`,
//! `/vmrest/portgrouptemplates[/{id}]`, and each group's
//! `/vmrest/portgroups/{id}/portgroupservers[/{id}]` and `…/portgroupcodecs[/{id}]`.
//!
//! Layout: `data/` the records (the kinds' field tables, the seed, the generator, what the
//! groups point at, the store); `query` list parameters; `xml` rendering and the PUT parser;
//! `auth` Basic auth and cookies; `handlers` dispatch.
//!
//! Choices where CUPI is unclear: a list's `total` is the whole match count, not the page's;
//! `is` and `startswith` compare case-insensitively; unknown query parameters are ignored.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use cupi_simulator::{serve, SimulatorConfig, SEED_GROUP_ID};
//!
//! # fn main() -> std::io::Result<()> {
//! let runtime = tokio::runtime::Runtime::new()?;
//! let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
//! let address = listener.local_addr()?;
//! runtime.spawn(serve(listener, SimulatorConfig::default()));
//!
//! // The seeded port group, as Unity Connection would answer for it (admin:password).
//! let mut stream = std::net::TcpStream::connect(address)?;
//! write!(
//!     stream,
//!     "GET /vmrest/portgroups/{SEED_GROUP_ID} HTTP/1.1\r\nHost: cuc\r\n\
//!      Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nConnection: close\r\n\r\n"
//! )?;
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200"));
//! assert!(answer.contains("<DisplayName>PhoneSystem-1</DisplayName>"));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod data;
mod handlers;
mod query;
mod xml;

pub use data::SEED_GROUP_ID;

use std::sync::{Arc, Mutex, RwLock};

use data::{generated_port, generated_port_group, Kind, Store};

/// Settings for the simulator.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Basic-auth user name; default `admin`.
    pub username: String,
    /// Basic-auth password; default `password`.
    pub password: String,
    /// Number of generated port groups added after the seed; default 0.
    pub generated_port_groups: usize,
    /// Ports per generated port group; default 2.
    pub ports_per_generated_group: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            username: "admin".into(),
            password: "password".into(),
            generated_port_groups: 0,
            ports_per_generated_group: 2,
        }
    }
}

/// State shared by all requests.
struct Shared {
    config: SimulatorConfig,
    store: RwLock<Store>,
    sessions: Mutex<auth::Sessions>,
}

/// The simulator as an axum Router (state inside), so tests can drive it in-process.
pub fn router(config: SimulatorConfig) -> axum::Router {
    let shared = Arc::new(Shared {
        store: RwLock::new(Store::new(&config)),
        sessions: Mutex::new(auth::Sessions::default()),
        config,
    });
    axum::Router::new()
        .fallback(handlers::handle)
        .with_state(shared)
}

/// Serve the simulator on an already-bound listener until the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}

/// Ports per group in [`generated_ports_xml`] (the config default).
const GENERATOR_PORTS_PER_GROUP: usize = 2;

/// XML of a `<Ports total="N">` list with `n` generated ports, rendered exactly as
/// `GET /vmrest/ports` renders them. The ports are those of generated groups 1, 2, … with two
/// ports each (the seed is not included), so ids are deterministic and match a simulator
/// started with `generated_port_groups >= n / 2` and default `ports_per_generated_group`.
/// Built straight into one string, for benchmark inputs of hundreds of megabytes.
pub fn generated_ports_xml(n: usize) -> String {
    let mut out = String::with_capacity(128 + n * 1600);
    xml::push_list_open(&mut out, Kind::Port, n, n == 0);
    if n > 0 {
        for j in 0..n {
            let (k, i) = (
                j / GENERATOR_PORTS_PER_GROUP + 1,
                j % GENERATOR_PORTS_PER_GROUP + 1,
            );
            let port = generated_port(k, i, GENERATOR_PORTS_PER_GROUP);
            xml::push_record(&mut out, Kind::Port, &port, false);
        }
        xml::push_list_close(&mut out, Kind::Port);
    }
    out
}

/// XML of a `<PortGroups total="N">` list with generated groups 1..=`n` (two ports each), as
/// `GET /vmrest/portgroups` renders them (list fields, seed not included).
pub fn generated_port_groups_xml(n: usize) -> String {
    let mut out = String::with_capacity(128 + n * 1400);
    xml::push_list_open(&mut out, Kind::PortGroup, n, n == 0);
    if n > 0 {
        for k in 1..=n {
            let group = generated_port_group(k, GENERATOR_PORTS_PER_GROUP);
            xml::push_record(&mut out, Kind::PortGroup, &group, false);
        }
        xml::push_list_close(&mut out, Kind::PortGroup);
    }
    out
}

/// XML of generated port group `k` (from 1, two ports) as one full object, exactly as
/// `GET /vmrest/portgroups/{id}` renders it: the single-object benchmark input.
pub fn generated_port_group_xml(k: usize) -> String {
    xml::render_object(
        Kind::PortGroup,
        &generated_port_group(k, GENERATOR_PORTS_PER_GROUP),
    )
}
