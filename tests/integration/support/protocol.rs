//! HTTP/2 clients for the gateway (cleartext prior knowledge and TLS), and a raw upstream
//! that records the bytes it is sent, for the tests that check both protocols get the same
//! treatment and what framing reaches the upstream.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::pki::make_pki;
use super::{start_gateway, GatewayOptions};

/// An HTTP/2-only client: prior knowledge on `http://`, ALPN `h2` on `https://`.
pub(crate) type H2Client = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A gateway served over HTTP/2, and a client that speaks only HTTP/2 to it.
pub(crate) struct H2Gateway {
    /// `http://127.0.0.1:N` (h2c) or `https://localhost:N` (h2 over TLS).
    pub base: String,
    pub client: H2Client,
}

impl H2Gateway {
    /// The gateway in front of `upstream_origin`, over TLS when `tls`.
    pub(crate) async fn start(
        upstream_origin: &str,
        mut options: GatewayOptions,
        tls: bool,
    ) -> Self {
        let pki = make_pki(&["localhost"]);
        if tls {
            options.tls = Some(acceptor(&pki.leaf_pem, &pki.leaf_key_pem));
        }
        let served = start_gateway(upstream_origin, options).await;
        let port = served.rsplit(':').next().expect("a port").to_owned();
        let base = match tls {
            true => format!("https://localhost:{port}"),
            false => format!("http://127.0.0.1:{port}"),
        };
        H2Gateway {
            base,
            client: h2_client(&pki.ca_pem),
        }
    }

    /// Sends `method` to `path` with Basic auth and `body` (empty: a HEADERS frame that ends
    /// the stream); returns the status, the version and the body.
    pub(crate) async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: &'static str,
    ) -> (http::StatusCode, http::Version, Bytes) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", "Basic YWRtaW46cGFzc3dvcmQ=");
        if !body.is_empty() {
            request = request.header("content-type", "application/xml");
        }
        let request = request.body(Full::new(Bytes::from_static(body.as_bytes())));
        let response = self
            .client
            .request(request.expect("a valid request"))
            .await
            .expect("the gateway answers over HTTP/2");
        let (status, version) = (response.status(), response.version());
        let body = response.into_body().collect().await.expect("a whole body");
        (status, version, body.to_bytes())
    }

    pub(crate) async fn get(&self, path: &str) -> (http::StatusCode, http::Version, Bytes) {
        self.send(http::Method::GET, path, "").await
    }
}

fn acceptor(cert_pem: &str, key_pem: &str) -> cupi_gateway::server::TlsAcceptor {
    let dir = std::env::temp_dir().join(format!(
        "cupi-gateway-protocol-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let acceptor = cupi_gateway::server::tls_acceptor(&cert, &key).expect("certificate loads");
    std::fs::remove_dir_all(&dir).unwrap();
    acceptor
}

/// An HTTP/2-only client trusting `ca_pem`.
pub(crate) fn h2_client(ca_pem: &str) -> H2Client {
    let tls = super::tls::client_config(ca_pem);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http2()
        .build();
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(connector)
}

/// Serves a fresh loopback port: each connection's request head (up to its blank line, and
/// whatever came with it) is read, then `handle` gets the connection and those bytes. Returns
/// the origin (`http://127.0.0.1:N`).
async fn raw_server<F, Fut>(handle: F) -> String
where
    F: Fn(TcpStream, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                handle(stream, head).await;
            });
        }
    });
    format!("http://{addr}")
}

/// An upstream that records every request's raw bytes (the head, and whatever follows it
/// within a moment), then answers `200` with an empty body and closes.
pub(crate) async fn recording_upstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let origin = raw_server(move |mut stream, mut bytes| {
        let recorded = recorded.clone();
        async move {
            // A body (an empty chunked one included) comes right behind its head.
            let mut buf = [0u8; 4096];
            let linger = Duration::from_millis(300);
            while let Ok(Ok(n)) = tokio::time::timeout(linger, stream.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&buf[..n]);
            }
            recorded
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&bytes).into_owned());
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = stream.write_all(answer).await;
            let _ = stream.shutdown().await;
        }
    })
    .await;
    (origin, seen)
}

/// This process's resident memory in KiB (the gateway under test runs in it), from
/// `/proc/self/status`; 0 where there is no such file.
pub(crate) fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// An upstream that answers a request for a path containing `/bad` with the raw bytes
/// `bad` (then closes), and anything else with a small CUPI list: one upstream for a hostile
/// answer and the normal request after it.
pub(crate) async fn upstream_bad_on(bad: Vec<u8>) -> String {
    let bad = Arc::new(bad);
    raw_server(move |mut stream, head| {
        let bad = bad.clone();
        async move {
            let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
            let answer: &[u8] = if first_line.windows(4).any(|w| w == b"/bad") {
                &bad
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: 18\r\nconnection: close\r\n\r\n<Ports total=\"0\"/>"
            };
            let _ = stream.write_all(answer).await;
            let _ = stream.shutdown().await;
        }
    })
    .await
}
