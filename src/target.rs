//! The request-target guard: what every request passes before it is routed. The gateway is a
//! reverse proxy for one upstream, so it refuses what only a forward proxy would serve, and
//! it sends `/vmrest` paths upstream only once [`cupi_uri::check_path`] has found them to mean
//! the same to Unity Connection as to the gateway.

use axum::body::Body;
use http::Request;

use crate::error::GatewayError;

/// Where a request that passed the guard goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    /// The `/vmrest` stack, and on to Unity Connection.
    Vmrest,
    /// The gateway's own routes ([`crate::routes`]).
    OwnRoutes,
}

/// Checks the request's target and says where it goes: refused targets are
/// `InvalidTarget`, `/vmrest` paths that fail the path guard `InvalidPath`.
pub(crate) fn destination(request: &Request<Body>) -> Result<Destination, GatewayError> {
    check_target(request).map_err(GatewayError::InvalidTarget)?;
    let path = request.uri().path();
    if !cupi_uri::is_vmrest(path) {
        return Ok(Destination::OwnRoutes);
    }
    cupi_uri::check_path(path).map_err(GatewayError::InvalidPath)?;
    Ok(Destination::Vmrest)
}

/// The gateway is a reverse proxy for one upstream, never a forward proxy: CONNECT and
/// HTTP/1 absolute-form targets (`GET http://elsewhere/ HTTP/1.1`) are refused, so no client can
/// make it talk to a host of the client's choosing. (HTTP/2 requests always carry an
/// authority; it is ignored, as the upstream is fixed.)
fn check_target(request: &Request<Body>) -> Result<(), &'static str> {
    if request.method() == http::Method::CONNECT {
        return Err("CONNECT is not served: this is not a forward proxy");
    }
    let is_http1 = request.version() <= http::Version::HTTP_11;
    if is_http1 && request.uri().authority().is_some() {
        return Err("absolute-form request targets are not served: this is not a forward proxy");
    }
    Ok(())
}
