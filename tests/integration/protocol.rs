//! HTTP/2 is served like HTTP/1.1 (coalescing, retries, one rule for whether a request has
//! a body), and the HTTP/1.1 framing edges: what a bodiless request looks like upstream,
//! malformed chunking, transfer codings, an unasked-for 101 and oversized upstream heads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::protocol::*;
use crate::support::*;
use http::{Method, StatusCode, Version};

/// What an upstream takes per answer while identical requests pile up behind the first.
const UPSTREAM_DELAY: Duration = Duration::from_millis(500);

/// A small CUPI list, after `delay`.
async fn ports_upstream(delay: Duration) -> FakeUpstream {
    FakeUpstream::start_delayed(delay, |_| {
        respond(200, "application/xml", r#"<Ports total="0"/>"#)
    })
    .await
}

/// The first error's code in a body of the gateway's JSON error shape.
fn error_code_of(body: &[u8]) -> String {
    let body: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    body["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not the error shape: {body}"))
        .to_owned()
}

/// The status and the error code of a raw HTTP/1.1 answer.
fn raw_status_and_code(answer: &str) -> (u16, String) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, error_code_of(body.as_bytes()))
}

#[tokio::test]
async fn identical_concurrent_http2_reads_reach_the_upstream_once() {
    for tls in [false, true] {
        let upstream = ports_upstream(UPSTREAM_DELAY).await;
        let gateway =
            Arc::new(H2Gateway::start(&upstream.origin, GatewayOptions::default(), tls).await);
        // Open the connection first, so the ten streams share it.
        assert_eq!(gateway.get("/healthz").await.0, StatusCode::OK);

        let started = Instant::now();
        let reads: Vec<_> = (0..10)
            .map(|_| {
                let gateway = gateway.clone();
                tokio::spawn(async move { gateway.get("/vmrest/ports").await })
            })
            .collect();
        for read in reads {
            let (status, version, _) = read.await.unwrap();
            assert_eq!(
                (status, version),
                (StatusCode::OK, Version::HTTP_2),
                "tls {tls}"
            );
        }
        let elapsed = started.elapsed();
        assert_eq!(
            upstream.count(),
            1,
            "ten identical h2 reads, one upstream request (tls {tls})"
        );
        // Ten upstream requests through five slots take two rounds; one takes one.
        assert!(elapsed < UPSTREAM_DELAY * 10, "{elapsed:?} (tls {tls})");

        // Nothing is cached: the next read goes upstream again.
        assert_eq!(gateway.get("/vmrest/ports").await.0, StatusCode::OK);
        assert_eq!(upstream.count(), 2, "tls {tls}");
    }
}

#[tokio::test]
async fn an_upstream_503_to_an_http2_read_is_retried() {
    for tls in [false, true] {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let upstream = FakeUpstream::start(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
            0 => respond(503, "text/html", "<html>busy</html>"),
            _ => respond(200, "application/xml", r#"<Ports total="0"/>"#),
        })
        .await;
        let gateway = H2Gateway::start(&upstream.origin, GatewayOptions::default(), tls).await;

        let started = Instant::now();
        let (status, version, _) = gateway.get("/vmrest/ports").await;
        assert_eq!(
            (status, version),
            (StatusCode::OK, Version::HTTP_2),
            "tls {tls}"
        );
        assert_eq!(upstream.count(), 2, "the 503 was retried once (tls {tls})");
        // One backoff of 100 ms; a generous ceiling, well under the retry cap times two.
        assert!(started.elapsed() < Duration::from_secs(4), "tls {tls}");

        assert_eq!(gateway.get("/vmrest/ports").await.0, StatusCode::OK);
        assert_eq!(upstream.count(), 3, "tls {tls}");
    }
}

#[tokio::test]
async fn an_http2_upload_is_neither_coalesced_nor_retried() {
    for tls in [false, true] {
        let upstream =
            FakeUpstream::start_delayed(UPSTREAM_DELAY, |request| match request.method {
                Method::PUT => respond(503, "text/html", "<html>busy</html>"),
                _ => respond(200, "application/xml", r#"<Ports total="0"/>"#),
            })
            .await;
        let gateway = Arc::new(
            H2Gateway::start(&upstream.origin, GatewayOptions::without_validation(), tls).await,
        );
        assert_eq!(gateway.get("/healthz").await.0, StatusCode::OK);

        let started = Instant::now();
        let body = "<Port><DisplayName>x</DisplayName></Port>";
        let uploads: Vec<_> = (0..3)
            .map(|_| {
                let gateway = gateway.clone();
                tokio::spawn(
                    async move { gateway.send(Method::PUT, "/vmrest/ports/x", body).await },
                )
            })
            .collect();
        for upload in uploads {
            let (status, _, answer) = upload.await.unwrap();
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "tls {tls}");
            assert_eq!(error_code_of(&answer), "service_unavailable");
        }
        assert_eq!(
            upstream.count(),
            3,
            "three uploads, each sent once (tls {tls})"
        );
        assert_eq!(
            upstream.last().body,
            body.as_bytes(),
            "the body went upstream"
        );
        assert!(started.elapsed() < UPSTREAM_DELAY * 8, "tls {tls}");

        assert_eq!(gateway.get("/vmrest/ports").await.0, StatusCode::OK);
        assert_eq!(upstream.count(), 4, "tls {tls}");
    }
}

#[tokio::test]
async fn an_http2_burst_on_one_url_through_five_slots_gets_no_5xx() {
    let upstream = ports_upstream(Duration::from_millis(200)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let port = gateway.rsplit(':').next().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{port}");

    let (connections, streams) = (20, 20);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let ca = crate::support::pki::make_pki(&["localhost"]).ca_pem;
    for _ in 0..connections {
        // One client per connection; its streams share that connection.
        let client = Arc::new(h2_client(&ca));
        for _ in 0..streams {
            let (client, url) = (client.clone(), format!("{base}/vmrest/ports"));
            tasks.push(tokio::spawn(async move {
                let request = http::Request::get(url)
                    .header("authorization", "Basic YWRtaW46cGFzc3dvcmQ=")
                    .body(Default::default())
                    .unwrap();
                let response = client.request(request).await.expect("an answer");
                (response.status(), response.version())
            }));
        }
    }
    let mut server_errors = 0;
    for task in tasks {
        let (status, version) = task.await.unwrap();
        assert_eq!(version, Version::HTTP_2);
        server_errors += usize::from(status.is_server_error());
    }
    let elapsed = started.elapsed();
    assert_eq!(server_errors, 0, "of {} streams", connections * streams);
    // Coalesced: a handful of upstream rounds, not 400 requests through five slots.
    assert!(
        upstream.count() * 10 <= connections * streams,
        "{} upstream requests",
        upstream.count()
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");

    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

#[tokio::test]
async fn a_request_without_a_body_goes_upstream_without_one() {
    let (upstream, seen) = recording_upstream().await;
    let gateway = start_gateway(&upstream, GatewayOptions::without_validation()).await;
    let started = Instant::now();

    // HTTP/1.1: neither Content-Length nor Transfer-Encoding.
    for method in ["DELETE", "POST"] {
        let answer = raw_request(
            &gateway,
            &format!("{method} /vmrest/ports/x HTTP/1.1\r\nHost: g\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{method}: {answer}");
    }
    // HTTP/2: a HEADERS frame that ends the stream.
    let h2 = H2Gateway::start(&upstream, GatewayOptions::without_validation(), false).await;
    assert_eq!(
        h2.send(Method::DELETE, "/vmrest/ports/x", "").await.0,
        StatusCode::OK
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for request in &seen {
        let lower = request.to_ascii_lowercase();
        assert!(!lower.contains("transfer-encoding"), "{request:?}");
        assert!(
            lower.ends_with("\r\n\r\n"),
            "nothing follows the head: {request:?}"
        );
        let (_, after_head) = request.split_once("\r\n\r\n").unwrap();
        assert!(after_head.is_empty(), "no empty chunked body: {request:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_malformed_chunked_upload_is_400_not_an_upstream_fault() {
    let upstream = ports_upstream(Duration::ZERO).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let started = Instant::now();
    // The body streams to the upstream (no validation rule reads it), and breaks off in
    // mid-flight with a chunk size that is not hex.
    let answer = raw_request(
        &gateway,
        "PUT /vmrest/blobs/x HTTP/1.1\r\nHost: g\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\nzz\r\nnot a chunk\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(
        raw_status_and_code(&answer),
        (400, "request_body_error".to_owned()),
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at once, not after a timeout"
    );

    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_refused_with_501() {
    let upstream = ports_upstream(Duration::ZERO).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::without_validation()).await;
    let started = Instant::now();

    for codings in [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let answer = raw_request(
            &gateway,
            &format!("PUT /vmrest/blobs/x HTTP/1.1\r\nHost: g\r\nContent-Type: application/octet-stream\r\n{codings}\r\n5\r\nhello\r\n0\r\n\r\n"),
        )
        .await;
        assert_eq!(
            raw_status_and_code(&answer),
            (501, "unsupported_transfer_encoding".to_owned()),
            "{codings}: {answer}"
        );
    }
    assert_eq!(
        upstream.count(),
        0,
        "nothing was forwarded with its coding dropped"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Plain chunked still goes through.
    let answer = raw_request(
        &gateway,
        "PUT /vmrest/blobs/x HTTP/1.1\r\nHost: g\r\nContent-Type: application/octet-stream\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(upstream.last().body, "hello");
}

#[tokio::test]
async fn an_upstream_101_to_a_plain_request_is_502() {
    let upstream = upstream_bad_on(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nraw bytes".to_vec(),
    )
    .await;
    let gateway = start_gateway(&upstream, GatewayOptions::default()).await;

    let started = Instant::now();
    let response = get(&format!("{gateway}/vmrest/bad")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_protocol_error");
    assert!(started.elapsed() < Duration::from_secs(5));

    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

#[tokio::test]
async fn oversized_upstream_heads_are_502_and_not_buffered() {
    let big_header = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let many_headers = format!(
        "HTTP/1.1 200 OK\r\n{}content-length: 0\r\n\r\n",
        // 101 with content-length: one past the bound of 100.
        (0..100)
            .map(|n| format!("x-h{n}: v\r\n"))
            .collect::<String>()
    );
    for head in [big_header, many_headers] {
        let upstream = upstream_bad_on(head.into_bytes()).await;
        let gateway = start_gateway(&upstream, GatewayOptions::default()).await;

        let (before, started) = (resident_kib(), Instant::now());
        for _ in 0..20 {
            let response = get(&format!("{gateway}/vmrest/bad")).await;
            assert_eq!(response.status(), 502);
            assert_eq!(error_code(response).await, "upstream_protocol_error");
        }
        // Twenty refused heads of 100 KiB each: a generous ceiling far below keeping them.
        let grown = resident_kib().saturating_sub(before);
        assert!(grown < 64 * 1024, "resident memory grew {grown} KiB");
        assert!(started.elapsed() < Duration::from_secs(20));

        assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
    }
}
