//! Inbound TLS in tests: the gateway's acceptor for a [`TestPki`] leaf, loaded through the
//! same `tls_acceptor` the binary uses (from PEM files), and a client config trusting its CA.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::pki::TestPki;

/// An acceptor serving `pki`'s leaf certificate, as `--tls-cert`/`--tls-key` would.
pub fn acceptor(pki: &TestPki) -> cupi_gateway::server::TlsAcceptor {
    let dir = std::env::temp_dir().join(format!(
        "cupi-gateway-tls-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.leaf_pem).unwrap();
    std::fs::write(&key, &pki.leaf_key_pem).unwrap();
    let acceptor = cupi_gateway::server::tls_acceptor(&cert, &key).expect("certificate loads");
    std::fs::remove_dir_all(&dir).unwrap();
    acceptor
}

/// A client configuration (ring provider only) that trusts `ca_pem` and nothing else.
pub fn client_config(ca_pem: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}
