//! Streaming a large XML response out as JSON: one past
//! [`WHOLE_LIMIT`](crate::body::WHOLE_LIMIT), or any the body budget cannot hold whole.
//!
//! The transcoder is synchronous code over a [`BufRead`], so it runs on tokio's blocking pool
//! (it is CPU work, and must not hold up the async workers) between two channels: a pump task
//! feeds it the upstream's chunks, and it sends JSON chunks to the response body.
//!
//! The response head waits until the transcoder has got through the first
//! [`PREFIX_LIMIT`](crate::body::PREFIX_LIMIT) bytes: a fault found there still gets a clean
//! JSON error with its own status. A fault found later can only abort the response, which the
//! client sees as a cut connection (or a reset HTTP/2 stream), never as a complete body; the
//! `cupi_gateway_responses_aborted_total` metric counts them.

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::{Buf, Bytes};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::Response;
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use super::negotiate::json_content_type;
use super::xml_error::upstream_xml_error;
use crate::body::channel_body;
use crate::body_error::upstream_body_error;
use crate::error::{BoxError, GatewayError};
use crate::metrics::Metrics;
use cupi_codec::{stream_xml_to_json, JsonStyle, Schema, XmlError};

/// JSON is handed to the client in chunks of about this size.
const CHUNK: usize = 64 * 1024;

/// Chunks in flight between the tasks: with [`CHUNK`], about half a megabyte each way.
const IN_FLIGHT: usize = 8;

/// Transcodes `head` followed by `rest` to JSON, answering once the first `head.len()` bytes
/// have been transcoded without a fault.
pub(super) async fn stream_response(
    mut parts: http::response::Parts,
    head: Bytes,
    rest: Body,
    schema: Arc<Schema>,
    style: JsonStyle,
    max_object_bytes: usize,
    metrics: Arc<Metrics>,
) -> Result<Response<Body>, GatewayError> {
    let failure = Arc::new(Mutex::new(None));
    let (chunks_in, chunks) = mpsc::channel(IN_FLIGHT);
    tokio::spawn(pump(rest, chunks_in, failure.clone()));

    let (commit_tx, commit) = oneshot::channel();
    let (json_out, json) = mpsc::channel(IN_FLIGHT);
    let committed_at = head.len() as u64;
    let reader = ChunkReader {
        current: head,
        chunks,
        failure: failure.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let mut transcoder = Transcoder {
            commit: Some(commit_tx),
            committed_at,
            json: json_out,
        };
        let mut out = Vec::with_capacity(2 * CHUNK);
        let result = stream_xml_to_json(
            reader,
            &schema,
            style,
            max_object_bytes as u64,
            &mut out,
            |out, read| transcoder.flush(out, read),
        );
        let outcome = match result {
            Ok(fallbacks) => {
                metrics.typed_fallbacks.inc_by(fallbacks as u64);
                transcoder.finish(out);
                return;
            }
            Err(XmlError::Abandoned) => return, // the client went away
            Err(error) => error,
        };
        let error = match failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(body_failure) => body_failure,
            None => upstream_xml_error(outcome, max_object_bytes, &metrics),
        };
        transcoder.fail(error, &metrics);
    });

    match commit.await {
        Ok(Ok(())) => {
            parts.headers.insert(CONTENT_TYPE, json_content_type(style));
            parts.headers.remove(CONTENT_LENGTH);
            Ok(Response::from_parts(parts, channel_body(json)))
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(GatewayError::UpstreamBody(
            "the transcoder stopped without an answer".into(),
        )),
    }
}

/// The blocking side's state: whether the head is out yet, and where JSON goes.
struct Transcoder {
    commit: Option<oneshot::Sender<Result<(), GatewayError>>>,
    committed_at: u64,
    json: mpsc::Sender<Result<Bytes, BoxError>>,
}

impl Transcoder {
    /// Called after each list item: commits once the first part is through, then hands on
    /// JSON in chunks. `false` when the client is gone.
    fn flush(&mut self, out: &mut Vec<u8>, read: u64) -> bool {
        if self.commit.is_some() {
            if read < self.committed_at {
                return true; // still deciding: keep the JSON
            }
            if let Some(commit) = self.commit.take() {
                if commit.send(Ok(())).is_err() {
                    return false;
                }
            }
        }
        if out.len() < CHUNK {
            return true;
        }
        let chunk = Bytes::from(std::mem::replace(out, Vec::with_capacity(2 * CHUNK)));
        self.json.blocking_send(Ok(chunk)).is_ok()
    }

    /// The document is done: the rest of the JSON, and the head if it was not out yet.
    fn finish(mut self, out: Vec<u8>) {
        if let Some(commit) = self.commit.take() {
            let _ = commit.send(Ok(()));
        }
        if !out.is_empty() {
            let _ = self.json.blocking_send(Ok(Bytes::from(out)));
        }
    }

    /// A fault: a clean error while the head is not out, an aborted body after.
    fn fail(mut self, error: GatewayError, metrics: &Metrics) {
        match self.commit.take() {
            Some(commit) => {
                let _ = commit.send(Err(error));
            }
            None => {
                tracing::warn!(code = error.code(), %error, "response aborted after its head was sent");
                metrics.responses_aborted.inc();
                let _ = self.json.blocking_send(Err(Box::new(error)));
            }
        }
    }
}

/// Moves the upstream's chunks to the transcoder; a failure is recorded for it to report.
async fn pump(
    mut body: Body,
    chunks: mpsc::Sender<Bytes>,
    failure: Arc<Mutex<Option<GatewayError>>>,
) {
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if chunks.send(data).await.is_err() {
                        return; // the transcoder stopped: drop the upstream body
                    }
                }
            }
            Err(e) => {
                *failure.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(upstream_body_error(e.into_inner()));
                return; // closing the channel ends the transcoder's input
            }
        }
    }
}

/// The upstream body as a [`BufRead`] for the synchronous transcoder.
struct ChunkReader {
    current: Bytes,
    chunks: mpsc::Receiver<Bytes>,
    failure: Arc<Mutex<Option<GatewayError>>>,
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None if self.failure.lock().is_ok_and(|f| f.is_some()) => {
                    return Err(io::Error::other("the upstream body failed"));
                }
                None => break, // the end of the body
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current.advance(amount);
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        cupi_codec::read_buffered(self, buf)
    }
}
