//! A warning at start-up when the process may open fewer files than `--max-connections` needs.
//!
//! Past its file-descriptor limit the gateway cannot accept at all, not even `/healthz`, so
//! a connection cap above that limit does not protect anything. The limit is read from
//! `/proc/self/limits` (the crate forbids `unsafe`, and so `getrlimit`); where that file does
//! not exist, nothing is checked.

/// Descriptors the gateway needs beside its clients' connections: the listener, upstream
/// connections, the embedded simulator and its connections, logs.
const HEADROOM: u64 = 64;

/// Warns when the soft limit on open files is below `max_connections` plus some headroom.
pub(super) fn warn_if_too_few(max_connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let Some(soft_limit) = soft_open_files(&limits) else {
        return;
    };
    let needed = max_connections as u64 + HEADROOM;
    if soft_limit < needed {
        tracing::warn!(
            soft_limit,
            max_connections,
            "the open-file limit (ulimit -n) is below --max-connections plus {HEADROOM}: the \
             gateway may run out of descriptors before the cap is reached; raise the limit or \
             lower --max-connections"
        );
    }
}

/// The soft limit of the `Max open files` line; `None` when it is unlimited or unreadable.
fn soft_open_files(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            256                  524288               files     \n";
        assert_eq!(soft_open_files(limits), Some(256));
        assert_eq!(
            soft_open_files("Max open files  unlimited  unlimited  files"),
            None
        );
        assert_eq!(soft_open_files(""), None);
    }
}
