//! One byte budget for every body the gateway holds in memory at once.
//!
//! Each layer that reads a body whole or in part (validation, transcoding, coalescing, the
//! buffering before an upstream slot) bounds that one body; without a bound on their sum, a few
//! hundred clients that each send most of an allowed body and then stall grow the process by
//! hundreds of megabytes. [`BodyBudget`] is that sum's bound: a buffer reserves its bytes here
//! before it grows, and gives them back when its last reference is dropped (the forwarded
//! request is done, or the connection went away). Past the budget a body waits briefly for
//! others to finish, then is refused with 503 `body_budget_exhausted` and `Retry-After`, rather
//! than take more memory.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use cupi_gateway::budget::BodyBudget;
//!
//! let metrics = cupi_gateway::metrics::Metrics::new(vec![]);
//! let budget = BodyBudget::new(1024, &metrics);
//! let mut held = budget.empty();
//! budget.reserve(&mut held, 1000).await.unwrap();
//! assert_eq!(budget.in_use(), 1000);
//! assert!(budget.reserve(&mut held, 100).await.is_err()); // 1100 > 1024
//! assert!(!budget.try_reserve(&mut held, 100)); // the same, without the wait
//! drop(held);
//! assert_eq!(budget.in_use(), 0);
//! # });
//! ```

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::GatewayError;
use crate::metrics::Metrics;

/// How long a body waits for budget before it is refused: long enough for a burst of ordinary
/// requests ahead of it to finish, short enough that a client learns quickly to come back.
const BUDGET_WAIT: Duration = Duration::from_secs(1);

/// How much memory buffered bodies may take together, and how slowly a client may send one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodySettings {
    /// Bytes all buffered request and response bodies may hold at once (`--body-budget`).
    pub budget: usize,
    /// The minimum rate and idle gap of client request bodies.
    pub request_rate: crate::body_rate::BodyRate,
}

impl Default for BodySettings {
    /// 256 MiB: four of the largest responses read whole (`--max-response-body`, 64 MiB), or
    /// 256 of the largest request bodies, in a process that otherwise needs a few tens of MiB.
    fn default() -> Self {
        BodySettings {
            budget: 256 * 1024 * 1024,
            request_rate: crate::body_rate::BodyRate::default(),
        }
    }
}

/// The gateway-wide budget; clones share it.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
    in_use: Gauge,
}

/// Bytes of the budget held by one buffer; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
    in_use: Gauge,
}

impl BodyBudget {
    /// A budget of `total` bytes, shown as `body_budget_bytes_in_use` in `metrics`.
    pub fn new(total: usize, metrics: &Metrics) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
            in_use: metrics.body_budget_in_use.clone(),
        }
    }

    /// A reservation of nothing yet, to grow with [`BodyBudget::reserve`].
    pub fn empty(&self) -> Reservation {
        Reservation {
            permit: None,
            in_use: self.in_use.clone(),
        }
    }

    /// Adds `bytes` to `held`, waiting up to [`BUDGET_WAIT`] for them to be free
    /// (503 `body_budget_exhausted` if they are not).
    pub async fn reserve(&self, held: &mut Reservation, bytes: usize) -> Result<(), GatewayError> {
        if bytes == 0 {
            return Ok(());
        }
        let exhausted = GatewayError::BodyBudgetExhausted {
            retry_after: BUDGET_WAIT,
        };
        // A single growth beyond u32 (4 GiB) or the whole budget could never be granted.
        let Ok(count) = u32::try_from(bytes) else {
            return Err(exhausted);
        };
        if bytes > self.total {
            return Err(exhausted);
        }
        let permit = match self.bytes.clone().try_acquire_many_owned(count) {
            Ok(permit) => permit,
            // Boxed where reached: a rare wait (`middleware`: the future's size).
            Err(TryAcquireError::NoPermits) => match Box::pin(self.wait_for(count)).await {
                Some(permit) => permit,
                None => return Err(exhausted),
            },
            Err(TryAcquireError::Closed) => return Err(exhausted),
        };
        held.add(permit);
        Ok(())
    }

    /// Adds `bytes` to `held` if they are free now: `false`, and nothing held, if not. For a
    /// buffer that has another way to go on (a large answer that can stream instead).
    pub fn try_reserve(&self, held: &mut Reservation, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let Ok(count) = u32::try_from(bytes) else {
            return false;
        };
        let Ok(permit) = self.bytes.clone().try_acquire_many_owned(count) else {
            return false;
        };
        held.add(permit);
        true
    }

    /// `count` bytes once they are free, if that is within [`BUDGET_WAIT`].
    async fn wait_for(&self, count: u32) -> Option<OwnedSemaphorePermit> {
        let wait = self.bytes.clone().acquire_many_owned(count);
        tokio::time::timeout(BUDGET_WAIT, wait).await.ok()?.ok()
    }

    /// Bytes reserved now, by every buffer together.
    pub fn in_use(&self) -> usize {
        self.total - self.bytes.available_permits()
    }
}

impl Reservation {
    fn add(&mut self, permit: OwnedSemaphorePermit) {
        let count = i64::try_from(permit.num_permits()).unwrap_or(i64::MAX);
        self.in_use.inc_by(count);
        match &mut self.permit {
            Some(permits) => permits.merge(permit),
            None => self.permit = Some(permit),
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(permit) = &self.permit {
            let held = i64::try_from(permit.num_permits()).unwrap_or(i64::MAX);
            self.in_use.dec_by(held);
        }
    }
}
