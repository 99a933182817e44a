//! The rustls client configuration for the upstream connection.
//!
//! Unity Connection servers usually present self-signed or internal-CA certificates, and the
//! usual client habit is to turn verification off. The gateway offers, in order of preference:
//! the system's roots (default), a CA file (PEM, replaces the system roots so only that CA is
//! trusted, and is re-read when it changes: [`crate::tls_reload`]), and, loudly logged, no
//! verification at all.
//!
//! Only the `ring` provider is linked: with two providers, rustls cannot pick a default and
//! panics, so every config here is built with an explicit provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

pub use crate::tls_reload::WatchedFiles;
use crate::tls_reload::{not_after, Current, Reload, UnreadableFile};

/// How the upstream's certificate is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsVerification {
    /// Against the operating system's trusted roots.
    #[default]
    SystemRoots,
    /// Against the CA certificates in this PEM file only.
    CaFile(PathBuf),
    /// Not at all. For lab servers only; logged as a warning at start-up.
    Disabled,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("CA file {0} holds no certificate")]
    EmptyCaFile(PathBuf),
    #[error("CA file {path} holds a certificate rustls rejects: {source}")]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("no trusted root certificates found on this system; pass a CA file instead")]
    NoSystemRoots,
    #[error("CA file {path} does not make a certificate verifier: {source}")]
    Verifier {
        path: PathBuf,
        #[source]
        source: rustls::client::VerifierBuilderError,
    },
    #[error("rustls refused the protocol versions: {0}")]
    Protocol(#[from] rustls::Error),
}

/// A CA file's verifier, which a [`crate::tls_reload::Reloader`] replaces when the file changes.
pub(crate) type CaFileWatch = (Arc<ReloadingVerifier>, WatchedFiles);

/// Builds the client config for `verification`. ALPN is left to the connector, which offers
/// HTTP/1.1 only (CUPI's protocol).
pub fn client_config(verification: &TlsVerification) -> Result<ClientConfig, TlsConfigError> {
    reloadable_client_config(verification).map(|(config, _)| config)
}

/// Like [`client_config`], and for a CA file, the verifier to replace when the file changes.
pub(crate) fn reloadable_client_config(
    verification: &TlsVerification,
) -> Result<(ClientConfig, Option<CaFileWatch>), TlsConfigError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match verification {
        TlsVerification::SystemRoots => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
        TlsVerification::CaFile(path) => {
            let (certificates, files) = ReloadingVerifier::load(path)?;
            let certificates = Arc::new(certificates);
            // "dangerous" only in that rustls cannot see inside it: it is webpki's verifier
            // over the CA file's roots, swapped whole when the file changes.
            let verifier = SignedBy {
                chain: ChainCheck::CaFile(certificates.clone()),
                provider,
            };
            let config = builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            return Ok((config, Some((certificates, files))));
        }
        TlsVerification::Disabled => {
            tracing::warn!(
                "UPSTREAM TLS CERTIFICATE VERIFICATION IS DISABLED: anyone on the network path can \
                 impersonate Unity Connection and read its credentials. Use a CA file instead."
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SignedBy {
                    chain: ChainCheck::Any,
                    provider,
                }))
                .with_no_client_auth()
        }
    };
    Ok((config, None))
}

/// For a plain-HTTP upstream, where TLS is never started: the connector still needs a config,
/// and one that trusts no certificate could never complete a handshake by accident.
pub(crate) fn trust_nothing_config() -> Result<ClientConfig, TlsConfigError> {
    Ok(
        ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    )
}

fn system_roots() -> Result<RootCertStore, TlsConfigError> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "skipped a system root certificate source");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "loaded system root certificates");
    if roots.is_empty() {
        return Err(TlsConfigError::NoSystemRoots);
    }
    Ok(roots)
}

/// webpki's verifier over the CA certificates in `pem`, the contents of the CA file `path`.
pub(crate) fn verifier_from_pem(
    path: &Path,
    pem: &[u8],
) -> Result<Arc<WebPkiServerVerifier>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|source| TlsConfigError::CaFile {
            path: path.into(),
            source,
        })?;
        roots
            .add(cert)
            .map_err(|source| TlsConfigError::BadCertificate {
                path: path.into(),
                source,
            })?;
    }
    if roots.is_empty() {
        return Err(TlsConfigError::EmptyCaFile(path.into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(ring::default_provider()))
        .build()
        .map_err(|source| TlsConfigError::Verifier {
            path: path.into(),
            source,
        })
}

/// Judges the upstream's certificate against the CA file as it was last loaded: a new
/// upstream connection checks against the new CA, pooled ones stay until they close.
#[derive(Debug)]
pub struct ReloadingVerifier {
    path: PathBuf,
    current: Current<Arc<WebPkiServerVerifier>>,
}

impl ReloadingVerifier {
    /// Loads the CA certificates in `path` (PEM).
    pub fn load(path: &Path) -> Result<(Self, WatchedFiles), TlsConfigError> {
        let (files, contents) =
            WatchedFiles::read(&[path]).map_err(|UnreadableFile { path, source }| {
                TlsConfigError::CaFile {
                    path,
                    source: pem::Error::Io(source),
                }
            })?;
        let pem = &contents[0];
        let verifier = ReloadingVerifier {
            path: path.to_owned(),
            current: Current::new(verifier_from_pem(path, pem)?),
        };
        Ok((verifier, files.expiring_at(ca_not_after(pem))))
    }

    /// The verifier over the CA file's roots as last loaded.
    pub fn current(&self) -> Arc<WebPkiServerVerifier> {
        (*self.current.get()).clone()
    }
}

impl Reload for ReloadingVerifier {
    fn label(&self) -> &'static str {
        "upstream_ca"
    }

    fn reload(&self, contents: &[Vec<u8>]) -> Result<Option<i64>, String> {
        let [pem] = contents else {
            return Err("expected one CA file".into());
        };
        let verifier = verifier_from_pem(&self.path, pem).map_err(|error| error.to_string())?;
        self.current.set(verifier);
        Ok(ca_not_after(pem))
    }
}

/// The earliest not-after of the CA certificates in `pem`, in Unix seconds.
fn ca_not_after(pem: &[u8]) -> Option<i64> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(|cert| not_after(&cert.ok()?))
        .min()
}

/// How the upstream's certificate chain is judged, apart from the handshake's signatures.
#[derive(Debug)]
enum ChainCheck {
    /// Any chain is accepted (`--upstream-insecure-skip-verify`).
    Any,
    /// By webpki, against the CA file as last loaded.
    CaFile(Arc<ReloadingVerifier>),
}

/// A verifier that judges the certificate by `chain` and checks that the handshake is
/// signed by the key in the certificate presented (with the provider's algorithms, as webpki's
/// own verifier does), so the session is bound to that certificate whatever the check.
#[derive(Debug)]
struct SignedBy {
    chain: ChainCheck,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SignedBy {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.chain {
            ChainCheck::Any => Ok(ServerCertVerified::assertion()),
            ChainCheck::CaFile(ca) => {
                ca.current()
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
