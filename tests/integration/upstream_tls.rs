//! The upstream over HTTPS: a test CA and a TLS server made here with rcgen and tokio-rustls.

use crate::support::pki::make_pki;
use crate::support::tls::tls_upstream;
use crate::support::*;
use cupi_gateway::upstream::tls::TlsVerification;

fn write_ca(ca_pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "cupi-gateway-test-ca-{}-{}.pem",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&path, ca_pem).unwrap();
    path
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A gateway whose CA file holds `ca_pem`; the file is read at start-up and removed after.
async fn gateway_trusting(origin: &str, ca_pem: &str) -> String {
    let path = write_ca(ca_pem);
    let gateway = gateway_for(origin, TlsVerification::CaFile(path.clone())).await;
    std::fs::remove_file(&path).unwrap();
    gateway
}

async fn gateway_for(origin: &str, verification: TlsVerification) -> String {
    start_gateway(
        origin,
        GatewayOptions {
            verification,
            ..GatewayOptions::default()
        },
    )
    .await
}

#[tokio::test]
async fn ca_file_makes_an_internal_ca_trusted() {
    let pki = make_pki(&["localhost"]);
    let port = tls_upstream(&pki).await;
    let gateway = gateway_trusting(&format!("https://localhost:{port}"), &pki.ca_pem).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(response).await,
        serde_json::json!({"@total": 0, "Port": []})
    );
}

#[tokio::test]
async fn unknown_ca_is_a_tls_error() {
    let pki = make_pki(&["localhost"]);
    let port = tls_upstream(&pki).await;
    // The CA file holds a different CA than the one that signed the server's certificate.
    let other = make_pki(&["localhost"]);
    let gateway = gateway_trusting(&format!("https://localhost:{port}"), &other.ca_pem).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_tls_error");
}

#[tokio::test]
async fn wrong_name_is_a_tls_error() {
    let pki = make_pki(&["cuc.example.com"]);
    let port = tls_upstream(&pki).await;
    let gateway = gateway_trusting(&format!("https://localhost:{port}"), &pki.ca_pem).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_tls_error");
}

#[tokio::test]
async fn skipping_verification_accepts_any_certificate() {
    let pki = make_pki(&["cuc.example.com"]);
    let port = tls_upstream(&pki).await;
    let gateway = gateway_for(
        &format!("https://127.0.0.1:{port}"),
        TlsVerification::Disabled,
    )
    .await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
}

#[test]
fn unreadable_or_empty_ca_file_fails_at_start_up() {
    use cupi_gateway::upstream::tls::{client_config, TlsConfigError};
    let missing = client_config(&TlsVerification::CaFile("/nonexistent/ca.pem".into()));
    assert!(matches!(missing, Err(TlsConfigError::CaFile { .. })));
    let empty = std::env::temp_dir().join(format!("cupi-gateway-empty-{}.pem", rand_suffix()));
    std::fs::write(&empty, "not a certificate\n").unwrap();
    assert!(matches!(
        client_config(&TlsVerification::CaFile(empty.clone())),
        Err(TlsConfigError::EmptyCaFile(_))
    ));
    std::fs::remove_file(&empty).unwrap();
}
