//! `GET /metrics`: what the gateway counts, in Prometheus' text format.

use crate::support::*;

#[tokio::test]
async fn metrics_count_requests_fallbacks_and_transcode_errors() {
    let upstream = FakeUpstream::start(|request| match request.target.as_str() {
        // The Cisco page's typo: a boolean field holding `>true`, kept as a string.
        "/vmrest/ports" => respond(
            200,
            "application/xml",
            r#"<Ports total="1"><Port><CapAnswer>&gt;true</CapAnswer><CapMWI>true</CapMWI></Port></Ports>"#,
        ),
        _ => respond(200, "application/xml", "<Ports total=\"1\"><Port>"),
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
    assert_eq!(
        get(&format!("{gateway}/vmrest/ports/p1")).await.status(),
        502
    );

    let response = get_anonymous(&format!("{gateway}/metrics")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for line in [
        r#"cupi_gateway_requests_total{route="/vmrest/ports",method="GET",status="200"} 1"#,
        r#"cupi_gateway_requests_total{route="/vmrest/ports/{objectId}",method="GET",status="502"} 1"#,
        "cupi_gateway_typed_fallbacks_total 1",
        r#"cupi_gateway_transcode_errors_total{direction="response",reason="truncated"} 1"#,
        "cupi_gateway_upstream_duration_seconds_count 2",
        "cupi_gateway_upstream_in_flight 0",
        "cupi_gateway_upstream_shed_total 0",
        // The shared budget's (tests/integration/shared_limit.rs): registered without Redis too.
        "cupi_gateway_upstream_limit_shared 0",
        "cupi_gateway_upstream_limit_leases 0",
        "cupi_gateway_upstream_limit_shared_waits_total 0",
        "cupi_gateway_upstream_limit_fallbacks_total 0",
        "cupi_gateway_upstream_limit_redis_duration_seconds_count 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains("cupi_gateway_request_duration_seconds_bucket{"),
        "{text}"
    );
}
