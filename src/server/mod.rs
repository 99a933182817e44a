//! Accepting connections and serving the app on them, with graceful shutdown.
//!
//! [`serve`] is the loop: [`accept`] waits for room under `--max-connections` and the next
//! client (the rest wait in the kernel's backlog); [`connection`] serves each one, through the
//! TLS handshake of [`tls`] when there is an acceptor, on the one path plain and TLS streams
//! share: hyper-util's auto builder (HTTP/1.1, and HTTP/2 when the client speaks it), the
//! client's address attached to every request as a `ConnectionInfo` (`crate::connection`) for
//! `X-Forwarded-For`. A connection that asks for nothing for too long is closed ([`idle`]), so
//! idle clients cannot use up the file descriptors the next client needs ([`descriptors`]
//! warns at start-up when there are too few); [`unread_body`] keeps keep-alive connections
//! whose request body went unread. When the shutdown future resolves, the listener closes and
//! [`drain`] gives in-flight requests up to `--drain-timeout` to finish.

mod accept;
mod connection;
mod descriptors;
mod drain;
mod idle;
mod tls;
mod unread_body;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

pub use drain::shutdown_signal;
pub(crate) use tls::reloading_tls_acceptor;
pub use tls::{tls_acceptor, ServerTlsError, TlsAcceptor};

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

/// What [`serve`] serves: a cloneable service that answers every request, its errors already
/// responses (`crate::app::App` is one).
pub trait AppService:
    Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static
{
}

impl<S> AppService for S where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for up to
/// `settings.drain_timeout`. With `tls`, every connection is TLS first (HTTP/2 or HTTP/1.1 by
/// ALPN); without, plain HTTP (the sidecar case, where the pod's network is the boundary).
pub async fn serve(
    listener: TcpListener,
    app: impl AppService,
    shutdown: impl Future<Output = ()>,
    settings: ConnectionSettings,
    tls: Option<TlsAcceptor>,
) {
    descriptors::warn_if_too_few(settings.max_connections);
    let builder = Arc::new(connection::http_builder(&settings));
    let mut acceptor = accept::Acceptor::new(listener, settings.max_connections);
    let settings = Arc::new(settings);
    // Every connection holds a receiver; serving is drained when the last one is dropped.
    let (stop, _) = watch::channel(false);
    tokio::pin!(shutdown);
    while let Some(accepted) = acceptor.next(&mut shutdown).await {
        let connection = connection::Connection {
            remote: accepted.remote,
            builder: builder.clone(),
            settings: settings.clone(),
            stop: stop.subscribe(),
        };
        let (app, tls) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            // Its room under the connection cap, until the connection closes.
            let _slot = accepted.slot;
            connection.run(accepted.stream, tls.as_ref(), app).await;
        });
    }
    drop(acceptor);
    drain::drain(stop, settings.drain_timeout).await;
}
