//! Certificate rotation without a restart, on the real binary over real sockets: the files are
//! replaced the way a Kubernetes secret volume replaces them (a new `..2026_…` directory, then
//! the `..data` symlink swapped to it), and new connections are checked for the new leaf.
//!
//! A reload happens on the gateway's own schedule (its poll, or its handling of SIGHUP), so
//! every "is it served yet?" is a loop until it is seen or a generous deadline passes: nothing
//! here asserts how long anything takes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::support::binary;
use crate::support::pki::{make_pki, TestPki};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::process::Child;

/// How long a reload may take before a test gives up on it.
const RELOAD_DEADLINE: Duration = Duration::from_secs(30);

/// A directory laid out like a mounted Kubernetes secret: `name -> ..data/name`, and
/// `..data -> ..<generation>`, the directory holding this generation's files.
struct SecretVolume {
    dir: PathBuf,
    generation: u32,
}

impl SecretVolume {
    fn new(test: &str, files: &[(&str, &str)]) -> SecretVolume {
        let dir = std::env::temp_dir().join(format!(
            "cupi-gateway-rotation-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut volume = SecretVolume { dir, generation: 0 };
        volume.swap(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(Path::new("..data").join(name), volume.path(name)).unwrap();
        }
        volume
    }

    /// The path the gateway is given for `name`.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// Writes a new generation and swaps `..data` to it in one rename, as the kubelet does;
    /// the old generation is then removed.
    fn swap(&mut self, files: &[(&str, &str)]) {
        let old = format!("..2026_12_01_{:02}", self.generation);
        self.generation += 1;
        let new = format!("..2026_12_01_{:02}", self.generation);
        std::fs::create_dir(self.dir.join(&new)).unwrap();
        for (name, contents) in files {
            std::fs::write(self.dir.join(&new).join(name), contents).unwrap();
        }
        let staged = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&new, &staged).unwrap();
        std::fs::rename(&staged, self.dir.join("..data")).unwrap();
        let _ = std::fs::remove_dir_all(self.dir.join(old));
    }
}

impl Drop for SecretVolume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn server_files(pki: &TestPki) -> [(&'static str, &str); 2] {
    [("tls.crt", &pki.leaf_pem), ("tls.key", &pki.leaf_key_pem)]
}

fn leaf_der(pki: &TestPki) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pki.leaf_pem.as_bytes()).unwrap()
}

/// The gateway binary serving HTTPS from `volume`'s `tls.crt`/`tls.key`, checking for changes
/// every `interval` (`0s`: on SIGHUP only), in front of its embedded simulator.
async fn start_https_gateway(volume: &SecretVolume, interval: &str) -> (Child, u16) {
    let (child, base, _) = binary::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &volume.arg("tls.crt"),
            "--tls-key",
            &volume.arg("tls.key"),
            "--tls-reload-interval",
            interval,
        ],
        &[],
        "/healthz",
    )
    .await;
    let port = base.rsplit(':').next().unwrap().parse().unwrap();
    (child, port)
}

/// A gateway serving a fresh certificate from a fresh volume, polling every `interval`: the
/// certificate served first, the one to replace it with, the volume, the process and its port.
async fn start_rotation(
    test: &str,
    interval: &str,
) -> (TestPki, TestPki, SecretVolume, Child, u16) {
    let (old, new) = (make_pki(&["localhost"]), make_pki(&["localhost"]));
    let volume = SecretVolume::new(test, &server_files(&old));
    let (child, port) = start_https_gateway(&volume, interval).await;
    (old, new, volume, child, port)
}

/// An HTTP/1.1 connection over TLS to the gateway, and the leaf certificate it was shown.
struct TlsConnection {
    leaf: CertificateDer<'static>,
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

/// Connects trusting every CA in `cas` (the old and the new certificate's).
async fn connect(port: u16, cas: &[&TestPki]) -> TlsConnection {
    let mut roots = rustls::RootCertStore::empty();
    for pki in cas {
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
            .unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    TlsConnection { leaf, sender }
}

impl TlsConnection {
    /// GET `path` on this connection (kept alive): the status and the body.
    async fn get(&mut self, path: &str) -> (u16, String) {
        let request = http::Request::get(path)
            .header("host", "localhost")
            .header("authorization", "Basic YWRtaW46cGFzc3dvcmQ=")
            .body(Empty::new())
            .unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// Connects until the gateway shows `expected` as its leaf, or panics at the deadline.
async fn wait_for_leaf(port: u16, cas: &[&TestPki], expected: &CertificateDer<'static>) {
    let deadline = tokio::time::Instant::now() + RELOAD_DEADLINE;
    while connect(port, cas).await.leaf != *expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections never saw the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the sample `line_start` (metric name and labels) in `/metrics`, 0 if absent.
async fn metric(port: u16, cas: &[&TestPki], line_start: &str) -> f64 {
    let (status, text) = connect(port, cas).await.get("/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until the metric sample reaches `expected`, or panics at the deadline.
async fn wait_for_metric(port: u16, cas: &[&TestPki], line_start: &str, expected: f64) {
    let deadline = tokio::time::Instant::now() + RELOAD_DEADLINE;
    loop {
        let value = metric(port, cas, line_start).await;
        if value == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{line_start} stayed {value}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SERVER_SUCCESS: &str =
    r#"cupi_gateway_tls_reloads_total{files="server_certificate",result="success"}"#;
const SERVER_FAILURE: &str =
    r#"cupi_gateway_tls_reloads_total{files="server_certificate",result="failure"}"#;

#[tokio::test]
async fn a_symlink_swap_reaches_new_connections_by_polling_and_open_ones_keep_working() {
    let (old, new, mut volume, child, port) = start_rotation("poll", "1s").await;
    let both = [&old, &new];

    let mut kept_alive = connect(port, &both).await;
    assert_eq!(kept_alive.leaf, leaf_der(&old));
    assert_eq!(kept_alive.get("/vmrest/ports").await.0, 200);

    volume.swap(&server_files(&new));
    wait_for_leaf(port, &both, &leaf_der(&new)).await;

    // The connection made before the swap was not dropped: it still serves requests, on the
    // session it made with the old certificate.
    let (status, body) = kept_alive.get("/vmrest/ports").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(kept_alive.leaf, leaf_der(&old));

    assert_eq!(metric(port, &both, SERVER_SUCCESS).await, 1.0);
    let expiry = metric(
        port,
        &both,
        r#"cupi_gateway_tls_certificate_expiry_timestamp_seconds{files="server_certificate"}"#,
    )
    .await;
    assert!(expiry > 0.0, "no expiry gauge for the served certificate");

    let (exited_cleanly, log) = binary::terminate(child).await;
    assert!(exited_cleanly, "{log}");
    assert!(log.contains("loaded new TLS files"), "{log}");
}

#[tokio::test]
async fn sighup_applies_a_swap_without_waiting_for_a_poll() {
    // Polling off: only the signal can apply the swap.
    let (old, new, mut volume, child, port) = start_rotation("sighup", "0s").await;
    let both = [&old, &new];

    volume.swap(&server_files(&new));
    assert_eq!(connect(port, &both).await.leaf, leaf_der(&old));

    binary::signal(&child, "HUP");
    // The signal is handled by the gateway's own task, so the first connection after `kill`
    // may still beat the reload: loop, bounded by the deadline.
    wait_for_leaf(port, &both, &leaf_der(&new)).await;

    // SIGHUP did not stop the process, and a second one with nothing new reloads nothing.
    binary::signal(&child, "HUP");
    let (status, _) = connect(port, &both).await.get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(metric(port, &both, SERVER_SUCCESS).await, 1.0);
    let (exited_cleanly, log) = binary::terminate(child).await;
    assert!(exited_cleanly, "{log}");
    assert_eq!(
        log.matches("SIGHUP: re-reading TLS files").count(),
        2,
        "{log}"
    );
    assert_eq!(log.matches("loaded new TLS files").count(), 1, "{log}");
}

#[tokio::test]
async fn a_pair_that_does_not_load_changes_nothing_and_is_logged() {
    let (old, new, mut volume, child, port) = start_rotation("broken", "0s").await;
    let both = [&old, &new];

    // The new certificate with the old key.
    volume.swap(&[("tls.crt", &new.leaf_pem), ("tls.key", &old.leaf_key_pem)]);
    binary::signal(&child, "HUP");
    wait_for_metric(port, &both, SERVER_FAILURE, 1.0).await;
    assert_eq!(connect(port, &both).await.leaf, leaf_der(&old));

    // A certificate file that is not PEM (cut off half-way through being written).
    let half = &new.leaf_pem[..new.leaf_pem.len() / 2];
    volume.swap(&[("tls.crt", half), ("tls.key", &new.leaf_key_pem)]);
    binary::signal(&child, "HUP");
    wait_for_metric(port, &both, SERVER_FAILURE, 2.0).await;
    let mut still_old = connect(port, &both).await;
    assert_eq!(still_old.leaf, leaf_der(&old));
    assert_eq!(still_old.get("/vmrest/ports").await.0, 200);

    // The writer finishes: the complete pair loads.
    volume.swap(&server_files(&new));
    binary::signal(&child, "HUP");
    wait_for_leaf(port, &both, &leaf_der(&new)).await;

    let (exited_cleanly, log) = binary::terminate(child).await;
    assert!(exited_cleanly, "{log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("do not load"))
        .collect();
    assert_eq!(warnings.len(), 2, "{log}");
    for warning in &warnings {
        assert!(warning.contains(&volume.arg("tls.crt")), "{warning}");
        assert!(warning.contains(&volume.arg("tls.key")), "{warning}");
    }
    assert!(
        warnings[0].contains("is not the key of the certificate"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("cannot read") && warnings[1].contains("tls.crt"),
        "{}",
        warnings[1]
    );
}

#[tokio::test]
async fn an_upstream_ca_swap_makes_the_new_upstream_certificate_verify() {
    let (old_ca, new_upstream) = (make_pki(&["localhost"]), make_pki(&["localhost"]));
    let upstream_port = crate::support::tls::tls_upstream(&new_upstream).await;
    let mut volume = SecretVolume::new("upstream-ca", &[("ca.crt", &old_ca.ca_pem)]);
    let upstream = format!("https://localhost:{upstream_port}");
    let (child, base, _) = binary::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--upstream-ca-file",
            &volume.arg("ca.crt"),
            "--tls-reload-interval",
            "0s",
        ],
        &[],
        "/healthz",
    )
    .await;

    let expiry = r#"cupi_gateway_tls_certificate_expiry_timestamp_seconds{files="upstream_ca"}"#;
    assert!(
        crate::support::metric(&base, expiry).await > 0.0,
        "no CA expiry gauge at start-up"
    );

    // The upstream's certificate is signed by a CA the file does not hold yet.
    let response = crate::support::get(&format!("{base}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        crate::support::error_code(response).await,
        "upstream_tls_error"
    );

    volume.swap(&[("ca.crt", &new_upstream.ca_pem)]);
    binary::signal(&child, "HUP");
    let deadline = tokio::time::Instant::now() + RELOAD_DEADLINE;
    loop {
        let status = crate::support::get(&format!("{base}/vmrest/ports"))
            .await
            .status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 502);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new CA was never used"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reloaded = crate::support::metric(
        &base,
        r#"cupi_gateway_tls_reloads_total{files="upstream_ca",result="success"}"#,
    )
    .await;
    assert_eq!(reloaded, 1.0);
    let (exited_cleanly, log) = binary::terminate(child).await;
    assert!(exited_cleanly, "{log}");
}

#[tokio::test]
async fn sighup_does_not_stop_a_gateway_with_nothing_to_reload() {
    let (child, base, _) = binary::start(&["--listen", "127.0.0.1:0"], &[], "/healthz").await;
    binary::signal(&child, "HUP");
    assert_eq!(
        crate::support::get(&format!("{base}/healthz"))
            .await
            .status(),
        200
    );
    // SIGHUP's default action would have ended the process already: it would not be there to
    // take the SIGTERM and exit cleanly.
    let (exited_cleanly, log) = binary::terminate(child).await;
    assert!(exited_cleanly, "{log}");
    assert!(log.contains("SIGHUP"), "{log}");
}
