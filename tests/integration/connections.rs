//! Connection bounds: clients that connect and ask for nothing (silent, a head trickled byte
//! by byte, an idle keep-alive, TLS or HTTP/2 connection) are closed after their timeout, and
//! at `--max-connections` the open connections keep being served, new ones wait, and serving
//! recovers when the cap is left. Every ceiling is generous: the machines are shared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::pki::make_pki;
use crate::support::*;
use bytes::Bytes;
use cupi_gateway::server::ConnectionSettings;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Longest a closed connection may take to be seen closed: far above every timeout here.
const CEILING: Duration = Duration::from_secs(10);

/// A gateway with these bounds in front of `upstream` (the simulator when `None`).
async fn gateway_with(
    connections: ConnectionSettings,
    upstream: Option<&str>,
    tls: Option<cupi_gateway::server::TlsAcceptor>,
) -> String {
    let origin = match upstream {
        Some(origin) => origin.to_owned(),
        None => start_simulator(Default::default()).await,
    };
    let options = GatewayOptions {
        connections,
        tls,
        ..GatewayOptions::default()
    };
    start_gateway(&origin, options).await
}

fn timeouts(header_read: Duration, idle: Duration) -> ConnectionSettings {
    ConnectionSettings {
        header_read_timeout: header_read,
        idle_timeout: idle,
        ..ConnectionSettings::default()
    }
}

fn addr(base: &str) -> String {
    base.rsplit("://").next().unwrap().to_owned()
}

/// Reads until the peer closes; returns how long that took and what was received. Fails the
/// test if the connection is still open at [`CEILING`].
async fn time_to_close(stream: &mut (impl AsyncRead + Unpin)) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 1024];
        // A reset counts as closed, as does the end of the stream.
        while let Ok(n @ 1..) = stream.read(&mut buffer).await {
            received.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(CEILING, read)
        .await
        .expect("the gateway closes the connection within the ceiling");
    (started.elapsed(), received)
}

/// Not closed before about the timeout (the clock starts a little before the gateway's).
fn assert_not_early(elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed >= timeout * 3 / 4,
        "closed after {elapsed:?}, before the timeout of {timeout:?}"
    );
}

/// The next normal request, on a new connection, is answered.
async fn assert_serves_healthz(base: &str) {
    let response = get_anonymous(&format!("{base}/healthz")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ok");
}

/// `GET path` with Basic auth, for hyper's connection-level clients.
fn request(path: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(path)
        .header("host", "localhost")
        .header("authorization", "Basic YWRtaW46cGFzc3dvcmQ=")
        .body(Empty::new())
        .unwrap()
}

/// When a client connection's driver ended, that is when the gateway closed it.
fn closed_at<F>(connection: F) -> JoinHandle<Instant>
where
    F: std::future::Future + Send + 'static,
{
    tokio::spawn(async move {
        let _ = connection.await;
        Instant::now()
    })
}

/// Asserts that the connection `closed` reports on is closed within the ceiling, and not
/// before `timeout` has passed since `idle_since`.
async fn assert_closed_after(closed: JoinHandle<Instant>, idle_since: Instant, timeout: Duration) {
    let closed = tokio::time::timeout(CEILING, closed)
        .await
        .expect("closed within the ceiling")
        .unwrap();
    assert_not_early(closed - idle_since, timeout);
}

#[tokio::test]
async fn silent_connections_are_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_secs(1);
    let base = gateway_with(timeouts(timeout, timeout), None, None).await;
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(TcpStream::connect(addr(&base)).await.unwrap());
    }
    // While they are open, others are served.
    assert_serves_healthz(&base).await;
    for stream in &mut silent {
        let (_, received) = time_to_close(stream).await;
        assert!(received.is_empty(), "a silent client gets no answer");
        assert_not_early(opened.elapsed(), timeout);
    }
    assert!(opened.elapsed() < CEILING, "all closed within the ceiling");
    let (elapsed, _) = time_to_close(&mut TcpStream::connect(addr(&base)).await.unwrap()).await;
    assert_not_early(elapsed, timeout);
    assert_serves_healthz(&base).await;
}

#[tokio::test]
async fn a_head_trickled_byte_by_byte_is_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_secs(1);
    let base = gateway_with(timeouts(timeout, timeout), None, None).await;
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let (elapsed, received) = time_to_close(&mut reader).await;
    trickle.abort();
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert_not_early(elapsed, timeout);
    assert_serves_healthz(&base).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_last_response() {
    let timeout = Duration::from_secs(1);
    // The upstream takes longer than the timeout: a request in flight is not idle.
    let slow = Duration::from_millis(2500);
    let upstream = FakeUpstream::start_delayed(slow, |_| {
        respond(200, "application/xml", r#"<Ports total="0"/>"#)
    })
    .await;
    let base = gateway_with(timeouts(timeout, timeout), Some(&upstream.origin), None).await;
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let closed = closed_at(connection);
    for path in ["/healthz", "/vmrest/ports"] {
        let response = sender.send_request(request(path)).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.into_body().collect().await.unwrap();
    }
    assert_closed_after(closed, Instant::now(), timeout).await;
    assert_serves_healthz(&base).await;
}

#[tokio::test]
async fn an_idle_tls_connection_is_closed_after_the_header_read_timeout() {
    let pki = make_pki(&["localhost"]);
    let acceptor = crate::support::tls::acceptor(&pki);
    let timeout = Duration::from_secs(1);
    let base = gateway_with(timeouts(timeout, timeout), None, Some(acceptor)).await;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = || async {
        let tcp = TcpStream::connect(addr(&base)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.expect("TLS handshake")
    };

    let (elapsed, received) = time_to_close(&mut connect().await).await;
    assert!(received.is_empty(), "an idle client gets no answer");
    assert_not_early(elapsed, timeout);

    // The next TLS client is served.
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(connect().await))
            .await
            .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );
}

#[tokio::test]
async fn an_http2_connection_without_streams_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let slow = Duration::from_millis(2500);
    let upstream = FakeUpstream::start_delayed(slow, |_| {
        respond(200, "application/xml", r#"<Ports total="0"/>"#)
    })
    .await;
    let base = gateway_with(timeouts(idle, idle), Some(&upstream.origin), None).await;

    // Prior knowledge, and no stream at all: closed like any silent connection.
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (_sender, connection) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    assert_closed_after(closed_at(connection), Instant::now(), idle).await;

    // Streams, one of them longer than the idle timeout, then none.
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let closed = closed_at(connection);
    for path in ["/healthz", "/vmrest/ports"] {
        let response = sender
            .send_request(request(&format!("http://localhost{path}")))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.version(), http::Version::HTTP_2);
        response.into_body().collect().await.unwrap();
    }
    assert_closed_after(closed, Instant::now(), idle).await;
    assert_serves_healthz(&base).await;
}

#[tokio::test]
async fn at_max_connections_open_ones_are_served_and_new_ones_wait_until_one_closes() {
    let header_read = Duration::from_secs(4);
    let settings = ConnectionSettings {
        header_read_timeout: header_read,
        max_connections: 4,
        ..ConnectionSettings::default()
    };
    let base = gateway_with(settings, None, None).await;

    // One keep-alive client, then silent ones up to the cap.
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (mut kept, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = kept.send_request(request("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(addr(&base)).await.unwrap());
    }

    // A new client waits in the backlog: connected, but not answered.
    let mut waiting = TcpStream::connect(addr(&base)).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(1), waiting.read(&mut first)).await;
    assert!(early.is_err(), "answered beyond the cap: {early:?}");

    // The open keep-alive connection is still served at the cap, and counts itself in.
    let response = kept.send_request(request("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.lines()
            .any(|line| line == "cupi_gateway_open_connections 4"),
        "{text}"
    );

    // The silent ones are closed at their timeout; the waiting client is then served.
    for stream in &mut silent {
        let (_, received) = time_to_close(stream).await;
        assert!(received.is_empty());
    }
    let (_, answer) = time_to_close(&mut waiting).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""status":"ok""#), "{answer}");
    assert_serves_healthz(&base).await;

    // Once the clients are gone, only the connection asking is counted.
    drop(kept);
    let started = Instant::now();
    while metric(&base, "cupi_gateway_open_connections").await != 1.0 {
        assert!(
            started.elapsed() < CEILING,
            "closed connections still counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn on_shutdown_requests_in_flight_finish_and_idle_connections_close() {
    let slow = Duration::from_millis(1500);
    let upstream = FakeUpstream::start_delayed(slow, |_| {
        respond(200, "application/xml", r#"<Ports total="0"/>"#)
    })
    .await;
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let options = GatewayOptions {
        // Far above the ceiling: only the shutdown can close these connections in time.
        connections: ConnectionSettings {
            drain_timeout: Duration::from_secs(20),
            ..timeouts(Duration::from_secs(30), Duration::from_secs(30))
        },
        shutdown: Some(shutdown.clone()),
        ..GatewayOptions::default()
    };
    let base = start_gateway(&upstream.origin, options).await;
    let mut silent = TcpStream::connect(addr(&base)).await.unwrap();
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let in_flight = tokio::spawn(async move {
        let response = sender.send_request(request("/vmrest/ports")).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    });
    let started = Instant::now();
    while upstream.count() == 0 {
        assert!(
            started.elapsed() < CEILING,
            "the request never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    shutdown.notify_one();
    let (_, received) = time_to_close(&mut silent).await;
    assert!(received.is_empty());
    let (status, body) = tokio::time::timeout(CEILING, in_flight)
        .await
        .expect("the request in flight is answered")
        .unwrap();
    assert_eq!(status, 200);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(body.is_object(), "{body}");
    // Nothing new is accepted once the gateway is shutting down.
    let started = Instant::now();
    while TcpStream::connect(addr(&base)).await.is_ok() {
        assert!(
            started.elapsed() < CEILING,
            "still accepting after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
