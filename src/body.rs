//! Reading a whole body with a size limit, held in the gateway's [`BodyBudget`], for the layers that must see all of it
//! (validation, error pages), or its first part, for those that decide on it before streaming
//! the rest (transcoding, coalescing). Everything else streams.
//!
//! A client's body and the upstream's fail differently: too large is 413 for one and 502 for
//! the other, a stall is the client's 408 or the upstream's 504. Both readers name their
//! failures through [`crate::body_error`], so every layer that reads a body reports them alike.
//!
//! Whether there is a body at all is asked here too, in one place for each question: of a
//! request, [`is_bodiless_request`] (its framing on arrival); of a response,
//! [`is_bodiless_status`] (204 and 304).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use crate::body_error::{request_body_error, upstream_body_error};
use crate::budget::{BodyBudget, Reservation};
use crate::error::{BoxError, GatewayError};

/// How much of an upstream body is read before the gateway commits to an answer: an ordinary
/// CUPI response fits whole, so its faults always get a clean JSON error; a larger one streams.
pub const PREFIX_LIMIT: usize = 256 * 1024;

/// How large an XML answer may be and still be read whole before it is transcoded, when the
/// budget has room for it at once: a document in one piece is read a third faster than a
/// stream (its events borrowed, not copied; no tasks or channels between), and a fault anywhere
/// in it still gets a clean JSON error. Larger answers, or any when the budget is short, stream.
pub const WHOLE_LIMIT: usize = 4 * 1024 * 1024;

/// Reads a client's whole body: 413 past `limit`, 408 if it stalls, 400 if it breaks off,
/// 503 if the `budget` has no room for it.
pub async fn read_request_body(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Bytes, GatewayError> {
    let too_large = GatewayError::PayloadTooLarge { limit };
    // Boxed where reached, as every reader of a request body (`middleware`: the future's
    // size).
    Box::pin(read_whole(
        body,
        limit,
        budget,
        request_body_error,
        too_large,
    ))
    .await
}

/// Reads a client's body until it ends or `limit` bytes have come (failing as
/// [`read_request_body`] does, but never for its size).
pub(crate) async fn read_request_prefix(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Prefix, GatewayError> {
    read_request_prefix_until(body, limit, budget, whole).await
}

/// Reads a client's body until `enough` says its first part tells what the caller needs, the
/// body ends, or `limit` bytes have come (failing as [`read_request_body`] does, but never
/// for its size).
pub(crate) async fn read_request_prefix_until(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
    enough: impl FnMut(&[u8]) -> bool,
) -> Result<Prefix, GatewayError> {
    Box::pin(read_prefix(body, limit, budget, request_body_error, enough)).await
}

/// Reads the upstream's whole body: 502 past `limit` or if it breaks off, 504 if it stalls,
/// 503 if the `budget` has no room for it.
pub(crate) async fn read_response_body(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Bytes, GatewayError> {
    let too_large = GatewayError::UpstreamResponseTooLarge { limit };
    read_whole(body, limit, budget, upstream_body_error, too_large).await
}

/// Reads a whole body of at most `limit` bytes, `too_large` past it.
async fn read_whole(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
    failed: fn(BoxError) -> GatewayError,
    too_large: GatewayError,
) -> Result<Bytes, GatewayError> {
    match read_prefix(body, limit.saturating_add(1), budget, failed, whole).await? {
        Prefix::Complete(bytes) => Ok(bytes),
        Prefix::Partial { .. } => Err(too_large),
    }
}

/// The first part of a body.
#[derive(Debug)]
pub(crate) enum Prefix {
    /// The body ended within the limit.
    Complete(Bytes),
    /// At least `limit` bytes, and `rest` still to come.
    Partial { head: Bytes, rest: Body },
}

impl Prefix {
    /// The body again, whole: the part already read, then the rest as it arrives.
    pub(crate) fn into_body(self) -> Body {
        match self {
            Prefix::Complete(bytes) => Body::from(bytes),
            Prefix::Partial { head, rest } => Body::new(Prefixed {
                head: Some(head),
                rest,
            }),
        }
    }
}

/// Reads an upstream body until it ends or `limit` bytes have come (502/504 if it fails,
/// 503 if the `budget` has no room for it).
pub(crate) async fn read_response_prefix(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Prefix, GatewayError> {
    read_prefix(body, limit, budget, upstream_body_error, whole).await
}

/// Reads on after an upstream body's first part (`head` read, `rest` to come) while all of it
/// stays within `limit` bytes and the `budget` has room for it now: [`Prefix::Complete`] if the
/// body ends within, else [`Prefix::Partial`] with everything read so far. A body whose
/// `length` (its `Content-Length`) is past `limit` is not read on; one within gets its room in
/// one piece. It never waits for the budget: its caller can stream the rest instead.
pub(crate) async fn read_response_on(
    head: Bytes,
    mut rest: Body,
    length: Option<u64>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Prefix, GatewayError> {
    let length = length.unwrap_or(head.len() as u64);
    let Some(expected) = usize::try_from(length).ok().filter(|&n| n <= limit) else {
        return Ok(Prefix::Partial { head, rest });
    };
    let mut joined = Joined::new(budget, limit);
    joined.expected = expected;
    joined.first = head;
    while let Some(frame) = rest.frame().await {
        let frame = frame.map_err(|e| upstream_body_error(e.into_inner()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if joined.len() + data.len() > limit || !joined.try_push(&data) {
            let head = joined.into_bytes();
            let rest = Prefix::Partial { head: data, rest }.into_body();
            return Ok(Prefix::Partial { head, rest });
        }
    }
    Ok(Prefix::Complete(joined.into_bytes()))
}

/// The length a message's `Content-Length` gives its body, if it gives one.
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// For [`read_prefix`]: no first part is enough, only the whole body or `limit` bytes of it.
fn whole(_: &[u8]) -> bool {
    false
}

/// Reads `body` until it ends, `limit` bytes have come or `enough` is said of what has, each
/// failure of the body named by `failed`; what is read is held in the `budget`.
async fn read_prefix(
    mut body: Body,
    limit: usize,
    budget: &BodyBudget,
    failed: fn(BoxError) -> GatewayError,
    mut enough: impl FnMut(&[u8]) -> bool,
) -> Result<Prefix, GatewayError> {
    let mut head = Joined::new(budget, limit);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failed(e.into_inner()))?;
        if let Ok(data) = frame.into_data() {
            head.push(data).await?;
            if head.len() >= limit || enough(head.as_slice()) {
                let head = head.into_bytes();
                return Ok(Prefix::Partial { head, rest: body });
            }
        }
    }
    Ok(Prefix::Complete(head.into_bytes()))
}

/// Chunks joined into one, copied only once a second chunk comes: a body that arrives whole
/// (one chunk, or a first part another layer already read) is handed on as it is, and counts
/// against the budget only once, where it was joined. (A lone chunk from the connection is part
/// of that connection's read buffer, which the server bounds per connection.) The joined copy
/// reserves its capacity before it grows, and the bytes made of it hold that reservation until
/// their last reference is dropped.
struct Joined<'a> {
    budget: &'a BodyBudget,
    /// How large the buffer may need to grow (it then stops growing in doublings).
    limit: usize,
    /// How large the body says it is, if it says: the buffer's first size (0: unknown).
    expected: usize,
    first: Bytes,
    joined: Vec<u8>,
    reservation: Reservation,
}

impl<'a> Joined<'a> {
    fn new(budget: &'a BodyBudget, limit: usize) -> Self {
        Joined {
            budget,
            limit,
            expected: 0,
            first: Bytes::new(),
            joined: Vec::new(),
            reservation: budget.empty(),
        }
    }

    async fn push(&mut self, chunk: Bytes) -> Result<(), GatewayError> {
        let growth = self.growth(chunk.len());
        self.budget.reserve(&mut self.reservation, growth).await?;
        self.append(chunk, growth);
        Ok(())
    }

    /// [`Joined::push`] if the budget has room now; `false`, and nothing taken, if not.
    fn try_push(&mut self, chunk: &Bytes) -> bool {
        let growth = self.growth(chunk.len());
        if !self.budget.try_reserve(&mut self.reservation, growth) {
            return false;
        }
        self.append(chunk.clone(), growth);
        true
    }

    /// The bytes the buffer must grow by to take `added` more (0: it has room, or this is the
    /// first chunk, which is kept as it is).
    fn growth(&self, added: usize) -> usize {
        if self.first.is_empty() && self.joined.is_empty() {
            return 0;
        }
        let needed = self.len() + added;
        let capacity = self.joined.capacity();
        if needed <= capacity {
            return 0;
        }
        let doubled = capacity.saturating_mul(2).min(self.limit);
        needed.max(doubled).max(self.expected) - capacity
    }

    /// Adds `chunk`, the buffer grown by `growth` bytes, already reserved.
    fn append(&mut self, chunk: Bytes, growth: usize) {
        if self.first.is_empty() && self.joined.is_empty() {
            self.first = chunk;
            return;
        }
        if growth > 0 {
            let capacity = self.joined.capacity();
            self.joined
                .reserve_exact(capacity + growth - self.joined.len());
        }
        if !self.first.is_empty() {
            self.joined
                .extend_from_slice(&std::mem::take(&mut self.first));
        }
        self.joined.extend_from_slice(&chunk);
    }

    fn len(&self) -> usize {
        self.first.len() + self.joined.len()
    }

    fn as_slice(&self) -> &[u8] {
        if self.joined.is_empty() {
            &self.first
        } else {
            &self.joined
        }
    }

    fn into_bytes(self) -> Bytes {
        if self.joined.is_empty() {
            return self.first;
        }
        Bytes::from_owner(Budgeted {
            bytes: self.joined,
            _reservation: self.reservation,
        })
    }
}

/// Joined bytes and the budget they hold, given back when the bytes are freed.
struct Budgeted {
    bytes: Vec<u8>,
    _reservation: Reservation,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// A body whose first bytes were already read.
struct Prefixed {
    head: Option<Bytes>,
    rest: Body,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.size_hint();
        let Some(head) = &self.head else {
            return rest;
        };
        let head = head.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(head));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(head));
        }
        hint
    }
}

/// A response body fed by a channel. An `Err` item aborts the response: no final chunk over
/// HTTP/1.1, a stream reset over HTTP/2, so no client takes a cut body for a whole one.
pub(crate) fn channel_body(chunks: mpsc::Receiver<Result<Bytes, BoxError>>) -> Body {
    Body::new(ChannelBody(chunks))
}

struct ChannelBody(mpsc::Receiver<Result<Bytes, BoxError>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|result| result.map(Frame::data)))
    }
}

/// Whether a request arrived with a body, as its framing said: over HTTP/1.1 its
/// `Content-Length` and `Transfer-Encoding`, over HTTP/2 whether its HEADERS frame ended the
/// stream. hyper's `Incoming::is_end_stream` answers both when the request arrives, so the
/// server records it here before wrapping the body: wrappers that do not report the end of
/// their stream (a timeout, a rate limit) cannot then make a bodiless HTTP/2 request look
/// like an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyFraming {
    bodiless: bool,
}

impl BodyFraming {
    /// The framing of a request body as the connection handed it over, before any wrapping.
    pub(crate) fn at_arrival(body: &impl http_body::Body) -> Self {
        BodyFraming {
            bodiless: body.is_end_stream(),
        }
    }
}

/// Whether a request carries no body: the one rule the validator, coalescing, retries and
/// the proxy share. Such a request can be sent twice (retry), answered with another's
/// response (coalescing), and goes upstream with neither `Content-Length` nor chunking.
///
/// A request that did not come through the server (built in-process) has no recorded
/// framing; its headers, then its body, decide.
pub fn is_bodiless_request(request: &Request<Body>) -> bool {
    if let Some(framing) = request.extensions().get::<BodyFraming>() {
        return framing.bodiless;
    }
    let headers = request.headers();
    match headers.get(header::CONTENT_LENGTH) {
        Some(length) => length.as_bytes() == b"0",
        None => {
            !headers.contains_key(header::TRANSFER_ENCODING)
                && http_body::Body::is_end_stream(request.body())
        }
    }
}

/// Whether a response's status rules out a body: 204 and 304 never carry one (RFC 9110
/// §15.3.5, §15.4.5), whatever their headers say, so there is nothing to transcode or compress.
/// (Whether a *request* has a body is [`is_bodiless_request`].)
pub(crate) fn is_bodiless_status(status: StatusCode) -> bool {
    status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
}

/// Refuses a `Transfer-Encoding` other than plain `chunked` (RFC 9112 §6.1: 501). hyper reads
/// `gzip, chunked` as chunked and the coding would be lost on the way upstream, which must
/// drop the hop-by-hop header; CUPI clients never compress their uploads this way.
pub(crate) fn check_transfer_encoding(request: &Request<Body>) -> Result<(), GatewayError> {
    let mut codings = request
        .headers()
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty());
    let Some(first) = codings.next() else {
        return Ok(());
    };
    if first.eq_ignore_ascii_case(b"chunked") && codings.next().is_none() {
        return Ok(());
    }
    let named = request
        .headers()
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    Err(GatewayError::UnsupportedTransferEncoding(named))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of the given chunks, one frame each.
    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let (sender, receiver) = mpsc::channel(chunks.len());
        for chunk in chunks {
            sender.try_send(Ok(Bytes::from_static(chunk))).unwrap();
        }
        channel_body(receiver)
    }

    #[test]
    fn the_framing_recorded_on_arrival_decides_over_headers_and_wrappers() {
        // A body wrapper that hides its end (as a timeout wrapper can) does not matter once
        // the framing was recorded.
        let mut request = Request::get("/x").body(chunked(&[b"{}"])).unwrap();
        assert!(
            !is_bodiless_request(&request),
            "unrecorded: the body's own end decides"
        );
        request
            .extensions_mut()
            .insert(BodyFraming::at_arrival(&Body::empty()));
        assert!(is_bodiless_request(&request));

        let mut upload = Request::put("/x").body(Body::empty()).unwrap();
        upload
            .extensions_mut()
            .insert(BodyFraming::at_arrival(&Body::from("{}")));
        assert!(!is_bodiless_request(&upload), "recorded with a body");

        let zero = Request::get("/x")
            .header(header::CONTENT_LENGTH, "0")
            .body(Body::from("ignored"))
            .unwrap();
        assert!(is_bodiless_request(&zero));
    }

    #[test]
    fn only_204_and_304_rule_out_a_response_body() {
        assert!(is_bodiless_status(StatusCode::NO_CONTENT));
        assert!(is_bodiless_status(StatusCode::NOT_MODIFIED));
        assert!(!is_bodiless_status(StatusCode::OK));
        assert!(!is_bodiless_status(StatusCode::NOT_FOUND));
    }

    #[test]
    fn only_plain_chunked_is_accepted_as_a_transfer_encoding() {
        let with = |values: &[&str]| {
            let mut request = Request::put("/x");
            for value in values {
                request = request.header(header::TRANSFER_ENCODING, *value);
            }
            check_transfer_encoding(&request.body(Body::empty()).unwrap()).map_err(|e| e.code())
        };
        assert_eq!(with(&[]), Ok(()));
        assert_eq!(with(&["chunked"]), Ok(()));
        assert_eq!(with(&["Chunked "]), Ok(()));
        let refused = Err("unsupported_transfer_encoding");
        assert_eq!(with(&["gzip, chunked"]), refused);
        assert_eq!(with(&["gzip", "chunked"]), refused);
        assert_eq!(with(&["chunked, chunked"]), refused);
        assert_eq!(with(&["identity"]), refused);
    }

    #[tokio::test]
    async fn a_prefix_joins_chunks_and_keeps_a_lone_chunk_as_it_is() {
        let metrics = crate::metrics::Metrics::new(vec![]);
        let budget = BodyBudget::new(1024, &metrics);
        let Prefix::Complete(whole) = read_response_prefix(chunked(&[b"ab", b"cd"]), 10, &budget)
            .await
            .unwrap()
        else {
            panic!("the body ended within the limit");
        };
        assert_eq!(whole, "abcd");

        let Prefix::Partial { head, rest } =
            read_response_prefix(chunked(&[b"abc", b"def", b"g"]), 5, &budget)
                .await
                .unwrap()
        else {
            panic!("the body is longer than the limit");
        };
        assert_eq!(head, "abcdef");
        let rest = rest.collect().await.unwrap().to_bytes();
        assert_eq!(rest, "g");

        // One chunk: the same bytes, not a copy of them.
        let chunk = Bytes::from_static(b"whole");
        let Prefix::Complete(same) = read_response_prefix(Body::from(chunk.clone()), 10, &budget)
            .await
            .unwrap()
        else {
            panic!("the body ended within the limit");
        };
        assert_eq!(same.as_ptr(), chunk.as_ptr());
    }

    #[tokio::test]
    async fn joined_bodies_hold_the_budget_until_freed_and_are_refused_past_it() {
        let metrics = crate::metrics::Metrics::new(vec![]);
        let budget = BodyBudget::new(10, &metrics);
        let held = read_request_body(chunked(&[b"abc", b"def"]), 100, &budget)
            .await
            .unwrap();
        assert_eq!(held, "abcdef");
        assert_eq!(budget.in_use(), 6);
        let copy = held.clone();
        drop(held);
        assert_eq!(budget.in_use(), 6, "a clone still holds the bytes");

        let refused = read_request_body(chunked(&[b"ghi", b"jkl"]), 100, &budget).await;
        let refused = refused.expect_err("6 + 6 bytes exceed a budget of 10");
        assert_eq!(refused.code(), "body_budget_exhausted");
        assert_eq!(refused.status(), 503);
        assert_eq!(budget.in_use(), 6, "a refused body gives back what it took");

        drop(copy);
        assert_eq!(budget.in_use(), 0);
        assert!(metrics.encode().contains("body_budget_bytes_in_use 0"));
        let too_large = read_request_body(chunked(&[b"abc", b"def"]), 5, &budget).await;
        assert_eq!(too_large.expect_err("6 > 5").status(), 413);
    }
}
