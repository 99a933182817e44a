//! `cupi-gateway healthcheck`: asks the gateway running beside it for `GET /healthz` and turns
//! the answer into an exit status (0 for a 200, 1 for anything else), so a container image
//! can have a `HEALTHCHECK` without a shell or curl in it.
//!
//! It reads the gateway's own settings (`CUPI_GATEWAY_LISTEN`, `CUPI_GATEWAY_TLS_CERT`), so
//! the container needs no second copy of its configuration: an unspecified listen address
//! (`0.0.0.0`, `[::]`) is checked on loopback, and a configured certificate means HTTPS. The
//! certificate is not verified: the check talks to its own container over loopback, and asks
//! whether the process answers, not who it is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};

use crate::config::HealthcheckArgs;
use crate::error::error_chain;
use crate::upstream::tls::TlsVerification;
use crate::upstream::{Upstream, UpstreamConfig};

/// Why the gateway was not found healthy.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    #[error("{url} answered {status}")]
    Status { url: String, status: StatusCode },
    #[error("{url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
}

/// The URL of the `/healthz` of a gateway listening on `listen`.
pub(crate) fn healthz_url(listen: SocketAddr, tls: bool) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}/healthz", SocketAddr::new(ip, listen.port()))
}

/// Sends one `GET /healthz` and returns the URL asked, or why it was not a 200 in time.
pub async fn check(args: &HealthcheckArgs) -> Result<String, Unhealthy> {
    let url = healthz_url(args.listen, args.tls_cert.is_some());
    let unreachable = |reason: String| Unhealthy::Unreachable {
        url: url.clone(),
        reason,
    };
    let origin = url
        .trim_end_matches("/healthz")
        .parse()
        .map_err(|e| unreachable(format!("{e}")))?;
    let upstream = Upstream::new(&UpstreamConfig {
        origin,
        verification: TlsVerification::Disabled,
        connect_timeout: args.timeout,
        response_timeout: args.timeout,
    })
    .map_err(|e| unreachable(e.to_string()))?;
    let request = Request::get(&url)
        .body(Body::empty())
        .expect("a URL made from a socket address is valid");
    let status = match tokio::time::timeout(args.timeout, upstream.send(request)).await {
        Ok(Ok(response)) => response.status(),
        // The gateway's own error says "the upstream"; its causes say what happened here.
        Ok(Err(error)) => return Err(unreachable(causes(&error))),
        Err(_elapsed) => {
            return Err(Unhealthy::Timeout {
                url,
                timeout: args.timeout,
            })
        }
    };
    if status == StatusCode::OK {
        Ok(url)
    } else {
        Err(Unhealthy::Status { url, status })
    }
}

/// `error`'s causes, outermost first, or `error` itself if it has none.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut causes: Vec<String> = error_chain(error).skip(1).map(|e| e.to_string()).collect();
    // An `io::Error` and the error it wraps say the same thing.
    causes.dedup();
    if causes.is_empty() {
        return error.to_string();
    }
    causes.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_checked_on_loopback() {
        let url = |listen: &str, tls| healthz_url(listen.parse().unwrap(), tls);
        assert_eq!(url("0.0.0.0:8080", false), "http://127.0.0.1:8080/healthz");
        assert_eq!(url("[::]:8443", true), "https://[::1]:8443/healthz");
        assert_eq!(url("10.0.0.7:9000", false), "http://10.0.0.7:9000/healthz");
    }
}
