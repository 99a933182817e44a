//! Coalescing identical concurrent reads into one upstream request.
//!
//! A frontend page load fans out, and ten tabs of the same admin page ask for the same port
//! group list at the same moment. Unity Connection handles only a handful of requests at once,
//! so [`Coalesce`] sends one of them upstream (the *leader*) and answers the others (the
//! *followers*) with a copy of its response, or of its failure.
//!
//! Two requests are identical when their method (`GET` or `HEAD`, without a body), their target
//! (path and query) and every header that could change the answer are equal: `Authorization`,
//! `Cookie`, `Host`, `Accept*` and any header this module does not know. A response is
//! therefore never shared across different credentials or sessions; a `Set-Cookie` in it goes
//! to requests that already sent the same credentials and cookies. Only headers that identify a
//! request rather than shape its answer (`x-request-id`, `user-agent`, tracing, `referer`,
//! `x-forwarded-for`) are ignored.
//!
//! Only textual bodies (XML, JSON, HTML and text error pages, not content-encoded) of at most
//! [`PREFIX_LIMIT`](crate::body::PREFIX_LIMIT) bytes are shared: the leader reads it and every
//! caller gets the same bytes. For anything else (a greeting's audio, a list too long to hold)
//! the leader keeps its streaming body and each follower sends its own request. If the leader goes away
//! before its answer (its client hung up), a waiting follower becomes the next leader.
//!
//! Trace context: only the leader's `traceparent` (its trace, the gateway's span for it) goes
//! upstream. Each follower still continues or starts its own trace, logs it and gets it back,
//! but Unity Connection never sees it: a follower's request line there is the leader's.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::coalesce::Coalesce;
//!
//! let metrics = std::sync::Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let budget = cupi_gateway::budget::BodyBudget::new(64 << 20, &metrics);
//! let coalesce = Coalesce::new(metrics, budget);
//! # let _ = coalesce;
//! ```

mod key;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use tokio::sync::watch;
use tower::{Service, ServiceExt};

use crate::body::{read_response_prefix, Prefix, PREFIX_LIMIT};
use crate::budget::BodyBudget;
use crate::content_type::{is_encoded, BodyKind};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::middleware::{Inner, Middleware, ResponseFuture};
use key::{Key, KeyHasher};

/// Answers identical concurrent reads from one upstream request; above the retries, so
/// followers share them too.
#[derive(Clone, Debug)]
pub struct Coalesce {
    state: Arc<CoalesceState>,
}

/// Shared by every clone: the requests in flight, by key.
#[derive(Debug)]
struct CoalesceState {
    flights: Mutex<HashMap<Arc<Key>, Flight, KeyHasher>>,
    metrics: Arc<Metrics>,
    /// Holds the shared responses' bodies.
    budget: BodyBudget,
}

impl Coalesce {
    /// The responses read to share them are held in `budget`.
    pub fn new(metrics: Arc<Metrics>, budget: BodyBudget) -> Self {
        Coalesce {
            state: Arc::new(CoalesceState {
                flights: Mutex::new(HashMap::default()),
                metrics,
                budget,
            }),
        }
    }
}

impl Middleware for Coalesce {
    type Error = GatewayError;

    fn call<S: Inner>(&self, request: Request<Body>, mut inner: S) -> ResponseFuture {
        let Some(key) = Key::of(&request) else {
            return Box::pin(inner.call(request));
        };
        // Shared by the map and the leader; built once, whichever role the request takes.
        let key = Arc::new(key);
        let state = self.state.clone();
        Box::pin(async move {
            loop {
                let mut flight = match join(&state, &key) {
                    Role::Leader(leader) => return lead(inner, request, leader).await,
                    Role::Follower(flight) => flight,
                };
                let outcome = match flight.wait_for(Option::is_some).await {
                    Ok(outcome) => outcome.clone(),
                    // The leader went away without an answer: lead, or follow the next one.
                    Err(_) => continue,
                };
                match outcome {
                    Some(Outcome::Answered(response)) => {
                        state.metrics.coalesced.inc();
                        return Ok(response.to_response());
                    }
                    Some(Outcome::Failed(error)) => {
                        state.metrics.coalesced.inc();
                        return Err(GatewayError::Shared(error));
                    }
                    Some(Outcome::NotShareable) | None => {
                        return inner.ready().await?.call(request).await;
                    }
                }
            }
        })
    }
}

/// Followers wait on this until the leader publishes its outcome; a sender dropped without
/// one means the leader went away.
type Flight = watch::Receiver<Option<Outcome>>;

/// What a leader hands its followers.
#[derive(Clone, Debug)]
enum Outcome {
    Answered(Arc<SharedResponse>),
    Failed(Arc<GatewayError>),
    /// A body that is not read whole (a stream): each follower asks for its own.
    NotShareable,
}

/// A response read whole, to be copied out to each caller.
#[derive(Debug)]
struct SharedResponse {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
}

impl SharedResponse {
    /// A copy for each caller: status, version, headers and body, none of the upstream
    /// response's extensions (hyper keeps its reason phrase there, which the server would
    /// write back out).
    fn to_response(&self) -> Response<Body> {
        SharedResponse {
            headers: self.headers.clone(),
            body: self.body.clone(),
            ..*self
        }
        .into_response()
    }

    fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.version_mut() = self.version;
        *response.headers_mut() = self.headers;
        response
    }
}

enum Role {
    Leader(Leader),
    Follower(Flight),
}

/// Joins the flight for `key`, or starts one.
fn join(state: &Arc<CoalesceState>, key: &Arc<Key>) -> Role {
    let mut flights = state.flights.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(flight) = flights.get(&**key) {
        return Role::Follower(flight.clone());
    }
    let (sender, flight) = watch::channel(None);
    flights.insert(key.clone(), flight);
    Role::Leader(Leader {
        key: Some(key.clone()),
        sender,
        state: state.clone(),
    })
}

/// The request that goes upstream. Its flight ends when it lands or is dropped, answered or
/// not, so a request arriving later starts a new one.
struct Leader {
    /// `None` once landed.
    key: Option<Arc<Key>>,
    sender: watch::Sender<Option<Outcome>>,
    state: Arc<CoalesceState>,
}

impl Leader {
    /// Ends the flight; whether followers joined it and wait for its outcome. None can join
    /// after: the map's receiver was the one they cloned.
    fn land(&mut self) -> bool {
        if let Some(key) = self.key.take() {
            // Only the leader inserts or removes its key, so the entry here is this flight's.
            let mut flights = self.state.flights.lock().unwrap_or_else(|e| e.into_inner());
            flights.remove(&key);
        }
        self.sender.receiver_count() > 0
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.land();
    }
}

/// Sends the request on behalf of everyone who asks the same, and hands the answer to the
/// followers when it can be shared: an async block (`middleware`: the future's size).
#[expect(clippy::manual_async_fn, reason = "a smaller future")]
fn lead<S>(
    mut inner: S,
    request: Request<Body>,
    mut leader: Leader,
) -> impl Future<Output = Result<Response<Body>, GatewayError>>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = GatewayError>,
{
    async move {
        let answer = match inner.ready().await {
            Ok(inner) => inner.call(request).await,
            Err(error) => Err(error),
        };
        let response = match answer {
            Ok(response) if is_shareable(&response) => response,
            Ok(response) => {
                leader.sender.send_replace(Some(Outcome::NotShareable));
                return Ok(response);
            }
            Err(error) => return Err(fail(&leader, error)),
        };
        let (parts, body) = response.into_parts();
        match read_response_prefix(body, PREFIX_LIMIT, &leader.state.budget).await {
            // Too large to copy to each caller: the leader streams it, the others ask themselves.
            Ok(partial @ Prefix::Partial { .. }) => {
                leader.sender.send_replace(Some(Outcome::NotShareable));
                Ok(Response::from_parts(parts, partial.into_body()))
            }
            Ok(Prefix::Complete(body)) => {
                let shared = SharedResponse {
                    status: parts.status,
                    version: parts.version,
                    headers: parts.headers,
                    body,
                };
                // Most reads have no twin in flight: no copy is kept for followers that never came.
                if !leader.land() {
                    return Ok(shared.into_response());
                }
                let shared = Arc::new(shared);
                let response = shared.to_response();
                leader.sender.send_replace(Some(Outcome::Answered(shared)));
                Ok(response)
            }
            Err(error) => Err(fail(&leader, error)),
        }
    }
}

/// Publishes a failure to the followers and returns the leader's own copy of it.
fn fail(leader: &Leader, error: GatewayError) -> GatewayError {
    let error = Arc::new(error);
    leader
        .sender
        .send_replace(Some(Outcome::Failed(error.clone())));
    GatewayError::Shared(error)
}

/// Bodies the transcoder reads whole anyway; anything else keeps streaming.
fn is_shareable(response: &Response<Body>) -> bool {
    BodyKind::of(response.headers()) != BodyKind::Other && !is_encoded(response.headers())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::middleware::Wrapped;

    /// An upstream stand-in that takes `delay` and counts its calls.
    fn slow_inner(
        delay: Duration,
        calls: Arc<AtomicUsize>,
    ) -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = GatewayError,
        Future = ResponseFuture,
    > + Clone
           + Send
           + 'static {
        tower::service_fn(move |_request: Request<Body>| {
            let calls = calls.clone();
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                Ok(Response::builder()
                    .header("content-type", "application/xml")
                    .body(Body::from("<Ports total=\"0\"/>"))
                    .unwrap())
            }) as ResponseFuture
        })
    }

    fn read() -> Request<Body> {
        Request::get("/vmrest/ports").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_follower_takes_over_when_the_leader_hangs_up() {
        let calls = Arc::new(AtomicUsize::new(0));
        let metrics = Arc::new(Metrics::new(vec![]));
        let budget = crate::budget::BodyBudget::new(1 << 20, &metrics);
        let service = Wrapped::new(
            Coalesce::new(metrics, budget),
            slow_inner(Duration::from_millis(300), calls.clone()),
        );

        let leader = tokio::spawn(service.clone().oneshot(read()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let follower = tokio::spawn(service.clone().oneshot(read()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the follower waits");

        // The leader's client hangs up: the follower sends the request itself.
        leader.abort();
        let response = follower.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Flights end with their leaders: nothing is left behind.
        let flights = service.middleware().state.flights.lock().unwrap();
        assert!(flights.is_empty());
    }
}
