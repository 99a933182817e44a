//! The gateway's side of inbound TLS in tests: an acceptor for a [`TestPki`] leaf, loaded
//! through the same `tls_acceptor` the binary uses (from PEM files).

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
