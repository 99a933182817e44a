//! Reading a whole body with a size limit, for the layers that must see all of it
//! (validation, transcoding). Everything else streams.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::BoxError;

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum CollectError {
    /// It is larger than the limit.
    TooLarge,
    /// Reading it failed (the peer went away, a timeout, a broken chunk).
    Body(BoxError),
}

/// Reads a whole body, failing as soon as it passes `limit` bytes.
pub async fn collect_limited(body: Body, limit: usize) -> Result<Bytes, CollectError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(CollectError::TooLarge),
        Err(e) => Err(CollectError::Body(e)),
    }
}
