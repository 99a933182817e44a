//! The accept loop's one step: room under the connection cap (`--max-connections`), then
//! the next client. At the cap nothing is accepted, so new clients wait in the kernel's
//! backlog while the open connections keep being served.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How often reaching the connection cap is logged at most: under a flood the cap is left and
/// reached again with every connection that closes.
const CAP_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// How long to wait after a failed accept (out of file descriptors and the like) rather than
/// spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The listener, and the slots of the connections it may have open at once.
#[derive(Debug)]
pub(super) struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    /// When reaching the cap was last logged.
    last_cap_warning: Option<tokio::time::Instant>,
}

/// A client just accepted, and its slot under the cap, held for as long as its connection is.
pub(super) struct Accepted {
    pub(super) stream: TcpStream,
    pub(super) remote: SocketAddr,
    pub(super) slot: OwnedSemaphorePermit,
}

impl Acceptor {
    pub(super) fn new(listener: TcpListener, max_connections: usize) -> Self {
        Acceptor {
            listener,
            slots: Arc::new(Semaphore::new(max_connections)),
            last_cap_warning: None,
        }
    }

    /// The next client, once there is room for it; `None` once `shutdown` resolves.
    pub(super) async fn next(
        &mut self,
        shutdown: &mut Pin<&mut impl Future<Output = ()>>,
    ) -> Option<Accepted> {
        loop {
            let slot = self.connection_slot(shutdown).await?;
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = shutdown.as_mut() => return None,
            };
            match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    return Some(Accepted {
                        stream,
                        remote,
                        slot,
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// Waits for room under the connection cap; `None` if `shutdown` resolves first. While the
    /// cap is reached nothing is accepted: new clients wait in the kernel's backlog and the open
    /// connections keep being served. Reaching the cap is a warning, at most once per
    /// [`CAP_WARNING_INTERVAL`]; leaving it, a debug line.
    async fn connection_slot(
        &mut self,
        shutdown: &mut Pin<&mut impl Future<Output = ()>>,
    ) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Some(slot);
        }
        if self
            .last_cap_warning
            .is_none_or(|at| at.elapsed() >= CAP_WARNING_INTERVAL)
        {
            self.last_cap_warning = Some(tokio::time::Instant::now());
            tracing::warn!(
                "connection cap (--max-connections) reached: not accepting until one closes \
                 (logged at most once a minute)"
            );
        }
        let slot = tokio::select! {
            slot = self.slots.clone().acquire_owned() => slot.ok()?,
            () = shutdown.as_mut() => return None,
        };
        tracing::debug!("below the connection cap again: accepting");
        Some(slot)
    }
}
