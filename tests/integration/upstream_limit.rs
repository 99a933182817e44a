//! Shielding Unity Connection: never more than N requests at it, a bounded queue, and a 503
//! with `Retry-After` for what does not fit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use cupi_gateway::limit::LimitSettings;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// An upstream that takes `delay` per request and records the most it ever served at once.
async fn slow_upstream(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let current = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let seen_peak = peak.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (current, peak) = (current.clone(), peak.clone());
            tokio::spawn(async move {
                loop {
                    if !read_request_head(&mut stream).await {
                        return;
                    }
                    let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    current.fetch_sub(1, Ordering::SeqCst);
                    let body = br#"<Ports total="0"/>"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err()
                        || stream.write_all(body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (origin, seen_peak)
}

#[tokio::test]
async fn no_more_than_the_cap_reach_the_upstream_and_the_rest_wait_or_are_shed() {
    let (upstream, peak) = slow_upstream(Duration::from_secs(1)).await;
    let options = GatewayOptions {
        upstream_limit: LimitSettings {
            max_concurrent: 2,
            max_queued: 3,
            max_wait: Duration::from_secs(5),
            shared: None,
        },
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream, options).await;

    // 10 different reads at once (identical ones would be coalesced): 2 go up, 3 wait their
    // turn, 5 are shed at once.
    let requests: Vec<_> = (0..10)
        .map(|n| {
            let url = format!("{gateway}/vmrest/ports?pageNumber={n}");
            tokio::spawn(async move { get(&url).await })
        })
        .collect();
    let mut ok = 0;
    let mut shed = 0;
    for request in requests {
        let response = request.await.unwrap();
        match response.status().as_u16() {
            200 => ok += 1,
            503 => {
                assert_eq!(response.headers()["retry-after"], "5");
                assert_eq!(error_code(response).await, "upstream_busy");
                shed += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, shed), (5, 5));
    assert_eq!(
        peak.load(Ordering::SeqCst),
        2,
        "never more than the cap at the upstream"
    );

    // The queue drains: the next request is served.
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

#[tokio::test]
async fn a_wait_that_runs_out_is_shed_with_retry_after() {
    let (upstream, peak) = slow_upstream(Duration::from_secs(3)).await;
    let options = GatewayOptions {
        upstream_limit: LimitSettings {
            max_concurrent: 1,
            max_queued: 10,
            max_wait: Duration::from_millis(300),
            shared: None,
        },
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream, options).await;
    let first = {
        let url = format!("{gateway}/vmrest/ports");
        tokio::spawn(async move { get(&url).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = get(&format!("{gateway}/vmrest/ports?pageNumber=2")).await;
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");
    assert_eq!(first.await.unwrap().status(), 200);
    assert_eq!(peak.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_whole_request_has_a_deadline_that_covers_the_queue() {
    let (upstream, _) = slow_upstream(Duration::from_secs(3)).await;
    let options = GatewayOptions {
        upstream_limit: LimitSettings {
            max_concurrent: 1,
            max_queued: 10,
            max_wait: Duration::from_secs(10),
            shared: None,
        },
        request_timeout: Duration::from_millis(500),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream, options).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "gateway_timeout");
    // The gateway keeps serving its own routes meanwhile.
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );
}

type CallsByTarget = Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

/// An upstream that answers the first two calls to each target with a 503 error page (with
/// `Retry-After: retry_after` if given), then 200 for reads and 204 for writes.
async fn busy_twice_then_ok(retry_after: Option<&'static str>) -> (FakeUpstream, CallsByTarget) {
    let calls = CallsByTarget::default();
    let counter = calls.clone();
    let upstream = FakeUpstream::start(move |request| {
        let mut calls = counter.lock().unwrap();
        let n = calls.entry(request.target.clone()).or_default();
        *n += 1;
        if *n <= 2 {
            let mut busy = respond(
                503,
                "text/html",
                "<html><body>Service Unavailable</body></html>",
            );
            if let Some(seconds) = retry_after {
                busy.headers_mut()
                    .insert("retry-after", http::HeaderValue::from_static(seconds));
            }
            busy
        } else if request.method == http::Method::GET {
            respond(200, "application/xml", r#"<Ports total="0"/>"#)
        } else {
            respond(204, "", bytes::Bytes::new())
        }
    })
    .await;
    (upstream, calls)
}

#[tokio::test]
async fn reads_that_got_an_upstream_503_are_retried_and_writes_are_not() {
    let (upstream, calls) = busy_twice_then_ok(None).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let read = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(
        read.status(),
        200,
        "two 503s, then the third attempt succeeds"
    );
    assert_eq!(calls.lock().unwrap()["/vmrest/ports"], 3);

    let write = put(
        &format!("{gateway}/vmrest/users/u1"),
        "application/json",
        r#"{"User": {"Alias": "a"}}"#,
    )
    .await;
    assert_eq!(write.status(), 503, "a write is never repeated");
    assert_eq!(calls.lock().unwrap()["/vmrest/users/u1"], 1);

    // With retries off, the first 503 is the answer.
    let options = GatewayOptions {
        upstream_retries: 0,
        ..GatewayOptions::default()
    };
    let no_retries = start_gateway(&upstream.origin, options).await;
    let read = get(&format!("{no_retries}/vmrest/ports?rowsPerPage=1")).await;
    assert_eq!(read.status(), 503);
    assert_eq!(error_code(read).await, "service_unavailable");
    assert_eq!(calls.lock().unwrap()["/vmrest/ports?rowsPerPage=1"], 1);
}

#[tokio::test]
async fn an_upstream_retry_after_is_waited_for_and_passed_on_when_retries_run_out() {
    let (upstream, calls) = busy_twice_then_ok(Some("1")).await;

    let options = GatewayOptions {
        upstream_retries: 1,
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let started = std::time::Instant::now();
    let read = get(&format!("{gateway}/vmrest/ports")).await;
    // One retry, one second after the first 503: still busy, so the client gets the 503
    // with the server's `Retry-After`.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the retry waited"
    );
    assert_eq!(read.status(), 503);
    assert_eq!(read.headers()["retry-after"], "1");
    assert_eq!(error_code(read).await, "service_unavailable");
    assert_eq!(calls.lock().unwrap()["/vmrest/ports"], 2);

    // The third attempt is answered.
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}
