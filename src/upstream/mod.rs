//! The upstream client: one pooled HTTP/1.1 client to the configured Unity Connection server.
//!
//! Everything about reaching the server lives here: its [`Origin`], TLS ([`tls`]), the connect
//! timeout and the time allowed for the response head. The proxy hands it a finished request
//! and gets back the response or a classified [`GatewayError`].
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use cupi_gateway::upstream::{Upstream, UpstreamConfig, tls::TlsVerification};
//!
//! let upstream = Upstream::new(&UpstreamConfig {
//!     origin: "https://cuc.example.com:8443".parse().unwrap(),
//!     verification: TlsVerification::SystemRoots,
//!     connect_timeout: Duration::from_secs(5),
//!     response_timeout: Duration::from_secs(60),
//! }).unwrap();
//! ```

pub mod tls;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_http::timeout::TimeoutBody;

use crate::body_error::is_body_timeout;
use crate::error::{describe_chain, find_source, BoxError, GatewayError};
use tls::{TlsConfigError, TlsVerification};

/// At most this many bytes of response head, as for request heads: CUPI answers carry a few
/// small headers, and a server that sends more cannot make the gateway buffer it (→ 502
/// `upstream_protocol_error`).
const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Where and how to reach Unity Connection.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    pub origin: Origin,
    pub verification: TlsVerification,
    /// Time allowed for the TCP connect.
    pub connect_timeout: Duration,
    /// Time allowed from sending the request to receiving the response head, and for each
    /// gap while the response body arrives.
    pub response_timeout: Duration,
}

/// A handle on the pooled client, cloned for every request (one reference count: the
/// client itself is a dozen).
#[derive(Clone, Debug)]
pub struct Upstream(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    client: Client<HttpsConnector<HttpConnector>, Body>,
    origin: Origin,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Upstream {
    pub fn new(config: &UpstreamConfig) -> Result<Self, TlsConfigError> {
        Upstream::reloadable(config).map(|(upstream, _)| upstream)
    }

    /// Like [`Upstream::new`], and for a CA file on an https upstream, the verifier to
    /// replace when the file changes (new connections verify against it, pooled ones stay).
    pub fn reloadable(
        config: &UpstreamConfig,
    ) -> Result<(Self, Option<tls::CaFileWatch>), TlsConfigError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        // TLS is only configured (and system roots only loaded) for an https upstream.
        let (tls, ca_watch) = match config.origin.scheme == Scheme::HTTPS {
            true => tls::reloadable_client_config(&config.verification)?,
            false => (tls::trust_nothing_config()?, None),
        };
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .http1_max_buf_size(MAX_RESPONSE_HEAD_BYTES)
            // At most 100 response headers (→ 502 `upstream_protocol_error`): hyper's bound,
            // unset for the reason the server's is (`server::connection`).
            .build(connector);
        let upstream = Upstream(Arc::new(Shared {
            client,
            origin: config.origin.clone(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        }));
        Ok((upstream, ca_watch))
    }

    pub fn origin(&self) -> &Origin {
        &self.0.origin
    }

    /// The time allowed for a TCP connect to the upstream.
    pub fn connect_timeout(&self) -> Duration {
        self.0.connect_timeout
    }

    /// Sends a request whose URI is already absolute (see [`Origin::uri_for`]). The response
    /// body fails with a timeout error if the upstream stalls for longer than the response
    /// timeout between two pieces of it, so a stuck server cannot hold a request forever.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Body>, GatewayError> {
        match tokio::time::timeout(self.0.response_timeout, self.0.client.request(request)).await {
            Ok(Ok(response)) => {
                check_head_size(&response)?;
                let idle = self.0.response_timeout;
                Ok(response.map(|body: Incoming| Body::new(TimeoutBody::new(idle, body))))
            }
            Ok(Err(error)) => Err(client_error(Box::new(error), self.0.connect_timeout)),
            Err(_elapsed) => Err(GatewayError::UpstreamTimeout(self.0.response_timeout)),
        }
    }
}

/// Classifies a failure of the upstream client by walking its `source()` chain: a TLS
/// error anywhere in it is a TLS failure, a timed-out connect is a timeout.
fn client_error(error: BoxError, connect_timeout: Duration) -> GatewayError {
    // The client's own body stalled while it was being forwarded: not the upstream's fault.
    if is_body_timeout(error.as_ref()) {
        return GatewayError::RequestTimeout;
    }
    // The client's body broke off or was malformed (bad chunking) while it was being
    // forwarded: a 400 for the client, not an upstream fault. The request's body is the
    // only `axum::Body` the upstream client polls, so an `axum::Error` in the chain is it.
    if let Some(body_error) = find_source::<axum::Error>(error.as_ref()) {
        return GatewayError::RequestBody(describe_chain(body_error).into());
    }
    if find_source::<rustls::Error>(error.as_ref()).is_some() {
        return GatewayError::UpstreamTls(error);
    }
    let timed_out = find_source::<std::io::Error>(error.as_ref())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
    if timed_out {
        return GatewayError::UpstreamTimeout(connect_timeout);
    }
    // A response hyper could not parse: a head past the limits, bad framing.
    if find_source::<hyper::Error>(error.as_ref()).is_some_and(hyper::Error::is_parse) {
        return GatewayError::UpstreamProtocol(error);
    }
    GatewayError::UpstreamUnreachable(error)
}

/// Refuses a response head past [`MAX_RESPONSE_HEAD_BYTES`]. hyper's read buffer bounds
/// what is held while a head is parsed, but one read can fill the buffer's whole spare
/// capacity, so a head somewhat over the limit can still parse: the limit itself is kept here.
fn check_head_size<B>(response: &Response<B>) -> Result<(), GatewayError> {
    let size: usize = response
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum();
    if size <= MAX_RESPONSE_HEAD_BYTES {
        return Ok(());
    }
    Err(GatewayError::UpstreamProtocol(
        format!("a response head of {size} bytes, over the limit of {MAX_RESPONSE_HEAD_BYTES}")
            .into(),
    ))
}

/// The scheme and authority of the upstream, e.g. `https://cuc.example.com:8443`.
///
/// Only an origin is accepted: the path of every request comes from the client, byte for byte,
/// and credentials belong in the client's `Authorization` header, not in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    authority: Authority,
    /// The authority as the `Host` header every forwarded request carries.
    host: HeaderValue,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("not a URL: {0}")]
    Invalid(String),
    #[error("the upstream URL must start with https:// or http://")]
    Scheme,
    #[error("the upstream URL must not carry credentials; clients send their own Basic auth")]
    Credentials,
    #[error("the upstream URL must be an origin only (no path or query): paths come from clients")]
    Path,
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(s: &str) -> Result<Self, OriginError> {
        let uri: Uri = s
            .parse()
            .map_err(|e: http::uri::InvalidUri| OriginError::Invalid(e.to_string()))?;
        let scheme = uri.scheme().cloned().ok_or(OriginError::Scheme)?;
        if scheme != Scheme::HTTPS && scheme != Scheme::HTTP {
            return Err(OriginError::Scheme);
        }
        let authority = uri.authority().cloned().ok_or(OriginError::Scheme)?;
        if authority.as_str().contains('@') {
            return Err(OriginError::Credentials);
        }
        let path_is_empty = matches!(uri.path(), "" | "/") && uri.query().is_none();
        if !path_is_empty {
            return Err(OriginError::Path);
        }
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|e| OriginError::Invalid(e.to_string()))?;
        Ok(Origin {
            scheme,
            authority,
            host,
        })
    }
}

impl Origin {
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The `Host` header of requests to this origin.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.authority
            .port_u16()
            .unwrap_or(if self.scheme == Scheme::HTTPS {
                443
            } else {
                80
            })
    }

    /// The absolute URI of `path_and_query` on this origin.
    pub fn uri_for(&self, path_and_query: PathAndQuery) -> Uri {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .expect("scheme, authority and path were each validated")
    }

    /// Whether `uri` points at this origin (same scheme, host and effective port).
    pub(crate) fn is_origin_of(&self, uri: &Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme(), uri.host()) else {
            return false;
        };
        let default_port = if *scheme == Scheme::HTTPS { 443 } else { 80 };
        *scheme == self.scheme
            && host.eq_ignore_ascii_case(self.authority.host())
            && uri.port_u16().unwrap_or(default_port) == self.port()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_is_classified() {
        // tokio-rustls hands TLS failures up as an io::Error wrapping the rustls::Error.
        let tls: BoxError = Box::new(std::io::Error::other(rustls::Error::General("x".into())));
        assert_eq!(
            client_error(tls, Duration::from_secs(1)).code(),
            "upstream_tls_error"
        );
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct Wrapper(#[source] rustls::Error);
        let wrapped: BoxError = Box::new(Wrapper(rustls::Error::General("bad cert".into())));
        assert_eq!(
            client_error(wrapped, Duration::from_secs(1)).code(),
            "upstream_tls_error"
        );

        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct IoWrapper(#[source] std::io::Error);
        let timeout: BoxError = Box::new(IoWrapper(std::io::ErrorKind::TimedOut.into()));
        assert_eq!(client_error(timeout, Duration::from_secs(1)).status(), 504);
        let refused: BoxError = Box::new(IoWrapper(std::io::ErrorKind::ConnectionRefused.into()));
        let refused = client_error(refused, Duration::from_secs(1));
        assert_eq!(
            (refused.code(), refused.status().as_u16()),
            ("upstream_unreachable", 502)
        );
    }

    #[test]
    fn origins_are_validated() {
        let origin: Origin = "https://cuc.example.com:8443".parse().unwrap();
        assert_eq!(origin.to_string(), "https://cuc.example.com:8443");
        assert_eq!(
            "https://cuc.example.com/".parse::<Origin>().unwrap().port(),
            443
        );
        assert_eq!("http://127.0.0.1".parse::<Origin>().unwrap().port(), 80);
        assert_eq!("ftp://x".parse::<Origin>(), Err(OriginError::Scheme));
        assert_eq!(
            "cuc.example.com".parse::<Origin>(),
            Err(OriginError::Scheme)
        );
        assert_eq!(
            "https://u:p@cuc".parse::<Origin>(),
            Err(OriginError::Credentials)
        );
        assert_eq!(
            "https://cuc/vmrest".parse::<Origin>(),
            Err(OriginError::Path)
        );
        assert_eq!("https://cuc/?a=1".parse::<Origin>(), Err(OriginError::Path));
    }

    #[test]
    fn origin_matches_default_and_explicit_ports() {
        let origin: Origin = "https://CUC.example.com".parse().unwrap();
        assert!(origin.is_origin_of(&"https://cuc.example.com/vmrest/x".parse().unwrap()));
        assert!(origin.is_origin_of(&"https://cuc.example.com:443/x".parse().unwrap()));
        assert!(!origin.is_origin_of(&"http://cuc.example.com/x".parse().unwrap()));
        assert!(!origin.is_origin_of(&"https://cuc.example.com:8443/x".parse().unwrap()));
        assert!(!origin.is_origin_of(&"https://other.example.com/x".parse().unwrap()));
        assert!(!origin.is_origin_of(&"/vmrest/x".parse().unwrap()));
    }
}
