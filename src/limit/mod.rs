//! Shielding the upstream: at most N requests at Unity Connection at once, a bounded wait
//! queue for the rest, and a clean 503 with `Retry-After` when the queue is full or the wait
//! runs out.
//!
//! Unity Connection processes only a handful of requests at a time (documented as 5, older
//! releases 3) and answers 503 itself when its own queue times out. Frontends fan out; without
//! a cap, a page load could fill the server's queue for every other client. [`UpstreamLimit`]
//! holds a permit from the moment a request is sent until its response body has been read to
//! the end (or dropped), since the server is busy until then.
//!
//! A slot is for the upstream's time, not the client's: a request body that no layer above
//! has read whole is read here first, up to a bound and held in the gateway's body budget,
//! before the request waits for a slot. A client that dribbles its body (and its body's
//! minimum rate ends it, 408) then holds a buffer, never a slot; only a body larger than the
//! bound streams while holding one.
//!
//! Replicas of the gateway in front of one Unity Connection can share one budget of slots
//! through Redis (`--upstream-limit-redis`, [`shared`]): a request then passes two gates, the
//! local one first (so that a replica never queues more than its own bounded queue, and at
//! most N of its requests wait on Redis), then a lease on a shared slot. When Redis is away,
//! the local gate alone applies, as without the flag.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use cupi_gateway::limit::{LimitSettings, UpstreamLimit};
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let settings = LimitSettings {
//!     max_concurrent: 5,
//!     max_queued: 100,
//!     max_wait: Duration::from_secs(10),
//!     shared: None, // or Some(SharedLimit::connect(…).await): one budget for all replicas
//! };
//! let budget = cupi_gateway::budget::BodyBudget::new(64 << 20, &metrics);
//! let limit = UpstreamLimit::new(settings, metrics, budget, 1 << 20);
//! # let _ = limit;
//! ```

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::Request;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::body::{is_bodiless_request, read_request_prefix};
use crate::budget::BodyBudget;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::middleware::{Inner, Middleware, ResponseFuture};

pub mod shared;

use shared::{Lease, SharedLimit};

/// How many requests may be at the upstream, and how many may wait, for how long; and whether
/// the slots are this replica's own or shared with the others through Redis.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    pub max_concurrent: usize,
    pub max_queued: usize,
    pub max_wait: Duration,
    /// The budget shared with every replica that names the same Redis and upstream (of
    /// `max_concurrent` slots); none: this replica's own cap only.
    pub shared: Option<SharedLimit>,
}

/// Caps the requests in flight to the inner service. Every clone shares one [`LimitState`]:
/// one cap for the whole gateway.
#[derive(Clone, Debug)]
pub struct UpstreamLimit {
    state: Arc<LimitState>,
}

#[derive(Debug)]
struct LimitState {
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
    settings: LimitSettings,
    metrics: Arc<Metrics>,
    /// Holds the request bodies read before a slot is taken.
    budget: BodyBudget,
    /// How much of a request body is read before a slot is taken.
    buffer_limit: usize,
}

impl UpstreamLimit {
    /// Up to `buffer_limit` bytes of a request body are read, held in `budget`, before the
    /// request waits for a slot.
    pub fn new(
        settings: LimitSettings,
        metrics: Arc<Metrics>,
        budget: BodyBudget,
        buffer_limit: usize,
    ) -> Self {
        UpstreamLimit {
            state: Arc::new(LimitState {
                permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
                queued: AtomicUsize::new(0),
                settings,
                metrics,
                budget,
                buffer_limit,
            }),
        }
    }
}

impl Middleware for UpstreamLimit {
    type Error = GatewayError;

    fn call<S: Inner>(&self, request: Request<Body>, mut inner: S) -> ResponseFuture {
        let state = self.state.clone();
        Box::pin(async move {
            let request = read_body_before_slot(request, &state).await?;
            let (permit, lease) = acquire(&state).await.inspect_err(|_| {
                state.metrics.shed.inc();
            })?;
            let in_flight = InFlight::start(state.metrics.clone());
            let response = inner.call(request).await?;
            // The server stays busy until its body has been sent: keep the permit until then.
            Ok(response.map(|body| {
                Body::new(PermitBody {
                    body,
                    _permit: permit,
                    _lease: lease,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// The request with its body read up to the bound: whole, or its first part and the rest to
/// stream. A body already read whole above arrives as one chunk and passes as it is.
async fn read_body_before_slot(
    request: Request<Body>,
    state: &LimitState,
) -> Result<Request<Body>, GatewayError> {
    if is_bodiless_request(&request) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let body = read_request_prefix(body, state.buffer_limit, &state.budget).await?;
    Ok(Request::from_parts(parts, body.into_body()))
}

/// A local permit, then (with a shared budget) a lease on a shared slot, both within one
/// `max_wait`. No lease in local fallback, where the local permit is enough.
async fn acquire(
    state: &LimitState,
) -> Result<(OwnedSemaphorePermit, Option<Lease>), GatewayError> {
    let deadline = Instant::now() + state.settings.max_wait;
    let permit = acquire_local(state).await?;
    let lease = match &state.settings.shared {
        // Boxed where reached (`middleware`: the future's size).
        Some(shared) => Box::pin(shared.acquire(deadline))
            .await
            .map_err(|_| busy(state))?,
        None => None,
    };
    Ok((permit, lease))
}

fn busy(state: &LimitState) -> GatewayError {
    GatewayError::UpstreamBusy {
        retry_after: state.settings.max_wait,
    }
}

/// A permit at once if one is free; else a place in the bounded queue, for a bounded time.
async fn acquire_local(state: &LimitState) -> Result<OwnedSemaphorePermit, GatewayError> {
    let settings = &state.settings;
    if let Ok(permit) = state.permits.clone().try_acquire_owned() {
        return Ok(permit);
    }
    let waiting = state.queued.fetch_add(1, Ordering::SeqCst);
    let _leave_queue = QueueSlot(&state.queued);
    if waiting >= settings.max_queued {
        return Err(busy(state));
    }
    match tokio::time::timeout(settings.max_wait, state.permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(busy(state)),
    }
}

/// Leaves the queue when dropped, whether the wait ended with a permit, a timeout, or the
/// client going away.
struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a request in the `upstream_in_flight` gauge for as long as it is held.
struct InFlight(Arc<Metrics>);

impl InFlight {
    fn start(metrics: Arc<Metrics>) -> Self {
        metrics.upstream_in_flight.inc();
        InFlight(metrics)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.upstream_in_flight.dec();
    }
}

/// A response body that holds an upstream permit (and its shared lease) until it ends or is
/// dropped.
struct PermitBody {
    body: Body,
    _permit: OwnedSemaphorePermit,
    _lease: Option<Lease>,
    _in_flight: InFlight,
}

impl http_body::Body for PermitBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
