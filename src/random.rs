//! Random bytes for ids, from the operating system a pool at a time.
//!
//! Every request gets a request id and a trace and span id: 40 random bytes. Asking the
//! kernel for each id is a `getrandom` system call, three per request, each about as dear as
//! the gateway's own work on a header. Each thread instead keeps a pool of [`POOL`] bytes,
//! refilled by one call when spent; every byte is the kernel's and is handed out once.
//!
//! Should the operating system's source ever fail, ids still differ and are hard to guess:
//! std's hasher keys are seeded randomly per process, and each fill hashes a fresh counter.
//!
//! # Example
//!
//! ```
//! let mut id = [0u8; 16];
//! cupi_gateway::random::fill(&mut id);
//! let mut other = [0u8; 16];
//! cupi_gateway::random::fill(&mut other);
//! assert_ne!(id, other);
//! ```

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes drawn per system call: one call for about a dozen requests.
const POOL: usize = 512;

struct Pool {
    bytes: [u8; POOL],
    /// Bytes before this index have been handed out.
    used: usize,
}

thread_local! {
    static POOL_OF_THIS_THREAD: RefCell<Pool> = const {
        RefCell::new(Pool { bytes: [0; POOL], used: POOL })
    };
}

/// Fills `out` with random bytes no other caller gets.
pub fn fill(out: &mut [u8]) {
    if out.len() > POOL {
        return fill_from_os(out);
    }
    POOL_OF_THIS_THREAD.with_borrow_mut(|pool| {
        if POOL - pool.used < out.len() {
            fill_from_os(&mut pool.bytes);
            pool.used = 0;
        }
        let taken = &mut pool.bytes[pool.used..pool.used + out.len()];
        out.copy_from_slice(taken);
        // Handed out once: what stays in the pool is no copy of an id in use.
        taken.fill(0);
        pool.used += out.len();
    });
}

fn fill_from_os(out: &mut [u8]) {
    if getrandom::fill(out).is_err() {
        fallback(out);
    }
}

fn fallback(out: &mut [u8]) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    for chunk in out.chunks_mut(8) {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let word = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_fills_differ_across_refills() {
        // More draws than one pool holds, so the refill is crossed.
        let draws: Vec<[u8; 24]> = (0..3 * POOL / 24)
            .map(|_| {
                let mut id = [0u8; 24];
                fill(&mut id);
                id
            })
            .collect();
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert_eq!(distinct.len(), draws.len());
        assert!(draws.iter().all(|id| *id != [0; 24]));
    }

    #[test]
    fn the_fallback_differs_from_call_to_call() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        fallback(&mut a);
        fallback(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn a_fill_larger_than_the_pool_is_served_too() {
        let mut big = [0u8; POOL + 1];
        fill(&mut big);
        assert!(big.iter().any(|b| *b != 0));
    }
}
