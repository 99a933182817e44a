//! Accepting connections and serving the app on them, with graceful shutdown.
//!
//! Each connection is served by hyper-util's auto builder (HTTP/1.1, and HTTP/2 when the client
//! speaks it). The client's address is attached to every request as [`ConnectionInfo`], which
//! the proxy needs for `X-Forwarded-For`. When the shutdown future resolves, the listener
//! closes, open connections are asked to finish their in-flight requests, and serving ends when
//! they have, or when the drain timeout is up.
//!
//! Connections are bounded by [`ConnectionSettings`]: at most `max_connections` are open (the
//! rest wait in the kernel's backlog, and accepting resumes when one closes), and a connection
//! that asks for nothing for too long is closed ([`idle`]), so idle clients cannot use up the
//! file descriptors the next client needs.

mod descriptors;
mod idle;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use http::header::{HeaderValue, CONNECTION};
use http::{Request, Response};
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::{Service, ServiceExt};

use crate::body::BodyFraming;
use crate::connection::ConnectionInfo;

pub use tokio_rustls::TlsAcceptor;

/// At most this many request headers (hyper answers 431 beyond it).
const MAX_HEADERS: usize = 100;

/// At most this many bytes of request head: CUPI requests carry a few small headers (Basic
/// auth, two session cookies), so 64 KiB is generous (hyper answers 431 beyond it).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an HTTP/2 connection with no frame from its peer is pinged, and how long the
/// answer may take: a peer that vanished without closing is noticed even mid-stream.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Bounds on the connections [`serve`] keeps open (`--header-read-timeout`, `--idle-timeout`,
/// `--max-connections`, `--drain-timeout`).
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// A connection must complete a request head within this time of its accept (after the
    /// TLS handshake) and, on HTTP/1.1, of its previous response; else it is closed.
    pub header_read_timeout: Duration,
    /// An HTTP/2 connection whose streams have all ended is closed after this long without a
    /// new one.
    pub idle_timeout: Duration,
    /// Most connections open at once; at the cap the gateway stops accepting until one closes.
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests get to finish.
    pub drain_timeout: Duration,
    /// Counts the open connections (`Metrics::open_connections` where `/metrics` shows it).
    pub open_connections: prometheus_client::metrics::gauge::Gauge,
}

impl Default for ConnectionSettings {
    /// The flags' defaults.
    fn default() -> Self {
        ConnectionSettings {
            header_read_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            drain_timeout: Duration::from_secs(10),
            open_connections: Default::default(),
        }
    }
}

/// A client's byte stream, plain or TLS, so one code path serves both.
trait ClientStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> ClientStream for T {}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for up to
/// `settings.drain_timeout`. With `tls`, every connection is TLS first (HTTP/2 or HTTP/1.1 by
/// ALPN); without, plain HTTP (the sidecar case, where the pod's network is the boundary).
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    shutdown: impl Future<Output = ()>,
    settings: ConnectionSettings,
    tls: Option<TlsAcceptor>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    descriptors::warn_if_too_few(settings.max_connections);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_PING_INTERVAL)
        .keep_alive_timeout(HTTP2_PING_TIMEOUT)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    // Every connection holds a receiver; serving is drained when the last one is dropped.
    let (stop, _) = watch::channel(false);
    let mut last_cap_warning = None;
    tokio::pin!(shutdown);
    loop {
        let Some(slot) = connection_slot(&slots, &mut shutdown, &mut last_cap_warning).await else {
            break;
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let info = ConnectionInfo {
            remote: Some(remote),
            scheme: if tls.is_some() { "https" } else { "http" },
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let is_http1 = request.version() <= http::Version::HTTP_11;
            // A client that waits for `100 Continue` sends no body to read.
            let expects_continue = request.headers().contains_key(http::header::EXPECT);
            let tracker = Arc::new(Tracker::default());
            let framing = BodyFraming::at_arrival(request.body());
            let mut request = request.map(|body| {
                let tracked = FinishTracked {
                    inner: Some(body),
                    tracker: tracker.clone(),
                };
                // Its pace (idle gap, minimum rate) is the app's: `body_rate`.
                Body::new(tracked)
            });
            request.extensions_mut().insert(info);
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
        });
        let builder = builder.clone();
        let settings = settings.clone();
        let stop = stop.subscribe();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _open = OpenConnection::count(&settings.open_connections);
            let Some(stream) = client_stream(stream, tls.as_ref()).await else {
                tracing::debug!(%remote, "TLS handshake failed or timed out");
                return;
            };
            let activity = idle::Activity::new();
            let service = idle::Counted::new(service, activity.clone());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let result = idle::drive(
                connection,
                auto::UpgradeableConnection::graceful_shutdown,
                &activity,
                &settings,
                stop,
            )
            .await;
            if let Err(error) = result {
                tracing::debug!(%remote, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    stop.send_replace(true);
    let drain_timeout = settings.drain_timeout;
    tokio::select! {
        () = stop.closed() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(?drain_timeout, "drain timeout elapsed; closing remaining connections");
        }
    }
}

/// How often reaching the connection cap is logged at most: under a flood the cap is left and
/// reached again with every connection that closes.
const CAP_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Waits for room under the connection cap; `None` if `shutdown` resolves first. While the
/// cap is reached nothing is accepted: new clients wait in the kernel's backlog and the open
/// connections keep being served. Reaching the cap is a warning, at most once per
/// [`CAP_WARNING_INTERVAL`] (`last_warning`); leaving it, a debug line.
async fn connection_slot(
    slots: &Arc<Semaphore>,
    shutdown: &mut Pin<&mut impl Future<Output = ()>>,
    last_warning: &mut Option<tokio::time::Instant>,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return Some(slot);
    }
    if last_warning.is_none_or(|at| at.elapsed() >= CAP_WARNING_INTERVAL) {
        *last_warning = Some(tokio::time::Instant::now());
        tracing::warn!(
            "connection cap (--max-connections) reached: not accepting until one closes \
             (logged at most once a minute)"
        );
    }
    let slot = tokio::select! {
        slot = slots.clone().acquire_owned() => slot.ok()?,
        () = shutdown.as_mut() => return None,
    };
    tracing::debug!("below the connection cap again: accepting");
    Some(slot)
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

/// The client's stream, through the TLS handshake when there is an acceptor; `None` when the
/// handshake failed or timed out.
async fn client_stream(
    stream: TcpStream,
    tls: Option<&TlsAcceptor>,
) -> Option<Box<dyn ClientStream>> {
    let Some(acceptor) = tls else {
        return Some(Box::new(stream));
    };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(Box::new(stream)),
        _ => None,
    }
}

/// Why the inbound TLS certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(std::path::PathBuf),
    #[error("the private key in {key} is not the key of the certificate in {cert}")]
    KeyMismatch {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS acceptor for `cert` (PEM chain, leaf first) and `key` (PEM private key), offering
/// HTTP/2 and HTTP/1.1 by ALPN, with the ring provider only. It serves the pair as loaded now;
/// [`reloading_tls_acceptor`] is the one whose pair can be replaced.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, ServerTlsError> {
    reloading_tls_acceptor(cert, key).map(|(acceptor, _, _)| acceptor)
}

/// Like [`tls_acceptor`], with the certificate every new handshake takes and the files it
/// came from, for a [`crate::tls_reload::Reloader`] to replace it from.
pub fn reloading_tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<
    (
        TlsAcceptor,
        Arc<crate::tls_reload::ServingCertificate>,
        crate::tls_reload::WatchedFiles,
    ),
    ServerTlsError,
> {
    let (serving, files) = crate::tls_reload::ServingCertificate::load(cert, key)?;
    let serving = Arc::new(serving);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(serving.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), serving, files))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what `docker stop` and Kubernetes send).
///
/// The handlers are installed by this call, not when the future is first polled: the future
/// is polled beside the accept loop, which may hand a waiting connection to another worker
/// thread first, and a SIGTERM that came in between would meet the default action and kill
/// the process instead of stopping it cleanly. Call it before binding.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let (mut interrupt, mut terminate) = match (interrupt, terminate) {
                (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "cannot listen for SIGINT and SIGTERM");
                    return std::future::pending().await;
                }
            };
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("received SIGINT"),
                _ = terminate.recv() => tracing::info!("received SIGTERM"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// The most of an unread request body read and dropped to keep its connection open.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// The longest wait for such a body.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What became of a request's body.
#[derive(Default)]
struct Tracker {
    finished: AtomicBool,
    /// A body dropped before its end (its request was refused before it was read).
    unread: std::sync::Mutex<Option<Incoming>>,
}

impl Tracker {
    /// Whether the connection can carry another HTTP/1 request. A request answered before its
    /// body was read (a refusal) leaves the rest of the body on the connection, and hyper then
    /// closes it rather than guess where the next request starts. A small rest is read and
    /// dropped here instead, so the client's keep-alive connection survives and no reset can
    /// destroy the answer before the client reads it; for a larger one, the answer says
    /// `Connection: close`.
    async fn finish_unread_body(&self) -> bool {
        if self.finished.load(Ordering::Acquire) {
            return true;
        }
        let unread = self.unread.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut body) = unread else {
            return false; // still being read (a streamed upload the upstream answered early)
        };
        if http_body::Body::size_hint(&body)
            .upper()
            .is_none_or(|left| left > DRAIN_LIMIT)
        {
            return false;
        }
        let drain = async {
            while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
                if frame.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(DRAIN_TIMEOUT, drain)
            .await
            .unwrap_or(false)
    }
}

/// A request body that records when it has been read to its end, and hands itself to its
/// [`Tracker`] if it is dropped before.
struct FinishTracked {
    inner: Option<Incoming>,
    tracker: Arc<Tracker>,
}

impl http_body::Body for FinishTracked {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(&mut *inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || http_body::Body::is_end_stream(&*inner) {
            self.tracker.finished.store(true, Ordering::Release);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_default()
    }
}

impl Drop for FinishTracked {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if http_body::Body::is_end_stream(&inner) {
            self.tracker.finished.store(true, Ordering::Release);
        } else {
            *self
                .tracker
                .unread
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(inner);
        }
    }
}
