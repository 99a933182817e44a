//! Inbound TLS: the acceptor for `--tls-cert`/`--tls-key` (HTTP/2 and HTTP/1.1 by ALPN, the
//! ring provider only, its certificate replaceable by [`crate::tls_reload`]) and the handshake
//! every connection makes before it is served.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::tls_reload::{not_after, Current, Reload, UnreadableFile, WatchedFiles};

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
) -> Result<(TlsAcceptor, Arc<ServingCertificate>, WatchedFiles), ServerTlsError> {
    let (serving, files) = ServingCertificate::load(cert, key)?;
    let serving = Arc::new(serving);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(serving.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), serving, files))
}

/// The gateway's own certificate and key, as each new client handshake finds them.
#[derive(Debug)]
pub(crate) struct ServingCertificate {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: Current<CertifiedKey>,
}

impl ServingCertificate {
    /// Loads `cert` (PEM chain, leaf first) and `key` (PEM private key).
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<(Self, WatchedFiles), ServerTlsError> {
        let (files, contents) =
            WatchedFiles::read(&[cert, key]).map_err(|UnreadableFile { path, source }| {
                ServerTlsError::Read {
                    path,
                    source: pem::Error::Io(source),
                }
            })?;
        let certified = certified_key(cert, &contents[0], key, &contents[1])?;
        let serving = ServingCertificate {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            current: Current::new(certified),
        };
        let expiry = serving.chain().first().and_then(|leaf| not_after(leaf));
        Ok((serving, files.expiring_at(expiry)))
    }

    /// The certificate served now, leaf first.
    pub(crate) fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current.get().cert.clone()
    }
}

impl ResolvesServerCert for ServingCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.get())
    }
}

/// The chain in `cert_pem` with the key in `key_pem`, refused if the key is not the leaf's.
fn certified_key(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<CertifiedKey, ServerTlsError> {
    let read = |path: &Path| {
        let path = path.to_owned();
        move |source| ServerTlsError::Read { path, source }
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(read(cert_path))?;
    if chain.is_empty() {
        return Err(ServerTlsError::NoCertificate(cert_path.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(read(key_path))?;
    CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider()).map_err(|error| {
        match error {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                ServerTlsError::KeyMismatch {
                    cert: cert_path.to_owned(),
                    key: key_path.to_owned(),
                }
            }
            other => ServerTlsError::Config(other),
        }
    })
}

impl Reload for ServingCertificate {
    fn label(&self) -> &'static str {
        "server_certificate"
    }

    fn reload(&self, contents: &[Vec<u8>]) -> Result<Option<i64>, String> {
        let [cert_pem, key_pem] = contents else {
            return Err("expected a certificate and a key".into());
        };
        let certified = certified_key(&self.cert_path, cert_pem, &self.key_path, key_pem)
            .map_err(|error| error.to_string())?;
        let expiry = certified.cert.first().and_then(|leaf| not_after(leaf));
        self.current.set(certified);
        Ok(expiry)
    }
}
