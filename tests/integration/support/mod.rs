//! Shared test harness: the real gateway and simulator on real loopback sockets, and a
//! hand-rolled upstream whose every answer a test scripts.

pub(crate) mod binary;
pub(crate) mod contract;
pub(crate) mod hostile;
pub(crate) mod logs;
pub(crate) mod pki;
pub(crate) mod protocol;
pub(crate) mod tls;
pub(crate) mod xml_bodies;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cupi_gateway::openapi::ApiSpec;
use cupi_gateway::transcode::Limits;
use cupi_gateway::upstream::tls::TlsVerification;
use cupi_gateway::upstream::{Upstream, UpstreamConfig};
use cupi_simulator::SimulatorConfig;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub(crate) const AUTH: (&str, &str) = ("admin", "password");
pub(crate) const PORT_GROUP_ID: &str = "035853ce-f4e6-4de2-bda2-84acf827a555";
pub(crate) const PORT_1_ID: &str = "2806ecdc-0a3d-43f3-a2c8-93d786fa506b";
pub(crate) const PORT_2_ID: &str = "f87ad180-7d06-48c9-b9bd-e6b5cd2311bc";

/// Gateway settings a test may change.
#[derive(Clone)]
pub(crate) struct GatewayOptions {
    pub limits: Limits,
    pub verification: TlsVerification,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub validate_requests: bool,
    pub spec: ApiSpec,
    pub upstream_limit: cupi_gateway::limit::LimitSettings,
    pub cors_allowed_origins: Vec<http::HeaderValue>,
    pub upstream_retries: u32,
    pub request_timeout: Duration,
    /// Serve HTTPS with this acceptor.
    pub tls: Option<cupi_gateway::server::TlsAcceptor>,
    /// How requests that name no profile are served (`--cupi-compat` makes it `Cupi`).
    pub default_mode: cupi_gateway::transcode::Mode,
    /// Connection bounds: the flags' defaults, with a 1 s drain.
    pub connections: cupi_gateway::server::ConnectionSettings,
    /// Notified to shut the gateway down (as SIGTERM would); none: it serves for ever.
    pub shutdown: Option<Arc<tokio::sync::Notify>>,

    /// The body budget and the pace of client bodies.
    pub bodies: cupi_gateway::budget::BodySettings,
    /// Answers compressed per `Accept-Encoding` (false: as with `--no-compression`).
    pub compress_responses: bool,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            limits: Limits {
                max_request_body: 1024 * 1024,
                max_response_body: 8 * 1024 * 1024,
            },
            verification: TlsVerification::SystemRoots,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            validate_requests: true,
            spec: ApiSpec::embedded().expect("the embedded OpenAPI document loads"),
            upstream_limit: cupi_gateway::limit::LimitSettings {
                max_concurrent: 5,
                max_queued: 100,
                max_wait: Duration::from_secs(10),
                shared: None,
            },
            cors_allowed_origins: Vec::new(),
            upstream_retries: 2,
            request_timeout: Duration::from_secs(30),
            tls: None,
            default_mode: cupi_gateway::transcode::Mode::Typed,
            connections: cupi_gateway::server::ConnectionSettings {
                drain_timeout: Duration::from_secs(1),
                ..Default::default()
            },
            shutdown: None,

            bodies: cupi_gateway::budget::BodySettings::default(),
            compress_responses: true,
        }
    }
}

impl GatewayOptions {
    /// Requests that name no profile served in `default_mode` (`--cupi-compat`: `Cupi`).
    pub(crate) fn in_mode(default_mode: cupi_gateway::transcode::Mode) -> Self {
        GatewayOptions {
            default_mode,
            ..GatewayOptions::default()
        }
    }

    /// As with `--no-request-validation`: writes go upstream unchecked.
    pub(crate) fn without_validation() -> Self {
        GatewayOptions {
            validate_requests: false,
            ..GatewayOptions::default()
        }
    }
}

/// Serves the simulator on a free loopback port; returns its origin (`http://127.0.0.1:N`).
pub(crate) async fn start_simulator(config: SimulatorConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(cupi_simulator::serve(listener, config));
    format!("http://{addr}")
}

/// Serves the gateway in front of `upstream_origin` on a free loopback port; returns its base URL.
pub(crate) async fn start_gateway(upstream_origin: &str, options: GatewayOptions) -> String {
    let upstream = Upstream::new(&UpstreamConfig {
        origin: upstream_origin.parse().expect("valid origin"),
        verification: options.verification,
        connect_timeout: options.connect_timeout,
        response_timeout: options.response_timeout,
    })
    .expect("upstream client");
    let settings = cupi_gateway::app::Settings {
        limits: options.limits,
        validate_requests: options.validate_requests,
        upstream_limit: options.upstream_limit.clone(),
        cors_allowed_origins: options.cors_allowed_origins.clone(),
        upstream_retries: options.upstream_retries,
        request_timeout: options.request_timeout,
        default_mode: options.default_mode,
        bodies: options.bodies,
        compress_responses: options.compress_responses,
    };
    let metrics = Arc::new(cupi_gateway::metrics::Metrics::new(
        options.spec.path_templates(),
    ));
    let connections = cupi_gateway::server::ConnectionSettings {
        open_connections: metrics.open_connections.clone(),
        ..options.connections.clone()
    };
    let app = cupi_gateway::app::app_with_metrics(
        upstream,
        Arc::new(options.spec.clone()),
        settings,
        metrics,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tokio::spawn(cupi_gateway::server::serve(
        listener,
        app,
        shutdown_on(options.shutdown.clone()),
        connections,
        options.tls.clone(),
    ));
    format!("{scheme}://{addr}")
}

/// Resolves when the test notifies `shutdown`; never without one.
async fn shutdown_on(shutdown: Option<Arc<tokio::sync::Notify>>) {
    match shutdown {
        Some(shutdown) => shutdown.notified().await,
        None => std::future::pending().await,
    }
}

/// Simulator + gateway, the stack a newcomer starts.
pub(crate) async fn start_stack() -> String {
    let simulator = start_simulator(SimulatorConfig::default()).await;
    start_gateway(&simulator, GatewayOptions::default()).await
}

/// A client that neither follows redirects nor keeps cookies, so tests see raw responses.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GET with Basic auth.
pub(crate) async fn get(url: &str) -> reqwest::Response {
    client()
        .get(url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .send()
        .await
        .unwrap()
}

/// A bodiless request with Basic auth and the given `Accept`, or none at all.
pub(crate) async fn fetch_accepting(
    method: reqwest::Method,
    url: &str,
    accept: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .request(method, url)
        .basic_auth(AUTH.0, Some(AUTH.1));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.unwrap()
}

/// GET with Basic auth and the given `Accept`, or none at all.
pub(crate) async fn get_accepting(url: &str, accept: Option<&str>) -> reqwest::Response {
    fetch_accepting(reqwest::Method::GET, url, accept).await
}

/// HEAD with Basic auth.
pub(crate) async fn head(url: &str) -> reqwest::Response {
    client()
        .head(url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .send()
        .await
        .unwrap()
}

/// GET without credentials: the gateway's own routes, or an auth failure on purpose.
pub(crate) async fn get_anonymous(url: &str) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

/// A request with Basic auth, a `Content-Type` and a body.
pub(crate) async fn send(
    method: reqwest::Method,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    client()
        .request(method, url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// PUT with Basic auth, a `Content-Type` and a body.
pub(crate) async fn put(
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    send(reqwest::Method::PUT, url, content_type, body).await
}

/// The body as JSON, after checking the response says it is JSON and, for resources the
/// OpenAPI document describes, that the body matches the document (see [`contract`]).
pub(crate) async fn json(response: reqwest::Response) -> serde_json::Value {
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type}"
    );
    let path = response.url().path().to_owned();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    contract::check(&path, status, &body);
    body
}

/// Asserts the gateway's JSON error shape and returns the first error's code.
pub(crate) async fn error_code(response: reqwest::Response) -> String {
    let body = json(response).await;
    let errors = body["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty(), "errors is empty: {body}");
    assert!(errors[0]["message"].is_string(), "message missing: {body}");
    errors[0]["code"].as_str().expect("code").to_owned()
}

/// What the hand-rolled upstream received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub method: http::Method,
    /// The request target exactly as received on the wire.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A scripted upstream: every request is recorded, every answer comes from `respond`.
pub(crate) struct FakeUpstream {
    pub origin: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeUpstream {
    pub(crate) async fn start<F>(respond: F) -> FakeUpstream
    where
        F: Fn(&Recorded) -> Response<Full<Bytes>> + Send + Sync + 'static,
    {
        FakeUpstream::start_delayed(Duration::ZERO, respond).await
    }

    /// Like [`FakeUpstream::start`], but every answer takes `delay` (the request is recorded
    /// as soon as it arrives).
    pub(crate) async fn start_delayed<F>(delay: Duration, respond: F) -> FakeUpstream
    where
        F: Fn(&Recorded) -> Response<Full<Bytes>> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond = Arc::new(respond);
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let respond = respond.clone();
                let recorded = recorded.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let respond = respond.clone();
                    let recorded = recorded.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let request = Recorded {
                            method: parts.method,
                            target: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                        };
                        let response = respond(&request);
                        recorded.lock().unwrap().push(request);
                        tokio::time::sleep(delay).await;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeUpstream {
            origin: format!("http://{addr}"),
            requests,
        }
    }

    pub(crate) fn last(&self) -> Recorded {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("upstream saw a request")
    }

    pub(crate) fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// An upstream that reads a request head, then plays `script`: for each step it waits, then
/// writes the bytes; then it closes. For bodies that lie about their length, end early, stall,
/// or never come.
pub(crate) async fn raw_upstream(script: Vec<(Duration, &'static [u8])>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(script);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                if !read_request_head(&mut stream).await {
                    return;
                }
                for (delay, bytes) in script.iter() {
                    tokio::time::sleep(*delay).await;
                    if stream.write_all(bytes).await.is_err() {
                        return;
                    }
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// Sends `request` as raw bytes to the server at `base` and returns everything it answers
/// until it closes: for request targets an HTTP client library would normalise away.
pub(crate) async fn raw_request(base: &str, request: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("server answers and closes")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A response with a status, a content type and a body.
pub(crate) fn respond(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    if !content_type.is_empty() {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Full::new(body.into())).unwrap()
}

/// A listener address that refuses connections: bound, then dropped.
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// An address whose connects hang: a listener with a backlog of 0 whose one queue slot is
/// taken and never accepted. Linux then drops further SYNs instead of refusing them, which is
/// what a firewalled or powered-off server looks like. Connects hang while this lives.
pub(crate) struct SilentPort {
    pub addr: SocketAddr,
    _listener: TcpListener,
    _filler: tokio::net::TcpStream,
}

pub(crate) async fn silent_port() -> SilentPort {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let filler = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Proof that the queue is full: one more connect gets no answer.
    let probe = tokio::time::timeout(
        Duration::from_millis(200),
        tokio::net::TcpStream::connect(addr),
    );
    assert!(
        probe.await.is_err(),
        "the backlog trick did not hold the connect"
    );
    SilentPort {
        addr,
        _listener: listener,
        _filler: filler,
    }
}

/// The value of an unlabelled metric, read from the gateway's `/metrics`.
pub(crate) async fn metric(gateway: &str, name: &str) -> f64 {
    let text = get_anonymous(&format!("{gateway}/metrics"))
        .await
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Reads a request head (up to its blank line) off a hand-rolled server's connection; `false`
/// when the client closed first. Whatever follows the head is left unread.
pub(crate) async fn read_request_head(stream: &mut tokio::net::TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}
