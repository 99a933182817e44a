//! Reading a whole body with a size limit, for the layers that must see all of it
//! (validation, transcoding). Everything else streams.
//!
//! A client's body and the upstream's fail differently: too large is 413 for one and 502 for
//! the other, a stall is the client's 408 or the upstream's 504. Both readers name their
//! failures here, so every layer that reads a body reports them alike.

use axum::body::Body;
use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{is_body_timeout, GatewayError};

/// Reads a client's whole body: 413 past `limit`, 408 if it stalls, 400 if it breaks off.
pub async fn read_request_body(body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(GatewayError::PayloadTooLarge { limit }),
        Err(e) => Err(GatewayError::from_request_body(e)),
    }
}

/// Reads the upstream's whole body: 502 past `limit` or if it breaks off, 504 if it stalls.
pub async fn read_response_body(body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => {
            Err(GatewayError::UpstreamResponseTooLarge { limit })
        }
        Err(e) if is_body_timeout(e.as_ref()) => Err(GatewayError::UpstreamStalled),
        Err(e) => Err(GatewayError::UpstreamBody(e)),
    }
}

/// Whether a request carries no body, by HTTP/1.1's framing rule: `Content-Length: 0`, or
/// neither `Content-Length` nor `Transfer-Encoding` (over HTTP/2, a stream that has ended).
/// Such a request can be sent twice (retry) or answered with another's response (coalescing).
pub fn is_bodiless(request: &Request<Body>) -> bool {
    let headers = request.headers();
    match headers.get(header::CONTENT_LENGTH) {
        Some(length) => length.as_bytes() == b"0",
        None => {
            !headers.contains_key(header::TRANSFER_ENCODING)
                && (request.version() <= http::Version::HTTP_11
                    || http_body::Body::is_end_stream(request.body()))
        }
    }
}
