//! What a request knows about the connection it came in on. The server attaches a
//! [`ConnectionInfo`] to every request; the proxy (`X-Forwarded-*`, `Location`), the document
//! routes (the `servers` entry), coalescing and retries read it, without depending on the server.
//! Public so that a test driving the app in-process attaches what the server would.

use std::net::SocketAddr;

use http::HeaderValue;

/// Who is on the other end of the connection a request came in on.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// `http` or `https`, for `X-Forwarded-Proto` and rewritten `Location`s.
    pub scheme: &'static str,
    /// The client's address as `X-Forwarded-For` names it, written once for the connection
    /// rather than formatted for each of its requests; `None` when a request did not come
    /// through [`crate::server::serve`] (tests).
    pub(crate) forwarded_for: Option<HeaderValue>,
}

impl ConnectionInfo {
    /// A connection from `remote`, served over `scheme`.
    pub fn new(remote: SocketAddr, scheme: &'static str) -> Self {
        let ip = remote.ip().to_string();
        ConnectionInfo {
            scheme,
            forwarded_for: HeaderValue::from_str(&ip).ok(),
        }
    }
}

impl Default for ConnectionInfo {
    fn default() -> Self {
        ConnectionInfo {
            scheme: "http",
            forwarded_for: None,
        }
    }
}
