//! What a client without credentials can do to the gateway's metrics, its CORS answers and
//! its log: invent methods to grow `/metrics`, ride an upstream's reflected CORS headers past
//! the allow-list, and craft paths and request ids that would forge log fields.

use std::time::{Duration, Instant};

use crate::support::binary::{start, terminate};
use crate::support::logs::{access_json, access_text, Field};
use crate::support::*;
use reqwest::Method;

/// Generous: these machines are shared; the point is "answered", not "fast".
const ANSWER_CEILING: Duration = Duration::from_secs(10);

#[tokio::test]
async fn invented_methods_share_one_metrics_label_and_do_not_grow_metrics() {
    let gateway = start_stack().await;
    let send_invented = |i: usize| {
        let url = format!("{gateway}/vmrest/ports");
        async move {
            // 1 KB, unique per request: the label set a client could otherwise mint anew.
            let method = Method::from_bytes(format!("X{i:0>1023}").as_bytes()).unwrap();
            client().request(method, url).send().await.unwrap()
        }
    };
    let first = send_invented(0).await;
    assert_eq!(first.status(), 405);
    assert_eq!(error_code(first).await, "method_not_allowed");
    // Twice: the first scrape adds the `/metrics` route's own label sets.
    let metrics_url = format!("{gateway}/metrics");
    get_anonymous(&metrics_url).await;
    let before = get_anonymous(&metrics_url).await.text().await.unwrap();

    let started = Instant::now();
    for i in 1..200 {
        let response = send_invented(i).await;
        assert_eq!(response.status(), 405, "request {i}");
        assert_eq!(error_code(response).await, "method_not_allowed");
    }
    assert!(
        started.elapsed() < 6 * ANSWER_CEILING,
        "{:?}",
        started.elapsed()
    );

    let after = get_anonymous(&metrics_url).await.text().await.unwrap();
    let growth = after.len() as f64 / before.len() as f64;
    assert!(
        growth < 1.2,
        "/metrics grew {} -> {} bytes ({growth:.2}x)",
        before.len(),
        after.len()
    );
    let counted =
        r#"cupi_gateway_requests_total{route="/vmrest/ports",method="other",status="405"} 200"#;
    assert!(after.contains(counted), "missing {counted:?} in:\n{after}");
    assert!(
        !after.contains("X0000"),
        "an invented method became a label"
    );

    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

/// An upstream that grants CORS to whatever `Origin` it is sent, credentials included: what a
/// misconfigured Tomcat filter, or a hostile server, does.
async fn reflecting_upstream() -> FakeUpstream {
    FakeUpstream::start(|request| {
        let origin = request
            .headers
            .get("origin")
            .cloned()
            .unwrap_or(http::HeaderValue::from_static("*"));
        let mut response = respond(200, "application/xml", "<Ports total=\"0\"/>");
        let headers = response.headers_mut();
        headers.insert("access-control-allow-origin", origin);
        headers.insert(
            "access-control-allow-credentials",
            http::HeaderValue::from_static("true"),
        );
        headers.insert(
            "access-control-expose-headers",
            http::HeaderValue::from_static("set-cookie"),
        );
        headers.insert(
            "access-control-allow-methods",
            http::HeaderValue::from_static("GET, PUT, DELETE"),
        );
        response
    })
    .await
}

/// The response's `Access-Control-*` headers, as `name: value` lines.
fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
        .collect()
}

/// A browser's request from `origin`, without credentials.
async fn send_from(method: Method, url: &str, origin: &str) -> reqwest::Response {
    let request = client()
        .request(method, url)
        .header("origin", origin)
        .send();
    tokio::time::timeout(ANSWER_CEILING, request)
        .await
        .expect("answered")
        .unwrap()
}

#[tokio::test]
async fn with_cors_closed_no_upstream_cors_header_reaches_the_client() {
    let upstream = reflecting_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let url = format!("{gateway}/vmrest/ports");

    let response = send_from(Method::GET, &url, "http://evil.example").await;
    assert_eq!(response.status(), 200);
    assert_eq!(cors_headers(&response), Vec::<String>::new());
    // The upstream did reflect it: the gateway is what removed it.
    assert_eq!(upstream.last().headers["origin"], "http://evil.example");

    // A refused request never reaches the upstream, and carries no CORS grant either.
    let response = send_from(Method::DELETE, &url, "http://evil.example").await;
    assert_eq!(response.status(), 405);
    assert_eq!(cors_headers(&response), Vec::<String>::new());
    assert_eq!(error_code(response).await, "method_not_allowed");

    assert_eq!(get(&url).await.status(), 200);
}

#[tokio::test]
async fn with_an_allow_list_only_listed_origins_get_the_gateways_own_cors_headers() {
    let upstream = reflecting_upstream().await;
    let options = GatewayOptions {
        cors_allowed_origins: vec![http::HeaderValue::from_static("http://app.example")],
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let url = format!("{gateway}/vmrest/ports");

    // tower-http's CorsLayer sends its fixed credentials and expose headers to any origin;
    // without an allow-origin naming it, a browser grants nothing.
    let gateways_fixed = [
        "access-control-allow-credentials: true",
        "access-control-expose-headers: location,retry-after,allow,x-request-id,traceparent",
    ];
    let evil = send_from(Method::GET, &url, "http://evil.example").await;
    assert_eq!(evil.status(), 200);
    assert_eq!(cors_headers(&evil), gateways_fixed);

    let allowed = send_from(Method::GET, &url, "http://app.example").await;
    assert_eq!(allowed.status(), 200);
    let mut granted = cors_headers(&allowed);
    granted.sort();
    // The gateway's own: its origin, its credentials flag, its exposed headers (never
    // the upstream's `set-cookie`), once each.
    assert_eq!(
        granted,
        [
            "access-control-allow-credentials: true",
            "access-control-allow-origin: http://app.example",
            "access-control-expose-headers: location,retry-after,allow,x-request-id,traceparent",
        ]
    );

    let refused = send_from(Method::DELETE, &url, "http://evil.example").await;
    assert_eq!(refused.status(), 405);
    assert_eq!(cors_headers(&refused), gateways_fixed);
    assert_eq!(error_code(refused).await, "method_not_allowed");

    assert_eq!(get(&url).await.status(), 200);
}

/// Sends a raw HTTP/1.1 request and returns its status and its `x-request-id`.
async fn raw_get(base: &str, target: &str, request_id: &str) -> (u16, String) {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: gw\r\nx-request-id: {request_id}\r\nConnection: close\r\n\r\n"
    );
    let answer = raw_request(base, &request).await;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let id = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("no x-request-id in {answer:?}"))
        .to_owned();
    (status, id)
}

/// A path that, logged raw, reads as a second `status` and `path`.
const FORGING_PATH: &str = r#"/vmrest/users/a"status=200"path="/x"#;
/// A fit request id (visible ASCII, short) that, logged raw, reads as a second `status`.
const QUOTING_ID: &str = r#"id"status=200"path="/x"#;

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[tokio::test]
async fn client_values_in_the_text_log_are_quoted_and_unfit_request_ids_replaced() {
    let (child, base, _) = start(&[], &[("CUPI_GATEWAY_LISTEN", "127.0.0.1:0")], "/healthz").await;

    let (status, id) = raw_get(&base, FORGING_PATH, QUOTING_ID).await;
    assert_eq!(status, 401, "no credentials");
    assert_eq!(id, QUOTING_ID, "a fit id is the client's to keep");
    let mut replaced = Vec::new();
    for unfit in [
        "forged status=200 path=/x".to_owned(),
        "forged\tstatus=200\tpath=/x".to_owned(),
        "A".repeat(129),
    ] {
        let (status, id) = raw_get(&base, "/vmrest/ports", &unfit).await;
        assert_eq!(status, 401);
        assert!(
            is_uuid(&id),
            "{unfit:?} came back as {id:?}, not a fresh UUID"
        );
        replaced.push(id);
    }
    let normal = get(&format!("{base}/vmrest/portgroups")).await;
    assert_eq!(normal.status(), 200);
    let normal_id = normal.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "{log}");
    let access = access_text(&log);
    assert_eq!(access.len(), 5, "one access line per request:\n{log}");
    for fields in &access {
        for key in ["request_id", "method", "path", "status", "elapsed_ms"] {
            let found: Vec<_> = fields.iter().filter(|f| f.key == key).collect();
            assert_eq!(found.len(), 1, "{key} once in {fields:?}");
            let client_controlled = ["request_id", "method", "path"].contains(&key);
            assert_eq!(found[0].quoted, client_controlled, "{fields:?}");
        }
    }
    let value = |fields: &[Field], key: &str| {
        let field = fields.iter().find(|f| f.key == key).unwrap();
        field.value.clone()
    };
    let logged_ids: Vec<String> = access.iter().map(|f| value(f, "request_id")).collect();
    assert_eq!(
        logged_ids[..],
        [
            QUOTING_ID.to_owned(),
            replaced[0].clone(),
            replaced[1].clone(),
            replaced[2].clone(),
            normal_id
        ]
    );
    assert_eq!(value(&access[0], "path"), FORGING_PATH);
    assert_eq!(value(&access[0], "status"), "401");
}

#[tokio::test]
async fn client_values_in_the_json_log_are_plain_strings() {
    let env = [
        ("CUPI_GATEWAY_LISTEN", "127.0.0.1:0"),
        ("CUPI_GATEWAY_LOG_FORMAT", "json"),
    ];
    let (child, base, _) = start(&[], &env, "/healthz").await;
    let (status, id) = raw_get(&base, FORGING_PATH, QUOTING_ID).await;
    assert_eq!(status, 401);
    assert_eq!(id, QUOTING_ID);
    assert_eq!(
        get(&format!("{base}/vmrest/portgroups")).await.status(),
        200
    );

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "{log}");
    let access = access_json(&log);
    assert_eq!(access.len(), 2, "{log}");
    let fields = &access[0]["fields"];
    assert_eq!(fields["request_id"], QUOTING_ID, "{fields}");
    assert_eq!(fields["path"], FORGING_PATH, "{fields}");
    assert_eq!(fields["method"], "GET", "{fields}");
    assert_eq!(fields["status"], 401, "{fields}");
}
