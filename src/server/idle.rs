//! Closing connections that hold a socket without asking for anything.
//!
//! hyper's own header-read timeout starts only once hyper-util has read a connection's first
//! bytes (to tell HTTP/1.1 from HTTP/2), and HTTP/2 has no idle timeout at all: a client that
//! connects and sends nothing, or keeps an HTTP/2 connection without streams, would hold a file
//! descriptor for ever. So every connection counts its requests in flight instead. hyper calls
//! the service only once a request head is complete, and a request stays in flight until hyper
//! drops its response body (sent, or the stream reset): a connection with nothing in flight
//! for longer than its limit has not completed a request head in that time, and is closed.
//! The same rule covers plain and TLS connections, HTTP/1.1 and HTTP/2.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::Frame;
use hyper::body::Incoming;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::ConnectionSettings;
use crate::middleware::BoxFuture;

/// After a connection is asked to close (idle, or the gateway shutting down), how long it may
/// stay open with nothing in flight (an HTTP/2 GOAWAY being written, a head that was never
/// completed) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The requests in flight on one connection, and since when there have been none.
pub(super) struct Activity {
    state: Mutex<ActivityState>,
    changed: Notify,
}

#[derive(Clone, Copy)]
struct ActivityState {
    in_flight: usize,
    idle_since: Instant,
    /// Whether the connection has carried an HTTP/2 request: it then gets the idle timeout
    /// after its streams end, where an HTTP/1.1 connection must send its next head within
    /// the header-read timeout.
    http2: bool,
}

impl Activity {
    /// A connection just accepted (and through its TLS handshake): idle from now.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
                http2: false,
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(self: &Arc<Self>, http2: bool) -> InFlight {
        let mut state = self.lock();
        state.in_flight += 1;
        state.http2 |= http2;
        InFlight(self.clone())
    }

    fn restart_clock(&self) {
        self.lock().idle_since = Instant::now();
    }

    /// Resolves once no request has been in flight for `limit(http2)`.
    async fn idle_for(&self, limit: impl Fn(bool) -> Duration) {
        loop {
            // Registered before the state is read, so an end in between is not missed.
            let changed = self.changed.notified();
            let state = *self.lock();
            if state.in_flight > 0 {
                changed.await;
                continue;
            }
            let deadline = state.idle_since + limit(state.http2);
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = changed => {}
            }
        }
    }
}

/// One request in flight; dropped with its response body, or with its future when the
/// client goes away first.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.0.lock();
            state.in_flight -= 1;
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
            }
        }
        self.0.changed.notify_one();
    }
}

/// A connection's service, counting its requests in flight in `activity`.
pub(super) struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Counted<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Counted { inner, activity }
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for Counted<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<CountedBody<B>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self
            .activity
            .start(request.version() == http::Version::HTTP_2);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|inner| CountedBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request in flight until hyper has sent it and drops it.
pub(super) struct CountedBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B: http_body::Body + Unpin> http_body::Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Drives `connection` to its end, asking it to close (`graceful_shutdown`) when the gateway
/// shuts down (`stop` turns true) or when it has been idle too long: no request in flight
/// within the header-read timeout of its accept or, for HTTP/1.1, of its last response; or,
/// on an HTTP/2 connection whose streams have ended, within the idle timeout.
pub(super) async fn drive<C, E>(
    connection: C,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    activity: &Activity,
    settings: &ConnectionSettings,
    mut stop: watch::Receiver<bool>,
) -> Result<(), E>
where
    C: Future<Output = Result<(), E>>,
{
    let mut connection = std::pin::pin!(connection);
    let limit = |http2: bool| {
        if http2 {
            settings.idle_timeout
        } else {
            settings.header_read_timeout
        }
    };
    tokio::select! {
        result = connection.as_mut() => return result,
        _ = stop.wait_for(|stopping| *stopping) => {}
        () = activity.idle_for(limit) => {}
    }
    graceful_shutdown(connection.as_mut());
    // Requests in flight are finished (the serving loop bounds a shutdown's drain as a whole).
    // Without any, the connection is dropped once the grace is up: an HTTP/1.1 head that was
    // never completed would keep it open through a graceful shutdown.
    activity.restart_clock();
    tokio::select! {
        result = connection.as_mut() => result,
        () = activity.idle_for(|_| CLOSE_GRACE) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_means_nothing_in_flight_for_the_whole_limit() {
        let activity = Activity::new();
        let limit = |_| Duration::from_secs(10);
        let started = Instant::now();
        let request = activity.start(false);
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(request);
        activity.idle_for(limit).await;
        // Idle from the end of the request, not from the start of the connection.
        assert_eq!(started.elapsed(), Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_request_switches_to_the_idle_timeout() {
        let activity = Activity::new();
        let limit = |http2| Duration::from_secs(if http2 { 60 } else { 5 });
        drop(activity.start(true));
        let started = Instant::now();
        activity.idle_for(limit).await;
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }
}
