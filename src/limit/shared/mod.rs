//! One upstream budget for every replica: the slots of `--upstream-max-concurrency` held as
//! leases in Redis (`--upstream-limit-redis`), so that three sidecars in front of one Unity
//! Connection put at most 5 requests on it together, not 5 each.
//!
//! Redis holds, per upstream origin (keys named by a hash of it), three sorted sets, and only
//! Lua scripts that Redis runs atomically change them (invoked by SHA, `EVALSHA`):
//!
//! - `leases`: one member per request at the upstream, scored by when its lease lapses;
//! - `queue`: the requests waiting for a slot, scored by arrival, so the first to come is the
//!   first served whichever replica it came through;
//! - `waiting`: the same waiters, scored by when they lapse, so that the waiters of a replica
//!   that died leave the queue within [`WAITER_TTL`] instead of blocking its head.
//!
//! Every time is Redis's own (`TIME` inside the scripts), never a replica's clock, so replicas
//! with skewed clocks agree on which lease has lapsed. A lease lasts [`LEASE`]; one call per
//! replica every [`RENEW_EVERY`] extends all the leases it holds. A replica that is killed
//! stops renewing, and its slots come back to the others within a lease period.
//!
//! Redis is not in the way when it fails: a call that errs or takes longer than
//! [`CALL_TIMEOUT`] puts this replica in local fallback, where the local cap alone applies (as
//! without the flag), with one warning in the log; a probe every [`PROBE_EVERY`] reconnects,
//! and the replica rejoins the shared budget with one info line. docs/shared-limit.md has the
//! design and its limits.
//!
//! The URL's password never reaches a log, an error or `/readyz`: [`RedisUrl`] shows itself
//! with the password replaced, and the texts of Redis's errors are scrubbed of it too.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use cupi_gateway::limit::shared::{RedisUrl, SharedLimit};
//!
//! let metrics = Arc::new(cupi_gateway::metrics::Metrics::new(vec![]));
//! let url: RedisUrl = "redis://:secret@127.0.0.1:6379/0".parse().unwrap();
//! assert_eq!(url.to_string(), "redis://:***@127.0.0.1:6379/0");
//! let origin = "https://cuc.example.com".parse().unwrap();
//! // Five slots for every replica that names this Redis and this upstream.
//! let shared = SharedLimit::connect(url, &origin, 5, metrics).await;
//! let deadline = Instant::now() + Duration::from_secs(10);
//! match shared.acquire(deadline).await {
//!     Ok(Some(_lease)) => { /* one of the five: send the request, drop the lease after */ }
//!     Ok(None) => { /* Redis is away: the local cap alone applies */ }
//!     Err(_busy) => { /* the deadline passed in the queue: 503 upstream_busy */ }
//! }
//! # }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

mod scripts;
mod url;

use scripts::{ACQUIRE, RELEASE, RENEW};
pub use url::{RedisUrl, RedisUrlError};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::upstream::Origin;

/// How long a slot is held without renewal: how long a killed replica's slots stay taken.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often a replica extends all its leases in one call: three tries per lease period, so
/// one slow or lost renewal does not lose a lease.
pub const RENEW_EVERY: Duration = Duration::from_millis(3_333);
/// How long a waiter stays in the queue without polling: how long a killed replica's waiters
/// keep the others behind them.
pub const WAITER_TTL: Duration = Duration::from_secs(2);
/// A Redis call slower than this counts as a failure: the replica falls back to its local cap
/// rather than make its requests wait on Redis.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a replica in local fallback tries Redis again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A waiter polls Redis after this, then twice as long each time, up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(32);
/// Releases sent to Redis in one call at most.
const RELEASE_BATCH: usize = 128;

// === impl SharedLimit ===

/// This replica's end of the shared budget: cheap to clone, one per gateway.
#[derive(Clone)]
pub struct SharedLimit {
    inner: Arc<Shared>,
}

struct Shared {
    url: RedisUrl,
    client: Client,
    keys: Keys,
    /// This replica's name in Redis, the prefix of its requests' ids.
    replica: String,
    /// The budget: slots at the upstream for all replicas together.
    capacity: usize,
    /// The connection while in shared mode; none in local fallback (the probe makes a new one).
    connection: Mutex<Option<MultiplexedConnection>>,
    /// Shared mode (true) or local fallback.
    shared: AtomicBool,
    next_id: AtomicU64,
    /// The ids of the leases this replica holds now: what each renewal extends.
    held: Mutex<BTreeSet<String>>,
    /// Ids to remove from Redis (a lease returned, a waiter that gave up), sent by the drop of
    /// a [`Lease`] or a [`Waiter`] to the background task.
    releases: mpsc::UnboundedSender<String>,
    metrics: Arc<Metrics>,
}

/// The keys of one upstream's budget. The `{…}` hash tag puts them in one slot of a Redis
/// Cluster, as a script's keys must be.
#[derive(Debug)]
struct Keys {
    leases: String,
    queue: String,
    waiting: String,
}

impl Keys {
    fn of(origin: &Origin) -> Keys {
        // FNV-1a: a hash every version of every replica computes alike, unlike std's.
        let hash = origin
            .to_string()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        let key = |set: &str| format!("cupi-gateway:upstream-limit:{{{hash:016x}}}:{set}");
        Keys {
            leases: key("leases"),
            queue: key("queue"),
            waiting: key("waiting"),
        }
    }
}

/// A request's wait in the shared queue ended past its deadline.
#[derive(Debug)]
pub struct SharedBusy;

/// What a Redis call failed with: its text scrubbed of the password.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{0}")]
    Redis(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("not connected")]
    NotConnected,
}

impl SharedLimit {
    /// Connects to `url` for the budget of `capacity` slots at `origin`, and starts the
    /// background task that renews leases, sends releases and, while Redis is away, probes it.
    /// Never fails: a Redis that cannot be reached now means local fallback until it can.
    pub async fn connect(
        url: RedisUrl,
        origin: &Origin,
        capacity: usize,
        metrics: Arc<Metrics>,
    ) -> SharedLimit {
        // rustls picks its process-wide provider for `rediss://`; the gateway links ring only,
        // and says so before anything else can ask. (An error: one is installed already.)
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::open(url.info.clone())
            .expect("a ConnectionInfo parsed from a Redis URL opens a client");
        let (releases, receiver) = mpsc::unbounded_channel();
        let inner = Arc::new(Shared {
            client,
            keys: Keys::of(origin),
            replica: replica_name(),
            capacity: capacity.max(1),
            connection: Mutex::new(None),
            shared: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            held: Mutex::new(BTreeSet::new()),
            releases,
            metrics,
            url,
        });
        match inner.reconnect().await {
            Ok(()) => tracing::info!(
                redis = %inner.url,
                slots = inner.capacity,
                "the upstream budget is shared through Redis with every replica that names it \
                 and the same upstream"
            ),
            Err(error) => tracing::warn!(
                redis = %inner.url,
                %error,
                slots = inner.capacity,
                "Redis cannot be reached: this replica keeps to its own cap of `slots` until it can"
            ),
        }
        tokio::spawn(background(Arc::downgrade(&inner), receiver));
        SharedLimit { inner }
    }

    /// A lease on one of the shared slots, waiting in the shared queue until `deadline`;
    /// `Ok(None)` in local fallback (Redis away, now or while waiting), where the local cap
    /// alone applies.
    pub async fn acquire(&self, deadline: Instant) -> Result<Option<Lease>, SharedBusy> {
        let shared = &self.inner;
        if !shared.is_shared() {
            return Ok(None);
        }
        let id = format!(
            "{}:{}",
            shared.replica,
            shared.next_id.fetch_add(1, Ordering::Relaxed)
        );
        // From the first call on, the id may be in Redis's queue: leave it when this ends
        // (granted, given up, or the client gone).
        let waiter = Waiter {
            id: Some(id),
            shared: shared.clone(),
        };
        let mut pause = POLL_FIRST;
        let mut waited = false;
        loop {
            let id = waiter.id.as_deref().unwrap_or_default();
            match shared.try_acquire(id).await {
                Ok(true) => return Ok(Some(waiter.into_lease())),
                Ok(false) => {}
                Err(error) => {
                    shared.fall_back(&error);
                    return Ok(None);
                }
            }
            if !waited {
                waited = true;
                shared.metrics.shared_waits.inc();
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SharedBusy);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(POLL_MAX);
            // Another request saw Redis fail meanwhile: this one is served on the local cap.
            if !shared.is_shared() {
                return Ok(None);
            }
        }
    }

    /// `shared`, or `local_fallback` while Redis is away: what `/readyz` shows.
    pub fn mode(&self) -> &'static str {
        if self.inner.is_shared() {
            "shared"
        } else {
            "local_fallback"
        }
    }

    /// The Redis URL, its password replaced.
    pub fn redis(&self) -> &RedisUrl {
        &self.inner.url
    }
}

impl fmt::Debug for SharedLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLimit")
            .field("redis", &self.inner.url)
            .field("keys", &self.inner.keys)
            .field("replica", &self.inner.replica)
            .field("capacity", &self.inner.capacity)
            .field("mode", &self.mode())
            .finish()
    }
}

/// A name for this replica, unique among replicas: random, as a pod's host name and process
/// id repeat across pods.
fn replica_name() -> String {
    let mut bytes = [0u8; 8];
    crate::random::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// === impl Shared ===

impl Shared {
    fn is_shared(&self) -> bool {
        self.shared.load(Ordering::SeqCst)
    }

    fn connection(&self) -> Option<MultiplexedConnection> {
        self.connection.lock().ok().and_then(|c| c.clone())
    }

    /// One script call within [`CALL_TIMEOUT`], timed in the Redis latency histogram.
    async fn call<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, CallError> {
        let mut connection = self.connection().ok_or(CallError::NotConnected)?;
        let started = Instant::now();
        let result =
            tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut connection)).await;
        self.metrics
            .redis_seconds
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(CallError::Redis(self.url.scrub(&error.to_string()))),
            Err(_) => Err(CallError::Timeout(CALL_TIMEOUT)),
        }
    }

    /// Whether `id` got a slot now; if not, it is (still) in the queue.
    async fn try_acquire(&self, id: &str) -> Result<bool, CallError> {
        let mut invocation = ACQUIRE.prepare_invoke();
        invocation
            .key(&self.keys.leases)
            .key(&self.keys.queue)
            .key(&self.keys.waiting)
            .arg(id)
            .arg(self.capacity)
            .arg(LEASE.as_millis() as u64)
            .arg(WAITER_TTL.as_millis() as u64);
        let granted: i64 = self.call(invocation).await?;
        if granted == 1 {
            if let Ok(mut held) = self.held.lock() {
                held.insert(id.to_owned());
            }
            self.metrics.shared_leases.inc();
        }
        Ok(granted == 1)
    }

    /// Extends every lease this replica holds, in one call.
    async fn renew(&self) -> Result<(), CallError> {
        let held: Vec<String> = match self.held.lock() {
            Ok(held) if !held.is_empty() => held.iter().cloned().collect(),
            _ => return Ok(()),
        };
        let mut invocation = RENEW.prepare_invoke();
        invocation
            .key(&self.keys.leases)
            .arg(LEASE.as_millis() as u64)
            .arg(held);
        let _renewed: i64 = self.call(invocation).await?;
        Ok(())
    }

    /// Removes `ids` from the leases and the queue.
    async fn release(&self, ids: &[String]) -> Result<(), CallError> {
        let mut invocation = RELEASE.prepare_invoke();
        invocation
            .key(&self.keys.leases)
            .key(&self.keys.queue)
            .key(&self.keys.waiting)
            .arg(ids);
        let _removed: i64 = self.call(invocation).await?;
        Ok(())
    }

    /// A new connection and a `PING` on it, within [`CALL_TIMEOUT`]; on success, shared mode.
    async fn reconnect(&self) -> Result<(), CallError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT));
        let started = Instant::now();
        let attempt = tokio::time::timeout(CALL_TIMEOUT * 2, async {
            let mut connection = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(connection)
        })
        .await;
        self.metrics
            .redis_seconds
            .observe(started.elapsed().as_secs_f64());
        let connection = match attempt {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(CallError::Redis(self.url.scrub(&error.to_string()))),
            Err(_) => return Err(CallError::Timeout(CALL_TIMEOUT * 2)),
        };
        if let Ok(mut slot) = self.connection.lock() {
            *slot = Some(connection);
        }
        self.shared.store(true, Ordering::SeqCst);
        self.metrics.shared_mode.set(1);
        Ok(())
    }

    /// Local fallback, after `error`: logged and counted once per transition.
    fn fall_back(&self, error: &CallError) {
        if let Ok(mut connection) = self.connection.lock() {
            *connection = None;
        }
        if self.shared.swap(false, Ordering::SeqCst) {
            self.metrics.shared_mode.set(0);
            self.metrics.shared_fallbacks.inc();
            tracing::warn!(
                redis = %self.url,
                %error,
                slots = self.capacity,
                "Redis failed or was slow: this replica falls back to its own cap of `slots` \
                 until Redis answers again"
            );
        }
    }

    fn send_release(&self, id: String) {
        // The background task is gone only when the gateway is: nothing left to release then.
        let _ = self.releases.send(id);
    }
}

/// Renewals every [`RENEW_EVERY`], releases as they come (batched), and in local fallback a
/// reconnection every [`PROBE_EVERY`]. Ends when the gateway drops its [`SharedLimit`].
async fn background(shared: Weak<Shared>, mut releases: mpsc::UnboundedReceiver<String>) {
    let mut renewals = tokio::time::interval(RENEW_EVERY);
    let mut probes = tokio::time::interval(PROBE_EVERY);
    for timer in [&mut renewals, &mut probes] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    let mut batch = Vec::with_capacity(RELEASE_BATCH);
    loop {
        tokio::select! {
            received = releases.recv_many(&mut batch, RELEASE_BATCH) => {
                let Some(shared) = shared.upgrade() else { return };
                if received == 0 {
                    return;
                }
                // In fallback the ids are dropped: leases lapse and waiters expire by themselves.
                if shared.is_shared() {
                    if let Err(error) = shared.release(&batch).await {
                        shared.fall_back(&error);
                    }
                }
                batch.clear();
            }
            _ = renewals.tick() => {
                let Some(shared) = shared.upgrade() else { return };
                if shared.is_shared() {
                    if let Err(error) = shared.renew().await {
                        shared.fall_back(&error);
                    }
                }
            }
            _ = probes.tick() => {
                let Some(shared) = shared.upgrade() else { return };
                if !shared.is_shared() && shared.reconnect().await.is_ok() {
                    // The leases held through the outage count again from now on (if Redis
                    // kept them; a restarted Redis did not).
                    let _ = shared.renew().await;
                    tracing::info!(
                        redis = %shared.url,
                        slots = shared.capacity,
                        "Redis answers again: this replica rejoins the shared upstream budget"
                    );
                }
            }
        }
    }
}

// === impl Waiter ===

/// A request's place in the shared queue: left when dropped, unless it became a [`Lease`].
struct Waiter {
    id: Option<String>,
    shared: Arc<Shared>,
}

impl Waiter {
    fn into_lease(mut self) -> Lease {
        Lease {
            id: self.id.take().unwrap_or_default(),
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.shared.send_release(id);
        }
    }
}

// === impl Lease ===

/// One slot of the shared budget, renewed while held and given back when dropped.
pub struct Lease {
    id: String,
    shared: Arc<Shared>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let id = std::mem::take(&mut self.id);
        if let Ok(mut held) = self.shared.held.lock() {
            held.remove(&id);
        }
        self.shared.metrics.shared_leases.dec();
        self.shared.send_release(id);
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lease").field(&self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_origin_and_in_one_cluster_slot() {
        let a = Keys::of(&"https://cuc-a.example.com".parse().unwrap());
        let b = Keys::of(&"https://cuc-b.example.com".parse().unwrap());
        assert_ne!(a.leases, b.leases);
        let tag = |key: &str| key.split(['{', '}']).nth(1).unwrap().to_owned();
        assert_eq!(tag(&a.leases), tag(&a.queue));
        assert_eq!(tag(&a.leases), tag(&a.waiting));
        // The same on every replica and every version: FNV-1a of the origin's text.
        let again = Keys::of(&"https://cuc-a.example.com".parse().unwrap());
        assert_eq!(a.leases, again.leases);
    }
}
