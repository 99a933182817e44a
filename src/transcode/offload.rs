//! CPU-bound body work (transcoding, reading XML to validate it) off tokio's async workers.
//!
//! The work is linear, but for a body of a megabyte it still takes long enough to hold up
//! every other connection a worker serves, `/healthz` included, and a few such bodies at once
//! would hold up all of them. Above [`OFFLOAD_ABOVE`] bytes it runs on the blocking pool, as
//! streamed responses already do; the request's future only awaits it, so the request timeout
//! (applied around the whole `/vmrest` stack) still answers the client in time.

/// Bodies up to this size are worked on where they are: handing them over would cost more.
pub(super) const OFFLOAD_ABOVE: usize = 64 * 1024;

/// Runs `work` on a body of `size` bytes: inline when small, on the blocking pool otherwise.
/// A panic in `work` is a panic of the caller, as it would be inline.
pub(crate) async fn cpu_bound<T: Send + 'static>(
    size: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    if size <= OFFLOAD_ABOVE {
        return work();
    }
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Cancelled: only when the runtime shuts down, with no one left to answer.
            Err(cancelled) => std::panic::resume_unwind(Box::new(cancelled.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn large_work_leaves_the_async_worker() {
        let worker = std::thread::current().id();
        let small = cpu_bound(OFFLOAD_ABOVE, std::thread::current).await;
        let large = cpu_bound(OFFLOAD_ABOVE + 1, std::thread::current).await;
        assert_eq!(small.id(), worker);
        assert_ne!(large.id(), worker);
    }
}
