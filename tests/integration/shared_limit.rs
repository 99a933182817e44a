//! One upstream budget for many replicas (`--upstream-limit-redis`): three gateway processes
//! sharing a real Redis (Debian's `redis-server`, started here on a free port) in front of a
//! hand-rolled upstream that records the most requests it ever held at once. The budget
//! holds under load; a replica killed with SIGKILL loses its slots within a lease period;
//! a stopped or frozen Redis puts the replicas on their local caps and they rejoin when it is
//! back; `rediss://` works; the password shows nowhere; without the flag nothing changed.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::support::binary::{self, BIN};
use crate::support::pki::make_pki;
use crate::support::{read_request_head, AUTH};

/// The lease period of src/limit/shared.rs: how long a killed replica's slots stay taken.
const LEASE: Duration = Duration::from_secs(10);

// === Redis ===

/// A `redis-server` of its own, on a free loopback port, killed when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
}

impl Redis {
    /// Plain Redis, `extra` arguments added (`--requirepass`, TLS).
    async fn start(extra: &[&str]) -> Redis {
        let port = free_port();
        let mut args: Vec<String> = ["--port", &port.to_string()]
            .into_iter()
            .map(str::to_owned)
            .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        Redis::start_with(port, args).await
    }

    /// Redis serving TLS only, on a free port, with this certificate and key.
    async fn start_tls(cert: &str, key: &str) -> Redis {
        let port = free_port();
        let args = [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-auth-clients",
            "no",
        ];
        Redis::start_with(port, args.iter().map(|a| a.to_string()).collect()).await
    }

    async fn start_with(port: u16, args: Vec<String>) -> Redis {
        let mut redis = Redis {
            child: None,
            port,
            args,
        };
        redis.restart().await;
        redis
    }

    /// Starts it (again) on the same port and waits until it accepts connections.
    async fn restart(&mut self) {
        let spawned = Command::new("redis-server")
            .args(&self.args)
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
                "-::1",
            ])
            .args(["--dir", std::env::temp_dir().to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed, and the tests of the shared upstream budget need \
                 a real Redis: apt-get install redis-server (.ci/run installs it)"
            ),
            Err(error) => panic!("redis-server does not start: {error}"),
        };
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < until, "redis-server listens within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: gone at once, with everything it held.
    async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().await.unwrap();
    }

    /// SIGSTOP or SIGCONT: frozen (it still accepts connections, and answers nothing) or not.
    fn signal(&self, signal: &str) {
        binary::signal(self.child.as_ref().expect("running"), signal);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// === the upstream ===

/// A hand-rolled upstream: each request is held `delay` (or until [`Upstream::release`], or
/// until the gateway's connection closes) and counted at the upstream meanwhile.
struct Upstream {
    origin: String,
    current: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    release: tokio::sync::watch::Sender<u64>,
}

impl Upstream {
    async fn start(delay: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (release, released) = tokio::sync::watch::channel(0);
        let upstream = Upstream {
            origin,
            current: Arc::default(),
            peak: Arc::default(),
            delay_ms: Arc::new(AtomicU64::new(delay.as_millis() as u64)),
            release,
        };
        let (current, peak, delay_ms) = (
            upstream.current.clone(),
            upstream.peak.clone(),
            upstream.delay_ms.clone(),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (current, peak, delay_ms) = (current.clone(), peak.clone(), delay_ms.clone());
                let released = released.clone();
                tokio::spawn(serve(stream, current, peak, delay_ms, released));
            }
        });
        upstream
    }

    fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn reset_peak(&self) {
        self.peak.store(self.current(), Ordering::SeqCst);
    }

    fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Ends every hold now.
    fn release(&self) {
        self.release.send_modify(|generation| *generation += 1);
    }

    /// Waits until `count` requests are held at once, for at most `within`; how long it took.
    async fn until_holding(&self, count: usize, within: Duration) -> Duration {
        let started = Instant::now();
        while self.current() < count {
            assert!(
                started.elapsed() < within,
                "{count} requests at the upstream within {within:?} (it holds {})",
                self.current()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        started.elapsed()
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    current: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    mut released: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        if !read_request_head(&mut stream).await {
            return;
        }
        let now = current.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        released.borrow_and_update();
        let delay = Duration::from_millis(delay_ms.load(Ordering::SeqCst));
        let mut byte = [0u8; 1];
        // A request is at the upstream until it is answered or its connection is gone (the
        // gateway killed): the client sends nothing else while it waits for the answer.
        let closed = tokio::select! {
            _ = tokio::time::sleep(delay) => false,
            _ = released.changed() => false,
            _ = stream.read(&mut byte) => true,
        };
        current.fetch_sub(1, Ordering::SeqCst);
        if closed {
            return;
        }
        let body = br#"<Ports total="0"/>"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(body).await.is_err()
        {
            return;
        }
    }
}

// === the gateways ===

/// A gateway process and everything it has logged so far.
struct Gateway {
    child: Option<Child>,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Gateway {
    /// The binary in front of `upstream`, with `extra` flags.
    async fn start(upstream: &str, extra: &[&str]) -> Gateway {
        Gateway::start_with_env(upstream, extra, &[]).await
    }

    async fn start_with_env(upstream: &str, extra: &[&str], env: &[(&str, &str)]) -> Gateway {
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--upstream-retries",
            "0",
        ];
        args.extend_from_slice(extra);
        let (mut child, base, _) = binary::start(&args, env, "/healthz").await;
        // Read stderr as it comes: the log is checked, and a full pipe would stall the process.
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let into = log.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    return;
                }
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Gateway {
            child: Some(child),
            base,
            log,
        }
    }

    /// In front of `upstream`, sharing `redis`'s budget of 5, waiting at most `queue_timeout`.
    async fn shared(upstream: &str, redis: &str, queue_timeout: &str) -> Gateway {
        let args = [
            "--upstream-limit-redis",
            redis,
            "--upstream-max-concurrency",
            "5",
            "--upstream-queue-timeout",
            queue_timeout,
        ];
        Gateway::start(upstream, &args).await
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// How many times `line` is in the log, once it is there at all (or after 5 s): a line
    /// reaches the log through the gateway's log writer thread and a pipe, a little after
    /// what it tells of has happened.
    async fn count_logged(&self, line: &str) -> usize {
        let started = Instant::now();
        loop {
            let count = self.log().matches(line).count();
            if count > 0 || started.elapsed() > Duration::from_secs(5) {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn sigkill(&mut self) {
        self.child.take().expect("running").start_kill().unwrap();
    }

    async fn readyz(&self) -> serde_json::Value {
        let response = reqwest::get(format!("{}/readyz", self.base)).await.unwrap();
        assert_eq!(response.status(), 200, "/readyz stays 200");
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    async fn mode(&self) -> String {
        let body = self.readyz().await;
        body["upstream_limit"]["mode"]
            .as_str()
            .unwrap_or_else(|| panic!("no mode in {body}"))
            .to_owned()
    }

    async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base);
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }

    /// The value of the sample named `name` (no labels) in `/metrics`.
    async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
            .parse()
            .unwrap()
    }

    /// Waits until `/readyz` shows `mode`, for at most `within`; how long it took.
    async fn until_mode(&self, mode: &str, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let now = self.mode().await;
            if now == mode {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{} in {mode} mode within {within:?} (it is {now}); log:\n{}",
                self.base,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a request through a gateway got, and after how long.
#[derive(Debug)]
struct Answer {
    status: u16,
    code: Option<String>,
    took: Duration,
}

/// `count` different reads at once, spread over `gateways` in turn; `offset` keeps them
/// different from earlier rounds' (identical reads would be coalesced into one).
async fn burst(gateways: &[&Gateway], count: usize, offset: usize) -> Vec<Answer> {
    let bases: Vec<String> = gateways.iter().map(|g| g.base.clone()).collect();
    burst_to(bases, count, offset).await
}

/// [`burst`], to gateways by their base URLs. A request whose connection broke (its gateway
/// killed) is status 0.
async fn burst_to(bases: Vec<String>, count: usize, offset: usize) -> Vec<Answer> {
    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..count)
        .map(|n| {
            let path = match n % 3 {
                0 => "/vmrest/ports?pageNumber=",
                1 => "/vmrest/ports?rowsPerPage=",
                _ => "/vmrest/users?pageNumber=",
            };
            let url = format!("{}{path}{}", bases[n % bases.len()], offset + n);
            let client = client.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let sent = client.get(url).basic_auth(AUTH.0, Some(AUTH.1)).send();
                let response = match sent.await {
                    Ok(response) => response,
                    Err(error) => {
                        return Answer {
                            status: 0,
                            code: Some(error.to_string()),
                            took: started.elapsed(),
                        }
                    }
                };
                let status = response.status().as_u16();
                let code = match status {
                    200 => None,
                    _ => {
                        let bytes = response.bytes().await.unwrap_or_default();
                        let body: serde_json::Value =
                            serde_json::from_slice(&bytes).unwrap_or_default();
                        body["errors"][0]["code"].as_str().map(str::to_owned)
                    }
                };
                Answer {
                    status,
                    code,
                    took: started.elapsed(),
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    answers
}

/// Every answer a 200, or a 503 `upstream_busy` that waited out `queue_timeout`.
fn answered(answers: &[Answer], queue_timeout: Duration) -> (usize, usize) {
    let mut ok = 0;
    let mut busy = 0;
    for answer in answers {
        match (answer.status, answer.code.as_deref()) {
            (200, _) => ok += 1,
            (503, Some("upstream_busy")) => {
                assert!(
                    answer.took >= queue_timeout,
                    "a 503 upstream_busy before the queue timeout: {answer:?}"
                );
                busy += 1;
            }
            _ => panic!("unexpected answer {answer:?}"),
        }
    }
    (ok, busy)
}

async fn three_shared(upstream: &Upstream, redis: &Redis, queue_timeout: &str) -> [Gateway; 3] {
    let url = redis.url();
    let (a, b, c) = tokio::join!(
        Gateway::shared(&upstream.origin, &url, queue_timeout),
        Gateway::shared(&upstream.origin, &url, queue_timeout),
        Gateway::shared(&upstream.origin, &url, queue_timeout),
    );
    for gateway in [&a, &b, &c] {
        assert_eq!(gateway.mode().await, "shared", "log:\n{}", gateway.log());
    }
    [a, b, c]
}

// === the tests ===

#[tokio::test]
async fn three_replicas_put_no_more_than_the_shared_budget_on_the_upstream() {
    let redis = Redis::start(&[]).await;
    let upstream = Upstream::start(Duration::from_millis(150)).await;
    let gateways = three_shared(&upstream, &redis, "10s").await;
    let [a, b, c] = &gateways;

    let started = Instant::now();
    let answers = burst(&[a, b, c], 120, 0).await;
    let took = started.elapsed();
    let (ok, busy) = answered(&answers, Duration::from_secs(10));
    let mut waits = 0.0;
    for gateway in &gateways {
        waits += gateway
            .metric("cupi_gateway_upstream_limit_shared_waits_total")
            .await;
        assert_eq!(
            gateway.metric("cupi_gateway_upstream_limit_leases").await,
            0.0
        );
        assert_eq!(
            gateway.metric("cupi_gateway_upstream_limit_shared").await,
            1.0
        );
    }
    println!(
        "120 GETs over 3 replicas: {ok} answered 200, {busy} 503 upstream_busy, in {took:?}; \
         at most {} at the upstream at once; {waits} waited in the shared queue",
        upstream.peak()
    );
    assert_eq!(ok + busy, 120);
    assert!(
        upstream.peak() <= 5,
        "{} requests at the upstream at once, over a shared budget of 5",
        upstream.peak()
    );
    assert_eq!(upstream.peak(), 5, "the budget is used in full");
    assert!(waits > 0.0, "requests waited in the shared queue");
}

#[tokio::test]
async fn a_replica_killed_while_holding_slots_loses_them_within_a_lease_period() {
    let redis = Redis::start(&[]).await;
    // Held until released: the killed replica's requests leave the upstream when its
    // connections close, but its leases stay in Redis until they lapse.
    let upstream = Upstream::start(Duration::from_secs(120)).await;
    let [mut a, b, c] = three_shared(&upstream, &redis, "60s").await;

    let holding = tokio::spawn(burst_to(vec![a.base.clone()], 5, 0));
    upstream.until_holding(5, Duration::from_secs(10)).await;
    // Five more through the other two: they wait, the budget is A's.
    let waiting = tokio::spawn(burst_to(vec![b.base.clone(), c.base.clone()], 5, 100));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(upstream.current(), 5);
    assert_eq!(upstream.peak(), 5, "B and C wait while A holds the budget");

    a.sigkill();
    let killed = Instant::now();
    // A's connections close with it: its requests leave the upstream at once.
    while upstream.current() > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "A's requests leave the upstream"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let gone = killed.elapsed();
    upstream
        .until_holding(1, LEASE + Duration::from_secs(3))
        .await;
    let first = killed.elapsed();
    upstream
        .until_holding(5, LEASE + Duration::from_secs(3))
        .await;
    let all = killed.elapsed();
    println!(
        "A killed holding 5 slots: its requests left the upstream after {gone:?}; B and C had \
         a first slot after {first:?}, all 5 after {all:?} (lease {LEASE:?}); peak {}",
        upstream.peak()
    );
    assert!(
        all <= LEASE + Duration::from_secs(2),
        "all 5 back within a lease period: {all:?}"
    );
    // A's leases were renewed at most a third of a lease before it died: they outlived it.
    assert!(
        first >= LEASE / 2,
        "the slots came back when A's leases lapsed, not before: {first:?}"
    );
    assert_eq!(upstream.peak(), 5);

    upstream.release();
    let answers = waiting.await.unwrap();
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    // A's clients lost their connections with it.
    let lost = holding.await.unwrap();
    assert!(lost.iter().all(|a| a.status == 0), "{lost:?}");
}

#[tokio::test]
async fn a_stopped_or_frozen_redis_leaves_each_replica_on_its_local_cap_until_it_is_back() {
    let mut redis = Redis::start(&[]).await;
    let upstream = Upstream::start(Duration::from_millis(200)).await;
    let gateways = three_shared(&upstream, &redis, "10s").await;
    let [a, b, c] = &gateways;
    let all = [a, b, c];

    let answers = burst(&all, 30, 0).await;
    assert_eq!(answered(&answers, Duration::from_secs(10)), (30, 0));
    assert!(upstream.peak() <= 5, "shared: {}", upstream.peak());

    // Redis gone (SIGKILL): every replica keeps answering, on its own cap of 5.
    redis.kill().await;
    upstream.reset_peak();
    let started = Instant::now();
    let answers = burst(&all, 45, 1000).await;
    let took = started.elapsed();
    assert_eq!(answered(&answers, Duration::from_secs(10)), (45, 0));
    println!(
        "Redis killed: 45 GETs answered 200 in {took:?}, at most {} at the upstream (3 local caps of 5)",
        upstream.peak()
    );
    assert!(upstream.peak() <= 15);
    for gateway in all {
        assert_eq!(gateway.mode().await, "local_fallback");
        assert_eq!(
            gateway.metric("cupi_gateway_upstream_limit_shared").await,
            0.0
        );
        assert_eq!(
            gateway
                .metric("cupi_gateway_upstream_limit_fallbacks_total")
                .await,
            1.0
        );
        assert_eq!(gateway.count_logged("falls back to its own cap").await, 1);
    }

    // Redis back: the replicas rejoin, and the budget is shared again.
    redis.restart().await;
    let mut rejoined = Duration::ZERO;
    for gateway in all {
        let took = gateway.until_mode("shared", Duration::from_secs(5)).await;
        rejoined = rejoined.max(took);
        assert_eq!(
            gateway
                .count_logged("rejoins the shared upstream budget")
                .await,
            1
        );
    }
    upstream.reset_peak();
    let answers = burst(&all, 60, 2000).await;
    assert_eq!(answered(&answers, Duration::from_secs(10)), (60, 0));
    println!(
        "Redis restarted: all 3 shared again within {rejoined:?}; 60 GETs, at most {} at the upstream",
        upstream.peak()
    );
    assert!(upstream.peak() <= 5, "shared again: {}", upstream.peak());

    // Redis frozen (SIGSTOP: it accepts connections and answers nothing): a call that takes
    // more than a second is a failure, and each replica carries on by itself.
    redis.signal("STOP");
    upstream.set_delay(Duration::from_millis(50));
    let answers = burst(&all, 30, 3000).await;
    assert_eq!(answered(&answers, Duration::from_secs(10)), (30, 0));
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    println!("Redis frozen: 30 GETs answered 200, the slowest in {slowest:?}");
    assert!(slowest < Duration::from_secs(4), "{slowest:?}");
    for gateway in all {
        assert_eq!(gateway.mode().await, "local_fallback");
        assert_eq!(
            gateway
                .metric("cupi_gateway_upstream_limit_fallbacks_total")
                .await,
            2.0
        );
    }
    redis.signal("CONT");
    for gateway in all {
        gateway.until_mode("shared", Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn rediss_with_a_private_ca_shares_the_budget() {
    let pki = make_pki(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("cupi-shared-limit-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (ca, cert, key) = (
        write("ca.pem", &pki.ca_pem),
        write("redis.pem", &pki.leaf_pem),
        write("redis-key.pem", &pki.leaf_key_pem),
    );
    let redis = Redis::start_tls(&cert, &key).await;
    let upstream = Upstream::start(Duration::from_millis(100)).await;
    let url = format!("rediss://localhost:{}/0", redis.port);
    // The system's roots, as rustls-native-certs reads them: SSL_CERT_FILE names the CA.
    let args = [
        "--upstream-limit-redis",
        &url,
        "--upstream-max-concurrency",
        "2",
    ];
    let env = [("SSL_CERT_FILE", ca.as_str())];
    let (a, b) = tokio::join!(
        Gateway::start_with_env(&upstream.origin, &args, &env),
        Gateway::start_with_env(&upstream.origin, &args, &env),
    );
    for gateway in [&a, &b] {
        assert_eq!(gateway.mode().await, "shared", "log:\n{}", gateway.log());
    }
    let answers = burst(&[&a, &b], 20, 0).await;
    assert_eq!(answered(&answers, Duration::from_secs(10)), (20, 0));
    println!(
        "rediss://: 20 GETs over 2 replicas, at most {} at the upstream",
        upstream.peak()
    );
    assert!(upstream.peak() <= 2, "{}", upstream.peak());

    // Without the CA the certificate is refused, and the replica is on its own cap.
    let untrusted = Gateway::start(&upstream.origin, &args).await;
    assert_eq!(untrusted.mode().await, "local_fallback");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_password_reaches_no_log_no_error_and_no_readyz() {
    const PASSWORD: &str = "Pa55-word-never-shown";
    const WRONG: &str = "Wrong-pa55-never-shown";
    let mut redis = Redis::start(&["--requirepass", PASSWORD]).await;
    let upstream = Upstream::start(Duration::from_millis(10)).await;
    let right = format!("redis://:{PASSWORD}@127.0.0.1:{}/0", redis.port);
    let wrong = format!("redis://:{WRONG}@127.0.0.1:{}/0", redis.port);

    let good = Gateway::start(&upstream.origin, &["--upstream-limit-redis", &right]).await;
    // The environment twin, with a password Redis refuses.
    let env = [("CUPI_GATEWAY_UPSTREAM_LIMIT_REDIS", wrong.as_str())];
    let refused = Gateway::start_with_env(&upstream.origin, &[], &env).await;

    let readyz = good.readyz().await;
    assert_eq!(readyz["upstream_limit"]["mode"], "shared", "{readyz}");
    assert_eq!(
        readyz["upstream_limit"]["redis"],
        format!("redis://:***@127.0.0.1:{}/0", redis.port)
    );
    assert_eq!(refused.mode().await, "local_fallback");
    let answers = burst(&[&good, &refused], 6, 0).await;
    assert_eq!(answered(&answers, Duration::from_secs(10)), (6, 0));
    // Redis gone: the fallback's warning names the URL and the error.
    redis.kill().await;
    let _ = burst(&[&good], 3, 100).await;
    good.until_mode("local_fallback", Duration::from_secs(5))
        .await;

    let mut seen = Vec::new();
    for gateway in [&good, &refused] {
        seen.push(gateway.readyz().await.to_string());
        seen.push(gateway.metrics().await);
        seen.push(gateway.log());
    }
    assert!(
        good.count_logged("falls back to its own cap").await > 0,
        "{}",
        good.log()
    );
    assert!(
        refused.count_logged("redis=redis://:***@127.0.0.1").await > 0,
        "{}",
        refused.log()
    );

    // --help with the variable set shows no value; a refused URL is not echoed.
    let help = std::process::Command::new(BIN)
        .arg("--help")
        .env("CUPI_GATEWAY_UPSTREAM_LIMIT_REDIS", &right)
        .output()
        .unwrap();
    seen.push(String::from_utf8_lossy(&help.stdout).into_owned());
    let bad = format!("redis://:{PASSWORD}@127.0.0.1:notaport/0");
    let refusal = std::process::Command::new(BIN)
        .args(["--upstream-limit-redis", &bad])
        .output()
        .unwrap();
    assert!(!refusal.status.success());
    let refusal = String::from_utf8_lossy(&refusal.stderr).into_owned();
    assert!(refusal.contains("--upstream-limit-redis"), "{refusal}");
    seen.push(refusal);

    for text in &seen {
        assert!(!text.contains(PASSWORD), "the password shows in:\n{text}");
        assert!(
            !text.contains(WRONG),
            "the wrong password shows in:\n{text}"
        );
    }
}

#[tokio::test]
async fn without_the_flag_each_replica_keeps_its_own_cap_as_before() {
    let upstream = Upstream::start(Duration::from_millis(300)).await;
    let args = ["--upstream-max-concurrency", "3"];
    let (a, b) = tokio::join!(
        Gateway::start(&upstream.origin, &args),
        Gateway::start(&upstream.origin, &args),
    );
    let answers = burst(&[&a, &b], 30, 0).await;
    assert_eq!(answered(&answers, Duration::from_secs(10)), (30, 0));
    println!(
        "no flag: 2 replicas with a cap of 3, at most {} at the upstream",
        upstream.peak()
    );
    assert_eq!(upstream.peak(), 6, "each replica's cap is its own");
    for gateway in [&a, &b] {
        let readyz = gateway.readyz().await;
        assert!(readyz.get("upstream_limit").is_none(), "{readyz}");
        assert_eq!(
            gateway.metric("cupi_gateway_upstream_limit_shared").await,
            0.0
        );
        assert!(!gateway.log().contains("Redis"), "{}", gateway.log());
    }
}
