//! [`UpstreamLimit`]: waits for a permit, or sheds the request.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tower::Service;

use super::layer::LimitState;
use crate::body::{is_bodiless_request, read_request_prefix};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::BoxFuture;

/// Caps the requests in flight to the inner service; built by [`super::UpstreamLimitLayer`].
#[derive(Clone, Debug)]
pub struct UpstreamLimit<S> {
    inner: S,
    state: Arc<LimitState>,
}

impl<S> UpstreamLimit<S> {
    pub(super) fn new(inner: S, state: Arc<LimitState>) -> Self {
        UpstreamLimit { inner, state }
    }
}

impl<S> Service<Request<Body>> for UpstreamLimit<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Response<Body>, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let mut inner = crate::take_ready(&mut self.inner);
        let state = self.state.clone();
        Box::pin(async move {
            let request = read_body_before_slot(request, &state).await?;
            let permit = acquire(&state).await.inspect_err(|_| {
                state.metrics.shed.inc();
            })?;
            let in_flight = InFlight::start(state.metrics.clone());
            let response = inner.call(request).await?;
            // The server stays busy until its body has been sent: keep the permit until then.
            Ok(response.map(|body| {
                Body::new(PermitBody {
                    body,
                    _permit: permit,
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

/// A permit at once if one is free; else a place in the bounded queue, for a bounded time.
async fn acquire(state: &LimitState) -> Result<OwnedSemaphorePermit, GatewayError> {
    let settings = state.settings;
    if let Ok(permit) = state.permits.clone().try_acquire_owned() {
        return Ok(permit);
    }
    let waiting = state.queued.fetch_add(1, Ordering::SeqCst);
    let _leave_queue = QueueSlot(&state.queued);
    if waiting >= settings.max_queued {
        return Err(GatewayError::UpstreamBusy {
            retry_after: settings.max_wait,
        });
    }
    match tokio::time::timeout(settings.max_wait, state.permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(GatewayError::UpstreamBusy {
            retry_after: settings.max_wait,
        }),
    }
}

/// Leaves the queue when dropped, whether the wait ended with a permit, a timeout, or the
/// client going away.
struct QueueSlot<'a>(&'a std::sync::atomic::AtomicUsize);

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

/// A response body that holds an upstream permit until it ends or is dropped.
struct PermitBody {
    body: Body,
    _permit: OwnedSemaphorePermit,
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
