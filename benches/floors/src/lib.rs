//! What `bare-proxy` and `naive-transcoder` share: their two flags, the accept loop, and
//! forwarding one request ([`Upstream`]).
//!
//! The two binaries are the floors `benches/load.sh` measures the gateway against in the same
//! run: what a plain hyper proxy underneath it costs, and what a first, buffering transcoder
//! costs. They are written the plain way on purpose (no limits, no logs, no metrics), so they
//! are small enough to read at a glance and nothing in them is there to be slow.

mod forward;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use forward::Upstream;

/// Any failure: the binaries answer it with a 502 or exit with it.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// An answer: the upstream's body streamed through, or one made here.
pub type Body = Either<Incoming, Full<Bytes>>;

const USAGE: &str = "usage: --listen ADDR --upstream http://HOST:PORT";

/// Serves HTTP/1.1 on `--listen`, answering each request with `handle`, given the
/// `--upstream`; a request `handle` fails is answered 502.
pub async fn serve<H, F>(handle: H) -> Result<(), Error>
where
    H: Fn(Upstream, Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<Body>, Error>> + Send + 'static,
{
    let (listen, upstream) = flags(std::env::args().skip(1))?;
    let upstream = Upstream::new(&upstream)?;
    let listener = TcpListener::bind(listen).await?;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue; // out of descriptors, say: the next accept may do
        };
        stream.set_nodelay(true)?;
        let (upstream, handle) = (upstream.clone(), handle.clone());
        let service = service_fn(move |request| {
            let answer = handle(upstream.clone(), request);
            async move { Ok::<_, Infallible>(answer.await.unwrap_or_else(bad_gateway)) }
        });
        tokio::spawn(async move {
            // A client that leaves mid-answer is no concern of a floor's.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `--listen ADDR --upstream URL`, both required.
fn flags(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, String), Error> {
    let (mut listen, mut upstream) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse()?),
            "--upstream" => upstream = Some(value),
            _ => return Err(format!("unknown flag {flag}; {USAGE}").into()),
        }
    }
    Ok((listen.ok_or(USAGE)?, upstream.ok_or(USAGE)?))
}

fn bad_gateway(error: Error) -> Response<Body> {
    let mut response = Response::new(Either::Right(Full::from(error.to_string())));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> impl Iterator<Item = String> {
        args.iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn both_flags_are_required_and_nothing_else_is_taken() {
        let (listen, upstream) = flags(strings(&[
            "--listen",
            "127.0.0.1:1",
            "--upstream",
            "http://u:2",
        ]))
        .unwrap();
        assert_eq!((listen.port(), upstream.as_str()), (1, "http://u:2"));
        assert!(flags(strings(&["--listen", "127.0.0.1:1"])).is_err());
        assert!(flags(strings(&["--listen"])).is_err());
        assert!(flags(strings(&["--upstream", "u", "--verbose", "1"])).is_err());
    }
}
