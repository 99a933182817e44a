//! Compressed answers to clients: the gateway's JSON and XML lists are large and repetitive,
//! so gzip, br or zstd (whichever the client's `Accept-Encoding` prefers by q-value) cut the
//! bytes on the wire several-fold.
//!
//! This is tower-http's `CompressionLayer`, not code of our own. It streams: the encoder reads
//! the transcoder's body frame by frame, and async-compression flushes its encoder whenever the
//! body it reads is pending, so the first items of a long list reach the client while the
//! upstream is still sending the rest; memory is the encoder's state, bounded whatever the
//! list's length.
//!
//! What is left alone: bodies under [`MIN_SIZE`] (compression costs more than it saves),
//! `HEAD` (no body to encode), 204 and 304, audio (greetings and recordings are already
//! compressed codecs), images, gRPC and event streams (tower-http's defaults), and any answer
//! that already has a `Content-Encoding` (an upstream's gzip passed through to an XML client,
//! see `content_coding`).
//!
//! The level is tower-http's default for each coding: gzip 6, zstd 3, brotli 4. Measured on the
//! 1 MB JSON list of 1,005 ports (one core, the C libraries): gzip 1/6/9 give 76/53/52 kB in
//! 3/7/15 ms; brotli 1/4/6/11 give 59/52/45/36 kB in 1.2/4.4/8/1,944 ms, so the brotli crate's own
//! default of 11 would spend two seconds of CPU per list; zstd 3 gives 56 kB. Through the gateway
//! (`benches/compression.sh`) each costs 1 to 9 ms of CPU per list on top of the 12.5 ms the
//! transcoding takes, for a wire size an 18th to a 19th of the JSON's.

use axum::body::Body;
use http::header::{HeaderValue, VARY};
use http::{Extensions, HeaderMap, Method, Request, Response, StatusCode, Version};
use std::task::{Context, Poll};

use tower::util::{Either, MapResponse, Oneshot};
use tower::{Layer, Service, ServiceExt};
use tower_http::compression::predicate::{And, NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{Compression, CompressionBody, CompressionLayer, CompressionLevel};

use crate::body::is_bodiless_status;
use crate::content_coding::ClientCodings;

/// The codings the gateway can send, in tower-http's order of preference among equal q-values.
const CODINGS: [&str; 3] = ["zstd", "br", "gzip"];

/// Bodies known to be smaller than this are sent as they are (an error, a single port).
/// Streamed bodies of unknown length are always compressed.
pub(crate) const MIN_SIZE: u64 = 1024;

/// Compresses the answers of the service it wraps, per the client's `Accept-Encoding`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ClientCompressionLayer;

/// The wrapped service with its answers compressed where the client takes it: two branches
/// around one inner service, chosen per request.
#[derive(Clone)]
pub(crate) struct ClientCompression<S> {
    compressed: Compressed<S>,
    plain: Plain<S>,
}

type Compressed<S> =
    MapResponse<Compression<S, WorthCompressing>, fn(CompressedResponse) -> Response<Body>>;
type Plain<S> = MapResponse<S, fn(Response<Body>) -> Response<Body>>;
type CompressedResponse = Response<CompressionBody<Body>>;

/// tower-http's checks of size, type and status, by name, so the service has a type.
type WorthCompressing = And<
    And<
        And<And<And<SizeAbove, NotForContentType>, NotForContentType>, NotForContentType>,
        NotForContentType,
    >,
    fn(StatusCode, Version, &HeaderMap, &Extensions) -> bool,
>;

impl<S> Layer<S> for ClientCompressionLayer
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone,
{
    type Service = ClientCompression<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let compressed = CompressionLayer::new()
            .no_deflate()
            .quality(CompressionLevel::Default)
            .compress_when(worth_compressing())
            .layer(inner.clone());
        ClientCompression {
            compressed: MapResponse::new(compressed, |response| response.map(Body::new)),
            plain: MapResponse::new(inner, vary_on_accept_encoding),
        }
    }
}

impl<S> Service<Request<Body>> for ClientCompression<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone,
    Compression<S, WorthCompressing>:
        Service<Request<Body>, Response = CompressedResponse, Error = S::Error>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Oneshot<Either<Compressed<S>, Plain<S>>, Request<Body>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        // The branch a request takes is made ready in `call` (via `oneshot`).
        Poll::Ready(Ok(()))
    }

    /// `HEAD` goes around the compressor, since the predicate sees only the response and a
    /// `HEAD` answer has no body to encode; so do requests that take none of the codings the
    /// gateway sends (most that are not from a browser name none), which would be answered
    /// in identity anyway, and refusals of every coding.
    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let uncompressed = request.method() == Method::HEAD || takes_no_coding_we_send(&request);
        let branch = match uncompressed {
            true => Either::Right(self.plain.clone()),
            false => Either::Left(self.compressed.clone()),
        };
        branch.oneshot(request)
    }
}

/// Which answers are worth compressing, judged from the response alone.
fn worth_compressing() -> WorthCompressing {
    SizeAbove::new(MIN_SIZE)
        .and(NotForContentType::const_new("audio/"))
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::SSE)
        .and(has_body as fn(_, _, &_, &_) -> _)
}

fn has_body(status: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    !is_bodiless_status(status)
}

/// Whether the client takes none of the codings the gateway sends. It is sent identity; even
/// when it refuses identity too, as RFC 9110 §12.5.3 advises: tower-http would answer 406
/// with the refused answer's body, a status the OpenAPI document names for no operation.
fn takes_no_coding_we_send(request: &Request<Body>) -> bool {
    let client = ClientCodings::of(request.headers());
    !CODINGS.iter().any(|coding| client.accepts(coding))
}

/// Marks an answer as chosen by `Accept-Encoding`, for the caches between gateway and client.
fn vary_on_accept_encoding(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    let listed = headers.get_all(VARY).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|value| value.to_ascii_lowercase().contains("accept-encoding"))
    });
    if !listed {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}
