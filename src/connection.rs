//! What a request knows about the connection it came in on. The server attaches a
//! [`ConnectionInfo`] to every request; the proxy (`X-Forwarded-*`, `Location`), the document
//! routes (the `servers` entry), coalescing and retries read it, without depending on the server.
//! Public so that a test driving the app in-process attaches what the server would.

use std::net::SocketAddr;

/// Who is on the other end of the connection a request came in on.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionInfo {
    /// The client's address; `None` when a request did not come through
    /// [`crate::server::serve`] (tests).
    pub remote: Option<SocketAddr>,
    /// `http` or `https`, for `X-Forwarded-Proto` and rewritten `Location`s.
    pub scheme: &'static str,
}

impl Default for ConnectionInfo {
    fn default() -> Self {
        ConnectionInfo {
            remote: None,
            scheme: "http",
        }
    }
}
