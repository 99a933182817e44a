//! W3C trace context end to end: what `traceparent` and `tracestate` reach a recording
//! upstream, what the client gets back, and what the access log writes, for valid, missing
//! and invalid trace headers, through retries and coalescing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::binary::{start, terminate};
use crate::support::logs::{access_json, access_text};
use crate::support::*;

const PORTS_XML: &str = r#"<Ports total="1"><Port><ObjectId>p1</ObjectId></Port></Ports>"#;
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A `traceparent` split into its four fields, after checking its shape: version `00`, 32 and
/// 16 lowercase hex digits, neither all zero, two flag digits.
fn fields(traceparent: &str) -> [String; 4] {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    let is_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    assert_eq!(parts[0], "00", "{traceparent}");
    assert!(
        is_hex(parts[1], 32) && parts[1] != "0".repeat(32),
        "{traceparent}"
    );
    assert!(
        is_hex(parts[2], 16) && parts[2] != "0".repeat(16),
        "{traceparent}"
    );
    assert!(is_hex(parts[3], 2), "{traceparent}");
    let parts: [&str; 4] = parts.try_into().unwrap();
    parts.map(str::to_owned)
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// GETs ports with these extra headers (appended, so a name may repeat); returns the
/// `traceparent` the client got back.
async fn get_with(gateway: &str, headers: &[(&str, &str)]) -> String {
    let mut request = client()
        .get(format!("{gateway}/vmrest/ports"))
        .basic_auth(AUTH.0, Some(AUTH.1));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    header(response.headers(), "traceparent").expect("a traceparent comes back")
}

async fn ports_upstream() -> FakeUpstream {
    FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await
}

#[tokio::test]
async fn a_valid_traceparent_is_continued_with_the_gateways_own_span() {
    let upstream = ports_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    for flags in ["01", "00"] {
        let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-{flags}");
        let returned = get_with(
            &gateway,
            &[
                ("traceparent", &caller),
                ("tracestate", "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
                // Aimed at the client's hop only: the gateway's own headers still go on.
                ("connection", "traceparent, tracestate"),
            ],
        )
        .await;
        let seen = upstream.last();
        let sent = header(&seen.headers, "traceparent").expect("sent upstream");
        let [_, trace_id, parent_id, sent_flags] = fields(&sent);
        assert_eq!(trace_id, TRACE_ID, "the caller's trace");
        assert_ne!(
            parent_id, CALLER_SPAN,
            "the gateway's own span, not the caller's"
        );
        assert_eq!(sent_flags, flags, "the sampled flag is the caller's");
        assert_eq!(
            returned, sent,
            "the client learns the span the upstream saw"
        );
        assert_eq!(
            header(&seen.headers, "tracestate").as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
    }
}

#[tokio::test]
async fn a_request_without_a_traceparent_starts_a_trace() {
    let upstream = ports_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let first = get_with(&gateway, &[("tracestate", "rojo=1")]).await;
    let seen = upstream.last();
    assert_eq!(header(&seen.headers, "traceparent"), Some(first.clone()));
    assert_eq!(
        header(&seen.headers, "tracestate"),
        None,
        "a tracestate belongs to the traceparent it came with"
    );
    let [_, trace_id, parent_id, flags] = fields(&first);
    assert_eq!(
        flags, "00",
        "the gateway records no spans, so it samples none"
    );

    let second = get_with(&gateway, &[]).await;
    let [_, other_trace, other_parent, _] = fields(&second);
    assert_ne!(other_trace, trace_id, "each request starts its own trace");
    assert_ne!(other_parent, parent_id);

    // The gateway's own answers name a trace too.
    let health = get_anonymous(&format!("{gateway}/healthz")).await;
    fields(&header(health.headers(), "traceparent").unwrap());
}

#[tokio::test]
async fn invalid_traceparents_are_replaced_and_their_tracestate_dropped() {
    let upstream = ports_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let valid = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let invalid = [
        valid.to_uppercase(),
        format!("00-{}-{CALLER_SPAN}-01", "0".repeat(32)),
        format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),
        format!("ff-{TRACE_ID}-{CALLER_SPAN}-01"),
        format!("{valid}-extra"),
        format!("00-{TRACE_ID}-{CALLER_SPAN}"),
        format!("00-{TRACE_ID}x-{CALLER_SPAN}-01"),
    ];
    for traceparent in &invalid {
        let returned = get_with(
            &gateway,
            &[("traceparent", traceparent), ("tracestate", "rojo=1")],
        )
        .await;
        let seen = upstream.last();
        let sent = header(&seen.headers, "traceparent").unwrap();
        assert_eq!(returned, sent);
        let [_, trace_id, _, flags] = fields(&sent);
        assert_ne!(trace_id, TRACE_ID, "{traceparent:?} was not replaced");
        assert_eq!(flags, "00", "{traceparent:?}: a new trace is not sampled");
        assert_eq!(header(&seen.headers, "tracestate"), None, "{traceparent:?}");
    }

    // Two traceparents: which one the trace follows is not the client's to leave open.
    let doubled = [
        ("traceparent", valid.as_str()),
        ("traceparent", valid.as_str()),
    ];
    let returned = get_with(&gateway, &doubled).await;
    assert_ne!(fields(&returned)[1], TRACE_ID);
    assert_eq!(
        upstream
            .last()
            .headers
            .get_all("traceparent")
            .iter()
            .count(),
        1
    );
}

/// Sends a valid `traceparent` with these `tracestate` fields; returns the `tracestate` the
/// upstream got, after checking the trace was continued.
async fn tracestate_sent(
    gateway: &str,
    upstream: &FakeUpstream,
    state: Vec<&str>,
) -> Option<String> {
    let valid = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let mut headers = vec![("traceparent", valid.as_str())];
    headers.extend(state.into_iter().map(|value| ("tracestate", value)));
    get_with(gateway, &headers).await;
    let seen = upstream.last();
    let [_, trace_id, _, _] = fields(&header(&seen.headers, "traceparent").unwrap());
    assert_eq!(
        trace_id, TRACE_ID,
        "a bad tracestate never breaks the trace"
    );
    let values: Vec<_> = seen.headers.get_all("tracestate").iter().collect();
    assert!(values.len() <= 1, "{values:?}");
    values.first().map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn tracestate_is_passed_on_bounded_or_dropped() {
    let upstream = ports_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    // Several fields are one list.
    assert_eq!(
        tracestate_sent(&gateway, &upstream, vec!["rojo=1", "congo=2"])
            .await
            .as_deref(),
        Some("rojo=1,congo=2")
    );
    let members = |n: usize| (0..n).map(|i| format!("k{i}=v")).collect::<Vec<_>>();
    let thirty_two = members(32).join(",");
    assert_eq!(
        tracestate_sent(&gateway, &upstream, vec![&thirty_two]).await,
        Some(thirty_two.clone())
    );
    let thirty_three = members(33).join(",");
    assert_eq!(
        tracestate_sent(&gateway, &upstream, vec![&thirty_three]).await,
        None
    );
    for invalid in ["Rojo=1", "rojo=1,rojo=2", "rojo", "rojo=a=b"] {
        assert_eq!(
            tracestate_sent(&gateway, &upstream, vec![invalid]).await,
            None,
            "{invalid:?}"
        );
    }

    // 600 characters in ten members: whole members go, from the end, to fit 512.
    let long: Vec<String> = (0..10)
        .map(|i| format!("k{i}={}", "v".repeat(56)))
        .collect();
    let kept = tracestate_sent(&gateway, &upstream, vec![&long.join(",")])
        .await
        .unwrap();
    assert!(kept.len() <= 512, "{} characters", kept.len());
    assert_eq!(kept, long[..8].join(","));
}

#[tokio::test]
async fn a_retry_is_a_new_span_of_the_same_trace() {
    // Busy once, then answers: the gateway retries the read once.
    let answered = AtomicUsize::new(0);
    let upstream = FakeUpstream::start(move |_| match answered.fetch_add(1, Ordering::SeqCst) {
        0 => respond(503, "text/plain", "queue full"),
        _ => respond(200, "application/xml", PORTS_XML),
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let returned = get_with(
        &gateway,
        &[("traceparent", &caller), ("tracestate", "rojo=1")],
    )
    .await;

    let attempts: Vec<Recorded> = upstream.requests.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2, "the first try and one retry");
    let sent: Vec<[String; 4]> = attempts
        .iter()
        .map(|a| fields(&header(&a.headers, "traceparent").unwrap()))
        .collect();
    assert_eq!(sent[0][1], TRACE_ID);
    assert_eq!(sent[1][1], TRACE_ID);
    assert_ne!(sent[0][2], sent[1][2], "each attempt has its own parent-id");
    assert_eq!(sent[1][3], "01");
    assert_eq!(
        fields(&returned),
        sent[0],
        "the client learns the first attempt"
    );
    for attempt in &attempts {
        assert_eq!(
            header(&attempt.headers, "tracestate").as_deref(),
            Some("rojo=1")
        );
    }
}

#[tokio::test]
async fn coalesced_reads_send_the_leaders_traceparent_and_answer_each_with_its_own() {
    let upstream = FakeUpstream::start_delayed(Duration::from_millis(600), |_| {
        respond(200, "application/xml", PORTS_XML)
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let trace_ids: Vec<String> = (1..=4).map(|n| format!("{n:032x}")).collect();
    let requests: Vec<_> = trace_ids
        .iter()
        .map(|trace_id| {
            let gateway = gateway.clone();
            let traceparent = format!("00-{trace_id}-{CALLER_SPAN}-01");
            tokio::spawn(async move { get_with(&gateway, &[("traceparent", &traceparent)]).await })
        })
        .collect();
    let mut returned = Vec::new();
    for request in requests {
        returned.push(request.await.unwrap());
    }
    assert_eq!(
        upstream.count(),
        1,
        "one upstream request for the four reads"
    );
    for (traceparent, trace_id) in returned.iter().zip(&trace_ids) {
        assert_eq!(
            &fields(traceparent)[1],
            trace_id,
            "each caller keeps its trace"
        );
    }
    let sent = header(&upstream.last().headers, "traceparent").unwrap();
    assert!(
        returned.contains(&sent),
        "{sent} is one caller's span: {returned:?}"
    );
}

#[tokio::test]
async fn cors_lets_browsers_send_and_read_traceparent() {
    let upstream = ports_upstream().await;
    let options = GatewayOptions {
        cors_allowed_origins: vec!["https://app.example.com".parse().unwrap()],
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let preflight = client()
        .request(reqwest::Method::OPTIONS, format!("{gateway}/vmrest/ports"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "traceparent,tracestate")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let allowed = header(preflight.headers(), "access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("traceparent") && allowed.contains("tracestate"),
        "{allowed}"
    );

    let response = client()
        .get(format!("{gateway}/vmrest/ports"))
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let exposed = header(response.headers(), "access-control-expose-headers").unwrap();
    assert!(exposed.contains("traceparent"), "{exposed}");
}

#[tokio::test]
async fn the_text_access_log_has_the_trace_id_beside_the_request_id() {
    let (child, base, _) = start(&[], &[("CUPI_GATEWAY_LISTEN", "127.0.0.1:0")], "/healthz").await;
    let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    get_with(
        &base,
        &[("traceparent", &caller), ("x-request-id", "frontend-7")],
    )
    .await;
    let started = get_with(&base, &[("x-request-id", "frontend-8")]).await;

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "{log}");
    let ids: Vec<Vec<(String, bool)>> = access_text(&log)
        .iter()
        .map(|line| {
            ["request_id", "trace_id"]
                .map(|key| {
                    let field = line.iter().find(|f| f.key == key);
                    let field = field.unwrap_or_else(|| panic!("no {key} in {line:?}"));
                    (field.value.clone(), field.quoted)
                })
                .to_vec()
        })
        .collect();
    // The trace id is the gateway's own hex: written bare, unlike the client's request id.
    assert_eq!(
        ids,
        [
            [
                ("frontend-7".to_owned(), true),
                (TRACE_ID.to_owned(), false)
            ],
            [
                ("frontend-8".to_owned(), true),
                (fields(&started)[1].clone(), false)
            ],
        ],
        "{log}"
    );
}

#[tokio::test]
async fn the_json_access_log_has_the_trace_id() {
    let env = [
        ("CUPI_GATEWAY_LISTEN", "127.0.0.1:0"),
        ("CUPI_GATEWAY_LOG_FORMAT", "json"),
    ];
    let (child, base, _) = start(&[], &env, "/healthz").await;
    let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-00");
    get_with(
        &base,
        &[("traceparent", &caller), ("x-request-id", "frontend-9")],
    )
    .await;

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "{log}");
    let access = access_json(&log);
    assert_eq!(access.len(), 1, "{log}");
    assert_eq!(access[0]["fields"]["trace_id"], TRACE_ID, "{log}");
    assert_eq!(access[0]["fields"]["request_id"], "frontend-9", "{log}");
}
