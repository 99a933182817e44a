//! Inbound TLS: the acceptor for `--tls-cert`/`--tls-key` (HTTP/2 and HTTP/1.1 by ALPN, the
//! ring provider only, its certificate replaceable by [`crate::tls_reload`]) and the handshake
//! every connection makes before it is served.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

pub use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's stream through the TLS handshake; `None` when the handshake failed or timed
/// out.
pub(super) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        _ => None,
    }
}

/// Why the inbound TLS certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(std::path::PathBuf),
    #[error("the private key in {key} is not the key of the certificate in {cert}")]
    KeyMismatch {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS acceptor for `cert` (PEM chain, leaf first) and `key` (PEM private key), offering
/// HTTP/2 and HTTP/1.1 by ALPN, with the ring provider only. It serves the pair as loaded now;
/// [`reloading_tls_acceptor`] is the one whose pair can be replaced.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, ServerTlsError> {
    reloading_tls_acceptor(cert, key).map(|(acceptor, _, _)| acceptor)
}

/// Like [`tls_acceptor`], with the certificate every new handshake takes and the files it
/// came from, for a [`crate::tls_reload::Reloader`] to replace it from.
pub(crate) fn reloading_tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<
    (
        TlsAcceptor,
        Arc<crate::tls_reload::ServingCertificate>,
        crate::tls_reload::WatchedFiles,
    ),
    ServerTlsError,
> {
    let (serving, files) = crate::tls_reload::ServingCertificate::load(cert, key)?;
    let serving = Arc::new(serving);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(serving.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), serving, files))
}
