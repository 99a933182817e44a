//! One client connection, from accept to close: the TLS handshake when there is an acceptor,
//! then the one path every stream, plain or TLS, is served on: hyper-util's auto builder
//! (HTTP/1.1, and HTTP/2 when the client speaks it), requests counted for the idle timeout
//! ([`super::idle`]), and each request handed to the app with its [`ConnectionInfo`] and
//! [`BodyFraming`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::{HeaderValue, CONNECTION};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt;

use super::tls::{self, TlsAcceptor};
use super::unread_body::Tracker;
use super::{idle, AppService, ConnectionSettings};
use crate::body::BodyFraming;
use crate::connection::ConnectionInfo;

/// At most this many bytes of request head: CUPI requests carry a few small headers (Basic
/// auth, two session cookies), so 64 KiB is generous (hyper answers 431 beyond it).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How often an HTTP/2 connection with no frame from its peer is pinged, and how long the
/// answer may take: a peer that vanished without closing is noticed even mid-stream.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// How every connection is served: HTTP/1.1 and HTTP/2 with the gateway's bounds on request
/// heads, the header-read timeout, and HTTP/2 pings.
pub(super) fn http_builder(settings: &ConnectionSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        // At most 100 request headers, hyper's own bound (431 beyond it), left unset: set, even
        // to 100, hyper fills a vector of that many slots for every request head it parses.
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_PING_INTERVAL)
        .keep_alive_timeout(HTTP2_PING_TIMEOUT)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    builder
}

/// One accepted connection and what serving it takes.
pub(super) struct Connection {
    pub(super) remote: SocketAddr,
    /// Shared, not cloned: the builder is a kilobyte and more of settings.
    pub(super) builder: Arc<auto::Builder<TokioExecutor>>,
    pub(super) settings: Arc<ConnectionSettings>,
    /// Becomes `true` when the gateway shuts down.
    pub(super) stop: watch::Receiver<bool>,
}

impl Connection {
    /// Serves `app` on `stream` until the connection closes: through the TLS handshake first
    /// when there is an acceptor, then on the path plain streams take.
    pub(super) async fn run(
        self,
        stream: TcpStream,
        tls: Option<&TlsAcceptor>,
        app: impl AppService,
    ) {
        let _open = OpenConnection::count(&self.settings.open_connections);
        let info = ConnectionInfo::new(self.remote, if tls.is_some() { "https" } else { "http" });
        // Each stage is boxed where it starts, and bound before it is awaited (a temporary
        // in a `match` would keep its room in this future): the task stays a few hundred
        // bytes, since tokio moves a task's future by value as it spawns and finishes it,
        // while a served connection is kilobytes and a TLS handshake more.
        let Some(acceptor) = tls else {
            let serving = Box::pin(self.serve(stream, info, app));
            return serving.await;
        };
        let handshake = Box::pin(tls::handshake(acceptor, stream));
        let Some(stream) = handshake.await else {
            tracing::debug!(remote = %self.remote, "TLS handshake failed or timed out");
            return;
        };
        let serving = Box::pin(self.serve(stream, info, app));
        serving.await
    }

    /// The one path every client stream is served on, plain or TLS.
    async fn serve<I>(self, stream: I, info: ConnectionInfo, app: impl AppService)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = idle::Activity::new();
        let service = idle::Counted::new(request_service(app, info), activity.clone());
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        let result = idle::drive(
            connection,
            auto::UpgradeableConnection::graceful_shutdown,
            &activity,
            &self.settings,
            self.stop,
        )
        .await;
        if let Err(error) = result {
            tracing::debug!(remote = %self.remote, error = %error, "connection ended with an error");
        }
    }
}

/// The service hyper calls for each request of a connection: the request goes to `app`
/// with what the server knows about it (its connection, whether it arrived with a body), and
/// an HTTP/1.1 answer says `Connection: close` when the connection cannot carry another
/// request (see [`super::unread_body`]).
fn request_service(
    app: impl AppService,
    info: ConnectionInfo,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future: Send + 'static,
> + Send
       + 'static {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let is_http1 = request.version() <= http::Version::HTTP_11;
        // A client that waits for `100 Continue` sends no body to read.
        let expects_continue = request.headers().contains_key(http::header::EXPECT);
        let tracker = Arc::new(Tracker::default());
        let framing = BodyFraming::at_arrival(request.body());
        // Its pace (idle gap, minimum rate) is the app's: `body_rate`.
        let mut request = request.map(|body| Body::new(tracker.track(body)));
        request.extensions_mut().insert(info.clone());
        request.extensions_mut().insert(framing);
        let answer = app.clone().oneshot(request);
        async move {
            let mut response = answer.await?;
            if is_http1 && (expects_continue || !tracker.finish_unread_body().await) {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    })
}

/// One open connection in the `open_connections` gauge, for as long as it lives.
struct OpenConnection(prometheus_client::metrics::gauge::Gauge);

impl OpenConnection {
    fn count(gauge: &prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        OpenConnection(gauge.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every open connection holds its task, and tokio moves the task's future by value as it
    /// spawns and finishes it: the task must stay small whatever the connection's stages
    /// weigh (a served connection is about 4 KiB, a TLS handshake more).
    #[tokio::test]
    async fn a_connection_task_is_small_whatever_its_stages_weigh() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, remote) = listener.accept().await.unwrap();
        let app: crate::app::App =
            tower::util::BoxCloneSyncService::new(tower::service_fn(|_: Request<Body>| async {
                Ok::<_, Infallible>(Response::new(Body::empty()))
            }));
        let settings = Arc::new(ConnectionSettings::default());
        let (_stop, stopped) = watch::channel(false);
        let connection = Connection {
            remote,
            builder: Arc::new(http_builder(&settings)),
            settings,
            stop: stopped,
        };
        let task = connection.run(stream, None, app);
        let size = std::mem::size_of_val(&task);
        // Measured: 280 bytes in release builds, where the unboxed stages made it 9,864.
        assert!(size <= 1024, "a connection's task holds {size} bytes");
    }
}
