//! Certificates that change under a running gateway: `--tls-cert`/`--tls-key` and
//! `--upstream-ca-file` are re-read without a restart.
//!
//! cert-manager and Kubernetes secret volumes renew a certificate by writing a new directory
//! and swapping a `..data` symlink to it, so the file the gateway opened at start-up is never
//! rewritten: its path simply resolves to another file. An inotify watch on the old file's
//! inode would see nothing, so the paths themselves are polled (every `--tls-reload-interval`,
//! following symlinks): when a file's identity, size or modification time changes, the files
//! are read again and, if their content differs from what is loaded, loaded. SIGHUP reads them
//! at once. The files are small and few; polling needs no dependency and sees every kind of
//! replacement (symlink swap, rename, rewrite in place).
//!
//! Whatever is loaded sits behind a lock holding an `Arc`: each new TLS handshake takes the
//! current one (the server's `ServingCertificate` for clients,
//! [`crate::upstream::tls::ReloadingVerifier`] for the upstream), and connections already open
//! keep the session they made. Those sets are the server's and the upstream's: each
//! implements [`Reload`] and is handed to the [`Reloader`] with its [`WatchedFiles`], so this
//! module knows files, stamps and expiry, never what a set is. A new set that does not load (bad PEM,
//! a key that is not the certificate's, a file caught half-written) is logged as a warning with
//! its paths and reason, counted in `cupi_gateway_tls_reloads_total{result="failure"}`, and the
//! old one stays; a writer that finishes later changes the files again, and they are retried.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::metrics::Metrics;

/// The most bytes read of one certificate, key or CA file: real ones are a few KiB, and a
/// path pointed at something endless must not fill memory.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A value a TLS handshake reads and a reload replaces; readers hold their `Arc` while they
/// use it, so a swap never waits for a handshake.
#[derive(Debug)]
pub(crate) struct Current<T>(RwLock<Arc<T>>);

impl<T> Current<T> {
    pub(crate) fn new(value: T) -> Self {
        Current(RwLock::new(Arc::new(value)))
    }

    pub(crate) fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

/// What can be reloaded: the label it is counted under, and how new file contents (in the
/// order of its [`WatchedFiles::paths`]) replace what it holds.
pub(crate) trait Reload: Send + Sync {
    fn label(&self) -> &'static str;
    /// Loads `contents`, or says why not; on success, the earliest not-after of what it loaded.
    fn reload(&self, contents: &[Vec<u8>]) -> Result<Option<i64>, String>;
}

/// A file of a set that could not be read when it was first loaded.
#[derive(Debug)]
pub(crate) struct UnreadableFile {
    pub(crate) path: PathBuf,
    pub(crate) source: std::io::Error,
}

/// The paths of one reloadable set and what was last seen of them.
#[derive(Debug)]
pub struct WatchedFiles {
    paths: Vec<PathBuf>,
    /// The files' metadata when they were last read; a change means "read them again".
    stamp: Vec<Option<FileStamp>>,
    /// The hash of the contents loaded now; the same contents again (a `touch`, a swap to an
    /// identical copy) are not a reload.
    loaded: u64,
    /// When what was loaded at start-up expires, in Unix seconds, for the expiry gauge.
    not_after: Option<i64>,
}

/// What identifies a version of a file without reading it: a symlink swap changes the inode,
/// a rewrite in place the size or the modification time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileStamp {
    /// The stamps of `paths` (following symlinks); `None` for a file that cannot be statted
    /// (missing mid-swap), which differs from every stamp of a file that can.
    fn of_all(paths: &[impl AsRef<Path>]) -> Vec<Option<FileStamp>> {
        paths
            .iter()
            .map(|path| {
                let metadata = std::fs::metadata(path).ok()?;
                Some(FileStamp {
                    len: metadata.len(),
                    modified: metadata.modified().ok(),
                    #[cfg(unix)]
                    inode: {
                        use std::os::unix::fs::MetadataExt;
                        (metadata.dev(), metadata.ino())
                    },
                })
            })
            .collect()
    }
}

/// What one look at a set of files came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing changed, or the files changed to what is loaded already.
    Unchanged,
    /// New contents loaded.
    Loaded,
    /// New contents that do not load; the old ones stay.
    Failed,
}

/// One reloadable set: its files and what they feed.
struct Watch {
    files: WatchedFiles,
    target: Arc<dyn Reload>,
}

impl Watch {
    /// Reloads the set if its files changed; `forced` (SIGHUP) reads them even if their
    /// metadata did not change.
    fn check(&mut self, forced: bool, metrics: &Metrics) -> Outcome {
        // Stamped before reading: a file replaced while it is read is stamped anew next time.
        let stamp = FileStamp::of_all(&self.files.paths);
        if !forced && stamp == self.files.stamp {
            return Outcome::Unchanged;
        }
        self.files.stamp = stamp;
        let label = self.target.label();
        let paths = self.files.display_paths();
        let contents = match self.read_all() {
            Ok(contents) => contents,
            Err(reason) => return self.failed(metrics, &paths, &reason),
        };
        let hash = content_hash(&contents);
        if hash == self.files.loaded {
            tracing::debug!(files = %paths, "TLS files unchanged");
            return Outcome::Unchanged;
        }
        match self.target.reload(&contents) {
            Ok(not_after) => {
                self.files.loaded = hash;
                metrics.tls_reloaded(label, "success");
                if let Some(not_after) = not_after {
                    metrics.tls_expires_at(label, not_after);
                }
                tracing::info!(files = %paths, %label, "loaded new TLS files");
                Outcome::Loaded
            }
            Err(reason) => self.failed(metrics, &paths, &reason),
        }
    }

    fn failed(&self, metrics: &Metrics, paths: &str, reason: &str) -> Outcome {
        let label = self.target.label();
        metrics.tls_reloaded(label, "failure");
        tracing::warn!(
            files = %paths,
            %label,
            reason,
            "new TLS files do not load: keeping the ones loaded before"
        );
        Outcome::Failed
    }

    fn read_all(&self) -> Result<Vec<Vec<u8>>, String> {
        self.files
            .paths
            .iter()
            .map(|path| {
                read_bounded(path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))
            })
            .collect()
    }
}

impl WatchedFiles {
    /// Reads `paths` whole (stamped first, as every later look is): the set to watch, with
    /// what was read as what is loaded, and the contents in the order of `paths`; or the path
    /// that could not be read, and why.
    pub(crate) fn read(paths: &[&Path]) -> Result<(Self, Vec<Vec<u8>>), UnreadableFile> {
        let stamp = FileStamp::of_all(paths);
        let contents = paths
            .iter()
            .map(|path| {
                read_bounded(path).map_err(|source| UnreadableFile {
                    path: path.to_path_buf(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let files = WatchedFiles {
            paths: paths.iter().map(|path| path.to_path_buf()).collect(),
            stamp,
            loaded: content_hash(&contents),
            not_after: None,
        };
        Ok((files, contents))
    }

    /// The set, with when what was loaded from it expires (Unix seconds), for the gauge.
    pub(crate) fn expiring_at(self, not_after: Option<i64>) -> Self {
        WatchedFiles { not_after, ..self }
    }

    fn display_paths(&self) -> String {
        let paths: Vec<_> = self.paths.iter().map(|p| p.display().to_string()).collect();
        paths.join(", ")
    }
}

/// The reloadable sets of one gateway, and the metrics their reloads are counted in.
pub(crate) struct Reloader {
    watches: Vec<Watch>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("watches", &self.watches.len())
            .finish_non_exhaustive()
    }
}

impl Reloader {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Reloader {
            watches: Vec::new(),
            metrics,
        }
    }

    /// Watches one reloadable set: the server's certificate and key, the upstream CA file.
    pub(crate) fn watch(&mut self, target: Arc<dyn Reload>, files: WatchedFiles) {
        if let Some(not_after) = files.not_after {
            self.metrics.tls_expires_at(target.label(), not_after);
        }
        self.watches.push(Watch { files, target });
    }

    fn check_all(&mut self, forced: bool) {
        for watch in &mut self.watches {
            watch.check(forced, &self.metrics);
        }
    }

    /// Starts watching: polls every `interval` (never if it is zero) and reloads at once on
    /// SIGHUP. The SIGHUP handler is installed before this returns, so from then on SIGHUP
    /// never terminates the process, whether or not there is anything to reload.
    pub(crate) fn spawn(mut self, interval: Duration) {
        let mut hangups = hangup_signals();
        tokio::spawn(async move {
            let polling = !interval.is_zero() && !self.watches.is_empty();
            let mut ticks = polling.then(|| {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks
            });
            loop {
                let forced = tokio::select! {
                    _ = tick(&mut ticks) => false,
                    () = hangups.recv() => true,
                };
                if self.watches.is_empty() {
                    tracing::info!("SIGHUP: no TLS files are configured, nothing to reload");
                    continue;
                }
                if forced {
                    tracing::info!("SIGHUP: re-reading TLS files");
                }
                // Blocking file reads, but a few KiB each; on the blocking pool so a slow disk
                // never stalls a worker serving requests.
                self = tokio::task::spawn_blocking(move || {
                    self.check_all(forced);
                    self
                })
                .await
                .expect("a TLS reload does not panic");
            }
        });
    }
}

async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// SIGHUPs, one `recv` each; never any where there are no signals or they cannot be caught.
struct Hangups(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(signal) => Hangups(Some(signal)),
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGHUP: TLS files reload by polling only");
                Hangups(None)
            }
        }
    }
    #[cfg(not(unix))]
    Hangups()
}

impl Hangups {
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.0 {
            if signal.recv().await.is_some() {
                return;
            }
            self.0 = None;
        }
        std::future::pending().await
    }
}

/// Reads `path` whole, refusing one larger than [`MAX_FILE_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut contents = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut contents)?;
    if contents.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_BYTES} bytes: not a certificate or key file"),
        ));
    }
    Ok(contents)
}

fn content_hash(contents: &[impl AsRef<[u8]>]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for content in contents {
        content.as_ref().hash(&mut hasher);
    }
    hasher.finish()
}

/// The not-after time of an X.509 certificate (DER), in Unix seconds; `None` if it is not
/// where RFC 5280 puts it. Only the few fields before it are walked, never trusted for more:
/// the value feeds a gauge, and rustls has already accepted the certificate.
pub(crate) fn not_after(cert: &[u8]) -> Option<i64> {
    let (_, certificate, _) = der_element(cert)?;
    let (_, mut tbs, _) = der_element(certificate)?;
    let (tag, _, rest) = der_element(tbs)?;
    if tag == 0xa0 {
        tbs = rest; // the explicit [0] version
    }
    // serialNumber, signature, issuer, then validity.
    for _ in 0..3 {
        tbs = der_element(tbs)?.2;
    }
    let (_, validity, _) = der_element(tbs)?;
    let (_, _, after_not_before) = der_element(validity)?;
    let (tag, time, _) = der_element(after_not_before)?;
    der_time(tag, time)
}

/// One DER element at the start of `input`: (tag, contents, what follows).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, 0x18), as RFC 5280
/// requires them, in Unix seconds.
fn der_time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        digits
            .get(range)
            .map(|d| d.iter().fold(0i64, |n, &b| n * 10 + i64::from(b - b'0')))
    };
    let (year, rest) = match (tag, digits.len()) {
        // RFC 5280: a two-digit year below 50 is 20YY, else 19YY.
        (0x17, 12) => {
            let yy = number(0..2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (0x18, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| number(rest + 2 * i..rest + 2 * i + 2);
    let (month, day, hour, minute, second) =
        (field(0)?, field(1)?, field(2)?, field(3)?, field(4)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    use rcgen::{CertificateParams, KeyPair};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    fn self_signed(not_after: (i32, u8, u8)) -> (String, String) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cupi-gateway-tls-reload-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn not_after_reads_utc_and_generalized_times() {
        // 2049 is a UTCTime, 2050 on a GeneralizedTime (RFC 5280 4.1.2.5).
        for (date, unix) in [
            ((2049, 12, 31), 2_524_521_600),
            ((2050, 1, 1), 2_524_608_000),
        ] {
            let (pem, _) = self_signed(date);
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(not_after(&der), Some(unix), "{date:?}");
        }
        assert_eq!(not_after(b"\x30\x82\xff"), None);
        assert_eq!(not_after(&[]), None);
    }

    #[test]
    fn a_changed_pair_is_loaded_and_a_broken_one_is_not() {
        let dir = temp_dir("pair");
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        let (first_cert, first_key) = self_signed((2030, 1, 1));
        std::fs::write(&cert, &first_cert).unwrap();
        std::fs::write(&key, &first_key).unwrap();
        let (_, serving, files) = crate::server::reloading_tls_acceptor(&cert, &key).unwrap();
        let first_leaf = serving.chain()[0].clone();
        let metrics = Metrics::new(vec![]);
        let mut watch = Watch {
            files,
            target: serving.clone(),
        };
        assert_eq!(watch.check(false, &metrics), Outcome::Unchanged);
        assert_eq!(
            watch.check(true, &metrics),
            Outcome::Unchanged,
            "same contents"
        );

        // A new certificate with the old key: refused, the old pair stays.
        let (second_cert, second_key) = self_signed((2031, 1, 1));
        std::fs::write(&cert, &second_cert).unwrap();
        assert_eq!(watch.check(true, &metrics), Outcome::Failed);
        let mismatch = serving.reload(&[second_cert.clone().into(), first_key.clone().into()]);
        assert!(
            mismatch
                .as_ref()
                .unwrap_err()
                .contains("is not the key of the certificate"),
            "{mismatch:?}"
        );
        assert_eq!(serving.chain()[0], first_leaf);
        // Looked at again unchanged: not retried, not logged again.
        assert_eq!(watch.check(false, &metrics), Outcome::Unchanged);

        // Its key arrives: the pair loads.
        std::fs::write(&key, &second_key).unwrap();
        assert_eq!(watch.check(true, &metrics), Outcome::Loaded);
        assert_ne!(serving.chain()[0], first_leaf);

        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnot base64!\n").unwrap();
        assert_eq!(watch.check(true, &metrics), Outcome::Failed);
        std::fs::remove_file(&key).unwrap();
        assert_eq!(watch.check(false, &metrics), Outcome::Failed, "missing key");

        let text = metrics.encode();
        for line in [
            r#"cupi_gateway_tls_reloads_total{files="server_certificate",result="success"} 1"#,
            r#"cupi_gateway_tls_reloads_total{files="server_certificate",result="failure"} 3"#,
            // 2031-01-01, the pair loaded last.
            r#"cupi_gateway_tls_certificate_expiry_timestamp_seconds{files="server_certificate"} 1924992000"#,
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_endless_file_is_refused_not_read_whole() {
        let error = read_bounded(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    }
}
