//! Content codings of upstream answers: decoding a gzip or deflate answer that came although
//! `identity` was asked for, and deciding which client may get one as it came.
//!
//! The gateway asks Unity Connection for `identity`, but a proxy or load balancer in front of
//! it may compress anyway. Such an answer is decoded as it streams, never held whole: the
//! decoder keeps its window and one output chunk, and everything decoded then meets the same
//! readers, limits and body budget as an identity body. Because a compressed body can decode
//! to a thousand times its size, a decoded body as a whole is held to `--max-response-body`
//! (past it: 502 `upstream_response_too_large`), so a decompression bomb costs the gateway
//! one limit's worth of work, never its memory.
//!
//! An answer passed on untransformed (XML to an XML client, audio, JSON) keeps its coding
//! only for a client whose `Accept-Encoding` takes it; any other client gets it decoded, since
//! the gateway replaced that client's `Accept-Encoding` with `identity` on the way up. A
//! client that sends no `Accept-Encoding` is taken to want identity (curl without
//! `--compressed`, Java's `HttpURLConnection`), which RFC 9110 §12.5.3 allows.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_compression::tokio::bufread::{DeflateDecoder, GzipDecoder, ZlibDecoder};
use axum::body::Body;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH};
use http::Response;
use http_body::{Body as _, Frame};
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

use crate::body::{read_response_prefix, PREFIX_LIMIT};
use crate::body_error::{DecodedTooLarge, UndecodableBody};
use crate::budget::BodyBudget;
use crate::error::{BoxError, GatewayError};
use crate::header_weights::weighted_values;

/// Decoded bytes are handed on in chunks of at most this size: what one poll may inflate.
const DECODED_CHUNK: usize = 32 * 1024;

/// A coding the gateway decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    /// RFC 9110's `deflate` is zlib-wrapped, but servers also send raw deflate: the first
    /// two bytes tell which.
    Deflate,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// How an upstream body is encoded, from its `Content-Encoding`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyCoding {
    /// No coding, or only `identity`.
    Identity,
    /// One coding the gateway decodes.
    Decodable(Coding),
    /// Codings the gateway does not decode: an unknown one (`br`, `compress`), or several
    /// stacked (`gzip, gzip`). The codings as listed, lower-cased.
    Undecodable(Vec<String>),
}

impl BodyCoding {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let codings = codings(headers);
        match codings.as_slice() {
            [] => BodyCoding::Identity,
            [one] if one == "gzip" || one == "x-gzip" => BodyCoding::Decodable(Coding::Gzip),
            [one] if one == "deflate" => BodyCoding::Decodable(Coding::Deflate),
            _ => BodyCoding::Undecodable(codings),
        }
    }

    /// The 502 for a body whose coding cannot be decoded.
    fn refusal(codings: &[String]) -> GatewayError {
        let listed = codings.join(", ");
        let why = if codings.len() > 1 {
            "stacked codings are not decoded, although identity was asked for"
        } else {
            "the gateway decodes only gzip and deflate, and asked for identity"
        };
        GatewayError::UpstreamEncoded(format!("Content-Encoding {listed:?}: {why}"))
    }
}

/// The codings of a `Content-Encoding`, in the order applied, lower-cased, without
/// `identity`; a value that is not text is kept as `?`, which no coding matches.
fn codings(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("?").split(','))
        .map(|coding| coding.trim().to_ascii_lowercase())
        .filter(|coding| !coding.is_empty() && coding != "identity")
        .collect()
}

/// Which codings a client takes, from its `Accept-Encoding`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientCodings {
    /// The header's values, read again at each question: cloning one shares its bytes, where
    /// a list of owned codings would allocate for each.
    accept_encoding: Vec<HeaderValue>,
}

impl ClientCodings {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let accept_encoding = headers.get_all(ACCEPT_ENCODING).iter().cloned().collect();
        ClientCodings { accept_encoding }
    }

    /// Whether the client takes `coding` (RFC 9110 §12.5.3): named with a weight above 0, or
    /// covered by a `*` above 0 without being named. `x-gzip` and `gzip` are one coding.
    pub(crate) fn accepts(&self, coding: &str) -> bool {
        match self.weight_of(canonical(coding)) {
            Some(q) => q > 0.0,
            None => self.weight_of("*").is_some_and(|q| q > 0.0),
        }
    }

    /// The highest weight `name` (lower case, canonical) is listed with, if it is.
    fn weight_of(&self, name: &str) -> Option<f32> {
        weighted_values(self.accept_encoding.iter())
            .filter(|(listed, _, _)| canonical(listed) == name)
            .map(|(_, q, _)| q)
            .reduce(f32::max)
    }
}

/// `x-gzip` and `gzip` are one coding.
fn canonical(coding: &str) -> &str {
    if coding == "x-gzip" {
        "gzip"
    } else {
        coding
    }
}

/// An upstream answer for a transcoder: decoded if it is gzip or deflate, at most `limit`
/// bytes of it; 502 `upstream_unsupported_encoding` for codings that cannot be decoded.
pub(crate) fn decoded_for_transcoding(
    response: Response<Body>,
    limit: usize,
) -> Result<Response<Body>, GatewayError> {
    match BodyCoding::of(response.headers()) {
        BodyCoding::Identity => Ok(response),
        BodyCoding::Decodable(coding) => Ok(decode_response(response, coding, limit)),
        BodyCoding::Undecodable(codings) => Err(BodyCoding::refusal(&codings)),
    }
}

/// An upstream answer passed on untransformed: as it came if the client takes its codings,
/// else decoded (at most `limit` bytes); 502 when it can be neither. `has_body` is false for
/// answers to HEAD, whose headers alone are fitted.
///
/// A decoded answer waits for its first [`PREFIX_LIMIT`] decoded bytes (held in `budget`), so
/// that a stream corrupt from the start, or any small one, gets a clean 502; a fault found
/// later can only cut the body off.
pub(crate) async fn fit_for_client(
    response: Response<Body>,
    client: &ClientCodings,
    has_body: bool,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Response<Body>, GatewayError> {
    let coding = BodyCoding::of(response.headers());
    if coding == BodyCoding::Identity {
        return Ok(response);
    }
    let mut response = response;
    // Encoded or not depends on the client's Accept-Encoding: caches must key on it.
    response.headers_mut().append(
        http::header::VARY,
        HeaderValue::from_static("accept-encoding"),
    );
    let listed = codings(response.headers());
    if listed.iter().all(|coding| client.accepts(coding)) {
        return Ok(response);
    }
    match coding {
        BodyCoding::Decodable(coding) if has_body => {
            let (parts, body) = decode_response(response, coding, limit).into_parts();
            let prefix = read_response_prefix(body, PREFIX_LIMIT, budget).await?;
            Ok(Response::from_parts(parts, prefix.into_body()))
        }
        BodyCoding::Decodable(_) => {
            let headers = response.headers_mut();
            headers.remove(CONTENT_ENCODING);
            headers.remove(CONTENT_LENGTH);
            Ok(response)
        }
        _ => Err(BodyCoding::refusal(&listed)),
    }
}

/// The answer with its body decoded: no `Content-Encoding`, and a length not known before.
fn decode_response(response: Response<Body>, coding: Coding, limit: usize) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(CONTENT_ENCODING);
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, decode(body, coding, limit))
}

/// `body` decoded as it streams, failing with [`UndecodableBody`] when it is corrupt and
/// [`DecodedTooLarge`] past `limit` decoded bytes; a failure of `body` itself is passed on
/// as it came.
pub(crate) fn decode(body: Body, coding: Coding, limit: usize) -> Body {
    Body::new(Decoded {
        state: State::Sniffing(Some(BodyReader::new(body))),
        coding,
        limit,
        decoded: 0,
        buffer: BytesMut::new(),
        done: false,
    })
}

/// A failure of the encoded body itself (a stall, a reset), carried through the decoder's
/// `io::Error` to be handed on unchanged.
#[derive(Debug)]
struct SourceFailed(BoxError);

impl fmt::Display for SourceFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for SourceFailed {}

enum State {
    /// Waiting for the first two bytes, which tell zlib from raw deflate.
    Sniffing(Option<BodyReader>),
    Gzip(GzipDecoder<BodyReader>),
    Zlib(ZlibDecoder<BodyReader>),
    Raw(DeflateDecoder<BodyReader>),
}

impl State {
    fn reader(&mut self) -> Option<&mut BodyReader> {
        match self {
            State::Sniffing(reader) => reader.as_mut(),
            State::Gzip(d) => Some(d.get_mut()),
            State::Zlib(d) => Some(d.get_mut()),
            State::Raw(d) => Some(d.get_mut()),
        }
    }
}

struct Decoded {
    state: State,
    coding: Coding,
    limit: usize,
    decoded: usize,
    /// Where the decoder writes; what it wrote is split off as the next chunk.
    buffer: BytesMut,
    done: bool,
}

impl Decoded {
    fn corrupt(&self, reason: impl Into<String>) -> BoxError {
        Box::new(UndecodableBody {
            coding: self.coding.name(),
            reason: reason.into(),
        })
    }

    /// Picks the decoder once enough of the body has come; `false` if it ended first.
    fn poll_start(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let State::Sniffing(reader) = &mut self.state else {
            return Poll::Ready(Ok(true));
        };
        let Some(source) = reader.as_mut() else {
            return Poll::Ready(Ok(false));
        };
        let head = ready!(source.poll_head(cx, 2))?;
        if head.is_empty() {
            return Poll::Ready(Ok(false)); // an empty body: nothing to decode
        }
        let source = reader.take().expect("checked above");
        self.state = match self.coding {
            Coding::Gzip => {
                let mut decoder = GzipDecoder::new(source);
                // RFC 1952: a gzip body may be several members one after another.
                decoder.multiple_members(true);
                State::Gzip(decoder)
            }
            Coding::Deflate if is_zlib_header(&head) => State::Zlib(ZlibDecoder::new(source)),
            Coding::Deflate => State::Raw(DeflateDecoder::new(source)),
        };
        Poll::Ready(Ok(true))
    }

    fn poll_decoded(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.state {
            State::Sniffing(_) => Poll::Ready(Ok(())),
            State::Gzip(d) => Pin::new(d).poll_read(cx, out),
            State::Zlib(d) => Pin::new(d).poll_read(cx, out),
            State::Raw(d) => Pin::new(d).poll_read(cx, out),
        }
    }

    /// The error for a failure the decoder reported: the body's own, or corruption.
    fn failure(&self, error: io::Error) -> BoxError {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<SourceFailed>())
        {
            let inner = error.into_inner().expect("checked above");
            return match inner.downcast::<SourceFailed>() {
                Ok(failed) => failed.0,
                Err(other) => other,
            };
        }
        if error.kind() == io::ErrorKind::UnexpectedEof {
            return self.corrupt("the body ended inside the compressed stream");
        }
        self.corrupt(error.to_string())
    }
}

/// Whether two bytes begin a zlib stream (RFC 1950): method 8 with a window of at most
/// 32 KiB, and a header check that is a multiple of 31. Raw deflate rarely passes both.
fn is_zlib_header(head: &[u8]) -> bool {
    let [cmf, flg, ..] = *head else {
        return false;
    };
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

impl http_body::Body for Decoded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(this.poll_start(cx)) {
            Ok(true) => {}
            Ok(false) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Err(error) => {
                this.done = true;
                return Poll::Ready(Some(Err(this.failure(error))));
            }
        }
        // Kept across a pending poll, and handed on in place once filled.
        let mut chunk = std::mem::take(&mut this.buffer);
        chunk.resize(DECODED_CHUNK, 0);
        let mut out = ReadBuf::new(&mut chunk);
        let polled = this.poll_decoded(cx, &mut out);
        let filled = out.filled().len();
        this.buffer = chunk;
        if let Err(error) = ready!(polled) {
            this.done = true;
            return Poll::Ready(Some(Err(this.failure(error))));
        }
        if filled == 0 {
            // The stream ended: anything after it is not part of the body's coding.
            let trailing = match this.state.reader() {
                Some(reader) => ready!(reader.poll_head(cx, 1)),
                None => Ok(Bytes::new()),
            };
            this.done = true;
            return match trailing {
                Ok(rest) if rest.is_empty() => Poll::Ready(None),
                Ok(_) => Poll::Ready(Some(Err(
                    this.corrupt("bytes follow the end of the compressed stream")
                ))),
                Err(error) => Poll::Ready(Some(Err(this.failure(error)))),
            };
        }
        this.decoded += filled;
        if this.decoded > this.limit {
            this.done = true;
            return Poll::Ready(Some(Err(Box::new(DecodedTooLarge { limit: this.limit }))));
        }
        let chunk = this.buffer.split_to(filled).freeze();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

/// The encoded body as the decoder's buffered input.
struct BodyReader {
    body: Body,
    current: Bytes,
}

impl BodyReader {
    fn new(body: Body) -> Self {
        BodyReader {
            body,
            current: Bytes::new(),
        }
    }

    /// Reads until at least `wanted` bytes are buffered or the body ends; returns (a cheap
    /// copy of) what is buffered.
    fn poll_head(&mut self, cx: &mut Context<'_>, wanted: usize) -> Poll<io::Result<Bytes>> {
        while self.current.len() < wanted {
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.current = if self.current.is_empty() {
                            data
                        } else {
                            // Only a body cut into pieces smaller than `wanted` gets here.
                            let mut joined = BytesMut::from(&self.current[..]);
                            joined.extend_from_slice(&data);
                            joined.freeze()
                        };
                    }
                }
                Some(Err(error)) => {
                    return Poll::Ready(Err(io::Error::other(SourceFailed(error.into_inner()))))
                }
                None => break,
            }
        }
        Poll::Ready(Ok(self.current.clone()))
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for BodyReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_head(cx, 1))?;
        Poll::Ready(Ok(&this.current))
    }

    fn consume(self: Pin<&mut Self>, amount: usize) {
        self.get_mut().current.advance(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_content_encoding_is_one_decodable_coding_or_refused_whole() {
        let of = |values: &[&'static str]| BodyCoding::of(&headers("content-encoding", values));
        assert_eq!(of(&[]), BodyCoding::Identity);
        assert_eq!(of(&["identity"]), BodyCoding::Identity);
        assert_eq!(of(&[" GZIP "]), BodyCoding::Decodable(Coding::Gzip));
        assert_eq!(of(&["x-gzip"]), BodyCoding::Decodable(Coding::Gzip));
        assert_eq!(
            of(&["identity, deflate"]),
            BodyCoding::Decodable(Coding::Deflate)
        );
        let refused = |codings: &[&str]| {
            BodyCoding::Undecodable(codings.iter().map(|c| c.to_string()).collect())
        };
        assert_eq!(of(&["br"]), refused(&["br"]));
        assert_eq!(of(&["gzip, gzip"]), refused(&["gzip", "gzip"]));
        assert_eq!(of(&["deflate", "gzip"]), refused(&["deflate", "gzip"]));
    }

    #[test]
    fn a_client_takes_what_it_names_or_a_star_covers() {
        let takes = |values: &[&'static str], coding| {
            ClientCodings::of(&headers("accept-encoding", values)).accepts(coding)
        };
        assert!(!takes(&[], "gzip"), "no Accept-Encoding: identity");
        assert!(!takes(&[""], "gzip"));
        assert!(takes(&["gzip, deflate, br"], "deflate"));
        assert!(takes(&["GZip;Q=0.5"], "gzip"));
        assert!(takes(&["x-gzip"], "gzip"));
        assert!(takes(&["gzip"], "x-gzip"));
        assert!(!takes(&["gzip;q=0"], "gzip"));
        assert!(!takes(&["gzip;q=0, *"], "gzip"), "refused by name");
        assert!(takes(&["gzip;q=0, *"], "deflate"));
        assert!(!takes(&["*;q=0"], "br"));
        assert!(takes(&["identity", "br"], "br"), "two headers");
    }

    #[test]
    fn zlib_headers_are_told_from_raw_deflate() {
        // What zlib writes at each compression level.
        for header in [[0x78, 0x01], [0x78, 0x5e], [0x78, 0x9c], [0x78, 0xda]] {
            assert!(is_zlib_header(&header), "{header:02x?}");
        }
        // Raw deflate: a final fixed-Huffman block, a stored block; and a bad check.
        for header in [[0x4b, 0x4c], [0x01, 0x05], [0x78, 0x9d]] {
            assert!(!is_zlib_header(&header), "{header:02x?}");
        }
        assert!(!is_zlib_header(&[0x78]));
    }
}
