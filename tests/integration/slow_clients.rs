//! Clients that send their bodies slowly, or stall with most of one sent: they may hold a
//! buffer for a while, never an upstream slot, and all of them together never more memory
//! than the body budget.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;
use cupi_gateway::body_rate::BodyRate;
use cupi_gateway::budget::BodySettings;
use cupi_gateway::limit::LimitSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// `bogus:bogus`: credentials no server accepts.
const BOGUS_AUTH: &str = "Basic Ym9ndXM6Ym9ndXM=";

/// Reads from `stream` until a whole response head has come (or the peer closes).
async fn read_head(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    // The JSON error body is small and follows the head at once.
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await
    {
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A chunked `text/plain` upload with bogus credentials that sends one byte every `every`
/// until the gateway answers; returns the answer and how long it took.
fn trickle_upload(gateway: &str, every: Duration) -> JoinHandle<(String, Duration)> {
    trickle_upload_after(gateway, 0, every)
}

/// Like [`trickle_upload`], but the body starts with `first` bytes sent at once.
fn trickle_upload_after(
    gateway: &str,
    first: usize,
    every: Duration,
) -> JoinHandle<(String, Duration)> {
    let addr = gateway.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        let started = Instant::now();
        let stream = TcpStream::connect(&addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let head = format!(
            "POST /vmrest/undescribed/upload HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: {BOGUS_AUTH}\r\nContent-Type: text/plain\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        if first > 0 {
            let mut chunk = format!("{first:x}\r\n").into_bytes();
            chunk.resize(chunk.len() + first, b'y');
            chunk.extend_from_slice(b"\r\n");
            writer.write_all(&chunk).await.unwrap();
        }
        let trickle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if writer.write_all(b"1\r\nx\r\n").await.is_err() {
                    return;
                }
            }
        });
        let answer = read_head(&mut reader).await;
        trickle.abort();
        (answer, started.elapsed())
    })
}

/// Bytes of the body budget in use now, by the gateway's `/metrics`.
async fn budget_in_use(gateway: &str) -> f64 {
    let metrics = get_anonymous(&format!("{gateway}/metrics"))
        .await
        .text()
        .await
        .unwrap();
    metric(&metrics, "cupi_gateway_body_budget_bytes_in_use").expect("the gauge is served")
}

/// The number after `name ` in a Prometheus text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The grace period of request bodies in these tests.
const GRACE: Duration = Duration::from_secs(2);

/// The gateway with `slots` upstream slots (a queue wait of `wait`), a request-body grace of
/// [`GRACE`] at 500 bytes/s, in front of an upstream that, like Tomcat, reads a whole request
/// body before it answers: 200 to a GET, 401 to anything else.
async fn gateway_with_slots(slots: usize, wait: Duration) -> (FakeUpstream, String) {
    let upstream = FakeUpstream::start(|request| {
        if request.method == http::Method::GET {
            respond(200, "application/xml", r#"<Ports total="0"/>"#)
        } else {
            respond(401, "text/plain", "bad credentials")
        }
    })
    .await;
    let options = GatewayOptions {
        upstream_limit: LimitSettings {
            max_concurrent: slots,
            max_queued: 100,
            max_wait: wait,
            shared: None,
        },
        bodies: BodySettings {
            request_rate: BodyRate {
                min_bytes_per_second: 500,
                grace: GRACE,
                idle: Duration::from_secs(30),
            },
            ..BodySettings::default()
        },
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    (upstream, gateway)
}

#[tokio::test]
async fn trickling_uploads_hold_no_upstream_slot_and_end_with_408() {
    let (upstream, gateway) = gateway_with_slots(5, Duration::from_secs(3)).await;
    let grace = GRACE;

    // As many trickles as there are upstream slots, one byte every half second.
    let uploads: Vec<_> = (0..5)
        .map(|_| trickle_upload(&gateway, Duration::from_millis(500)))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;

    let asked = Instant::now();
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    let took = asked.elapsed();
    assert_eq!(response.status(), 200);
    // Generous: the slot is free at once; waiting for one would take the 3 s queue wait.
    assert!(took < Duration::from_secs(2), "the GET took {took:?}");
    assert!(
        uploads.iter().all(|upload| !upload.is_finished()),
        "the uploads were still trickling when the GET was answered"
    );

    for upload in uploads {
        let (answer, took) = upload.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
        // The grace period and what ~4 bytes earn, far from the 30 s idle gap or the
        // 30 s request timeout: a ceiling of 3x the grace allows for a busy machine.
        assert!(
            took >= grace && took < grace * 3,
            "the trickle took {took:?}"
        );
    }
    assert!(
        upstream
            .requests
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.method == http::Method::GET),
        "no trickle reached the upstream"
    );
    assert_eq!(budget_in_use(&gateway).await, 0.0);
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

#[tokio::test]
async fn a_body_beyond_the_buffer_streams_under_the_same_rate_and_smaller_ones_arrive_whole() {
    let (upstream, gateway) = gateway_with_slots(1, Duration::from_secs(10)).await;
    let grace = GRACE;

    // Within the 1 MiB buffer and beyond it: both reach the upstream byte for byte.
    for size in [300 * 1024, 3 * 1024 * 1024] {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let url = format!("{gateway}/vmrest/undescribed/upload");
        let response = send(reqwest::Method::POST, &url, "text/plain", body.clone()).await;
        assert_eq!(response.status(), 401, "the upstream's answer");
        assert!(upstream.last().body == body, "{size} bytes arrived whole");
    }

    // 1.2 MB at once takes the slot and streams; the trickle after it still ends in time.
    let (answer, took) = trickle_upload_after(&gateway, 1_200_000, Duration::from_millis(500))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    // A grace period after the fast part (whatever 1.2 MB would earn unbounded: 40 min).
    assert!(
        took >= grace && took < grace * 4,
        "the upload took {took:?}"
    );

    // The one slot is free again at once, and the buffers are given back.
    let asked = Instant::now();
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(budget_in_use(&gateway).await, 0.0);
}

/// Resident and peak memory of process `pid`, in KiB (Linux).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The gateway binary on a free port, in front of its embedded simulator.
async fn start_binary(extra: &[&str]) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cupi-gateway"))
        .args(["--listen", &listen])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://{listen}");
    for _ in 0..100 {
        if let Ok(response) = client().get(format!("{base}/healthz")).send().await {
            if response.status() == 200 {
                return (child, base);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway did not come up on {listen}");
}

/// A JSON upload without credentials that declares `declared` bytes, sends `sent` of them
/// and stalls; returns the answer if one comes within `wait` (else an empty string), and the
/// connection, still open.
fn stalled_upload(
    gateway: &str,
    declared: usize,
    sent: usize,
    wait: Duration,
) -> JoinHandle<(String, TcpStream)> {
    let addr = gateway.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "PUT /vmrest/portgroups/{PORT_GROUP_ID} HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{\"x\":\""
        );
        let mut body = head.into_bytes();
        body.resize(body.len() + sent, b'a');
        let answer = {
            let (mut reader, mut writer) = stream.split();
            let write = async {
                // Refused mid-body, the gateway closes: the rest of the write fails, as it should.
                let _ = writer.write_all(&body).await;
                std::future::pending::<()>().await
            };
            tokio::select! {
                answer = read_head(&mut reader) => answer,
                () = write => unreachable!(),
                () = tokio::time::sleep(wait) => String::new(),
            }
        };
        (answer, stream)
    })
}

#[tokio::test]
async fn stalled_uploads_past_the_budget_get_503_and_memory_stays_bounded() {
    const BUDGET: usize = 8 * 1024 * 1024;
    const UPLOADS: usize = 64;
    let budget = BUDGET.to_string();
    // A long grace, so the stalled uploads are held for the whole test.
    let (child, gateway) =
        start_binary(&["--body-budget", &budget, "--request-body-grace", "120s"]).await;
    let pid = child.id().unwrap();
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
    let (rss_before, _) = memory_kib(pid);

    // Each sends ~1 MB of a 1,040,000-byte JSON body, within --max-request-body, and stalls.
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| stalled_upload(&gateway, 1_040_000, 1_000_000, Duration::from_secs(10)))
        .collect();
    let mut refused = 0;
    let mut held = Vec::new();
    for upload in uploads {
        let (answer, stream) = upload.await.unwrap();
        if answer.is_empty() {
            held.push(stream);
            continue;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            answer.contains(r#""code":"body_budget_exhausted""#),
            "{answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        );
        refused += 1;
    }
    let (rss_stalled, peak) = memory_kib(pid);
    let in_use = budget_in_use(&gateway).await;
    eprintln!(
        "{refused} of {UPLOADS} refused, {} held; budget in use {in_use}; \
         RSS {rss_before} KiB before, {rss_stalled} KiB stalled, peak {peak} KiB",
        held.len()
    );
    assert!(in_use > 0.0 && in_use <= BUDGET as f64, "{in_use}");
    // About a MiB each fits in the budget; all the others were refused.
    assert!(held.len() <= BUDGET / 1_000_000, "{} held", held.len());
    assert_eq!(refused + held.len(), UPLOADS);
    // Without a budget the 64 uploads alone take ~64 MiB; with it, the budget and the
    // per-connection buffers (well under 256 KiB each) stay within half of that.
    let growth = peak.saturating_sub(rss_before);
    assert!(
        growth < (UPLOADS as u64 * 1024) / 2,
        "the gateway grew by {growth} KiB"
    );

    // The stalled clients go away: their buffers are freed with their connections.
    drop(held);
    let mut in_use = f64::NAN;
    for _ in 0..50 {
        in_use = budget_in_use(&gateway).await;
        if in_use == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        in_use, 0.0,
        "the budget is given back when the clients close"
    );
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
    drop(child);
}
