//! One way to write the gateway's middleware: a [`Middleware`] says what happens to a request
//! on its way to the inner service; [`Wrapped`] is the one tower [`Service`] around it, and
//! [`Middleware::into_layer`] the one way to put it in a stack.
//!
//! The middleware value is its configuration and shared state; [`Wrapped`] keeps the
//! `poll_ready`/`call` contract in one place, so no middleware repeats it: `poll_ready` asks
//! the inner service, and `call` hands the middleware that service, the one polled ready,
//! leaving an unpolled clone behind. That clone copies the rest of the stack below, on every
//! request at every layer, so `Wrapped` holds its middleware behind one `Arc`: a layer costs
//! one reference count to clone, whatever its middleware holds.
//!
//! # The future's size
//!
//! A middleware's future is made, and boxed whole, for every request, and a request in
//! flight holds every layer's: what a future carries inline every request pays for. So an
//! await few requests reach (reading a body, waiting for room, an error page, a stream) is
//! boxed where it is reached, and a long function that takes the request returns an async
//! block rather than being an `async fn`, which stores its arguments twice.
//! `tests/allocations.rs` holds the bytes a GET allocates; `cargo +nightly rustc --lib --
//! -Zprint-type-sizes` gives each future's size.
//!
//! # Example
//!
//! ```
//! use axum::body::Body;
//! use http::{HeaderValue, Request, Response};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use cupi_gateway::error::GatewayError;
//! use cupi_gateway::middleware::{Inner, Middleware, ResponseFuture};
//!
//! /// Tags every answer with where it came from.
//! #[derive(Clone, Debug)]
//! struct Tag(&'static str);
//!
//! impl Middleware for Tag {
//!     type Error = GatewayError;
//!
//!     fn call<S: Inner>(&self, request: Request<Body>, mut inner: S) -> ResponseFuture {
//!         let tag = HeaderValue::from_static(self.0);
//!         Box::pin(async move {
//!             let mut response = inner.call(request).await?;
//!             response.headers_mut().insert("x-tag", tag);
//!             Ok(response)
//!         })
//!     }
//! }
//!
//! let upstream = tower::service_fn(|_: Request<Body>| async {
//!     Ok::<_, GatewayError>(Response::new(Body::empty()))
//! });
//! let service = ServiceBuilder::new().layer(Tag("gateway").into_layer()).service(upstream);
//! let request = Request::get("/vmrest/ports").body(Body::empty()).unwrap();
//! let response = tokio::runtime::Runtime::new()
//!     .unwrap()
//!     .block_on(service.oneshot(request))
//!     .unwrap();
//! assert_eq!(response.headers()["x-tag"], "gateway");
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use http::{Request, Response};
use tower::layer::layer_fn;
use tower::{Layer, Service};

use crate::error::GatewayError;

/// The boxed, `Send` future our services return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a middleware's `call` returns: the answer, or the error the stack renders once.
pub type ResponseFuture<E = GatewayError> = BoxFuture<Result<Response<Body>, E>>;

/// A service a [`Middleware`] can wrap: HTTP in, HTTP out, cloneable, and movable into the
/// boxed future that answers the request. Inside the error rendering, `E` is
/// [`GatewayError`].
pub trait Inner<E = GatewayError>:
    Service<Request<Body>, Response = Response<Body>, Error = E, Future: Send> + Clone + Send + 'static
{
}

impl<E, S> Inner<E> for S where
    S: Service<Request<Body>, Response = Response<Body>, Error = E, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// What one layer of the stack does with a request and the service below it.
pub trait Middleware: Clone + Send + Sync + 'static {
    /// The error of the inner service, which is also the middleware's own.
    type Error: Send + 'static;

    /// Answers `request`, with `inner` polled ready and owned: it may be called once at
    /// once, or again after `ServiceExt::ready` (as retries do).
    fn call<S: Inner<Self::Error>>(
        &self,
        request: Request<Body>,
        inner: S,
    ) -> ResponseFuture<Self::Error>;

    /// The layer that wraps a service in this middleware.
    fn into_layer<S>(self) -> impl Layer<S, Service = Wrapped<Self, S>> + Clone {
        let middleware = Arc::new(self);
        layer_fn(move |inner| Wrapped {
            middleware: middleware.clone(),
            inner,
        })
    }
}

/// A service wrapped in a [`Middleware`]; the only `tower::Service` impl the middlewares need.
#[derive(Debug)]
pub struct Wrapped<M, S> {
    middleware: Arc<M>,
    inner: S,
}

impl<M, S: Clone> Clone for Wrapped<M, S> {
    fn clone(&self) -> Self {
        Wrapped {
            middleware: self.middleware.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<M, S> Wrapped<M, S> {
    pub fn new(middleware: M, inner: S) -> Self {
        Wrapped {
            middleware: Arc::new(middleware),
            inner,
        }
    }

    /// The middleware, for tests that look at its state.
    pub fn middleware(&self) -> &M {
        &self.middleware
    }
}

impl<M, S> Service<Request<Body>> for Wrapped<M, S>
where
    M: Middleware,
    S: Inner<M::Error>,
{
    type Response = Response<Body>;
    type Error = M::Error;
    type Future = ResponseFuture<M::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), M::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let ready = take_ready(&mut self.inner);
        self.middleware.call(request, ready)
    }
}

/// Takes the service `poll_ready` made ready and leaves a clone in its place. The clone has
/// not been polled ready, so it must be the one left behind (tower's `Service` contract).
fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}
