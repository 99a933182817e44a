//! What a failed body read is answered with: the client's body and the upstream's fail
//! differently (a stall is the client's 408 or the upstream's 504), and a body the gateway
//! decodes has failures of its own. Every reader turns a body's error into a
//! [`GatewayError`] here, so every layer reports them alike; the decoder's own failures
//! ([`UndecodableBody`], [`DecodedTooLarge`]) are named here for that reason.

use std::error::Error as StdError;

use crate::body_rate::BodyTooSlow;
use crate::error::{find_source, BoxError, GatewayError};

/// Whether a body error is a body running out of time: a [`tower_http::timeout::TimeoutBody`]
/// (the upstream's), or a client's body too slow or idle too long ([`BodyTooSlow`]).
pub(crate) fn is_body_timeout(error: &(dyn StdError + 'static)) -> bool {
    find_source::<tower_http::timeout::TimeoutError>(error).is_some()
        || find_source::<BodyTooSlow>(error).is_some()
}

/// A failure while reading the client's body: a stalled body is a timeout (408).
pub(crate) fn request_body_error(error: BoxError) -> GatewayError {
    if is_body_timeout(error.as_ref()) {
        GatewayError::RequestTimeout
    } else {
        GatewayError::RequestBody(error)
    }
}

/// A failure of the upstream's body: a stall is a timeout (504), anything else a 502, with
/// its own code when the body was compressed and decodes to too much or to nothing sound.
pub(crate) fn upstream_body_error(error: BoxError) -> GatewayError {
    if is_body_timeout(error.as_ref()) {
        return GatewayError::UpstreamStalled;
    }
    let error = match error.downcast::<DecodedTooLarge>() {
        Ok(too_large) => {
            return GatewayError::UpstreamResponseTooLarge {
                limit: too_large.limit,
            }
        }
        Err(error) => error,
    };
    if error.is::<UndecodableBody>() {
        GatewayError::UpstreamCorruptEncoding(error)
    } else {
        GatewayError::UpstreamBody(error)
    }
}

/// The decoded body is corrupt: not gzip or deflate, cut short, or followed by other bytes.
#[derive(Debug, thiserror::Error)]
#[error("the {coding} body could not be decoded: {reason}")]
pub(crate) struct UndecodableBody {
    /// The coding's name: `gzip` or `deflate`.
    pub(crate) coding: &'static str,
    pub(crate) reason: String,
}

/// The body decodes to more than the limit.
#[derive(Debug, thiserror::Error)]
#[error("the body decodes to more than {limit} bytes")]
pub(crate) struct DecodedTooLarge {
    pub(crate) limit: usize,
}
