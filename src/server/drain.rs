//! Graceful shutdown: the signals that start it, and the drain that lets in-flight requests
//! finish, up to `--drain-timeout`.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

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

/// Asks every open connection to finish its in-flight requests and close (each holds a
/// receiver of `stop`), and waits until all have, or until `drain_timeout` is up.
pub(super) async fn drain(stop: watch::Sender<bool>, drain_timeout: Duration) {
    tracing::info!("shutting down: finishing in-flight requests");
    stop.send_replace(true);
    tokio::select! {
        () = stop.closed() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(?drain_timeout, "drain timeout elapsed; closing remaining connections");
        }
    }
}
