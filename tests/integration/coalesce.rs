//! Identical concurrent reads share one upstream request; different credentials, cookies,
//! writes and streamed bodies never do.

use std::time::Duration;

use crate::support::*;

/// An upstream that takes a while and echoes who asked, so a shared answer would show.
async fn echoing_upstream() -> FakeUpstream {
    FakeUpstream::start_delayed(Duration::from_millis(800), |request| {
        let who = |name: &str| {
            request
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let body = format!(
            "<Ports total=\"1\"><Port><DisplayName>{}|{}</DisplayName></Port></Ports>",
            who("authorization"),
            who("cookie"),
        );
        respond(200, "application/xml", body)
    })
    .await
}

/// Sends `count` copies of a GET at once, each built by `build`.
async fn at_once(
    count: usize,
    build: impl Fn(usize) -> reqwest::RequestBuilder,
) -> Vec<reqwest::Response> {
    let requests: Vec<_> = (0..count).map(|n| tokio::spawn(build(n).send())).collect();
    let mut responses = Vec::new();
    for request in requests {
        responses.push(request.await.unwrap().unwrap());
    }
    responses
}

#[tokio::test]
async fn identical_concurrent_reads_reach_the_upstream_once() {
    let upstream = echoing_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let url = format!("{gateway}/vmrest/ports");

    let responses = at_once(8, |_| client().get(&url).basic_auth("admin", Some("pw"))).await;
    let mut bodies = Vec::new();
    let mut request_ids = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        request_ids.insert(response.headers()["x-request-id"].clone());
        bodies.push(json(response).await);
    }
    assert_eq!(upstream.count(), 1, "one upstream request for eight reads");
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert_eq!(bodies[0]["Port"][0]["DisplayName"], "Basic YWRtaW46cHc=|");
    assert_eq!(request_ids.len(), 8, "each caller keeps its own request id");
    assert_eq!(
        metric(&gateway, "cupi_gateway_coalesced_requests_total").await,
        7.0
    );

    // Nothing is cached: the next read, alone, goes upstream again.
    assert_eq!(get(&url).await.status(), 200);
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn answers_are_never_shared_across_credentials_or_cookies() {
    let upstream = echoing_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let url = format!("{gateway}/vmrest/ports");

    // Nine reads: three as alice, three as bob, three as alice with a session cookie.
    let responses = at_once(9, |n| {
        let request = client().get(&url);
        match n % 3 {
            0 => request.basic_auth("alice", Some("a")),
            1 => request.basic_auth("bob", Some("b")),
            _ => request
                .basic_auth("alice", Some("a"))
                .header("cookie", "JSESSIONID=s1"),
        }
    })
    .await;
    for (n, response) in responses.into_iter().enumerate() {
        let body = json(response).await;
        let expected = match n % 3 {
            0 => "Basic YWxpY2U6YQ==|",
            1 => "Basic Ym9iOmI=|",
            _ => "Basic YWxpY2U6YQ==|JSESSIONID=s1",
        };
        assert_eq!(body["Port"][0]["DisplayName"], expected, "request {n}");
    }
    assert_eq!(upstream.count(), 3, "one upstream request per principal");
}

#[tokio::test]
async fn a_failure_is_shared_like_an_answer() {
    // The upstream answers after the gateway has given up: every caller gets the leader's 504.
    let upstream = echoing_upstream().await;
    let options = GatewayOptions {
        response_timeout: Duration::from_millis(300),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let url = format!("{gateway}/vmrest/ports");
    let responses = at_once(4, |_| client().get(&url).basic_auth("admin", Some("pw"))).await;
    for response in responses {
        assert_eq!(response.status(), 504);
        assert_eq!(error_code(response).await, "upstream_timeout");
    }
    assert_eq!(upstream.count(), 1);
    // And the gateway keeps serving.
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );
}

#[tokio::test]
async fn writes_and_streamed_bodies_are_never_shared() {
    let upstream = FakeUpstream::start_delayed(Duration::from_millis(300), |request| {
        if request.method == http::Method::PUT {
            respond(204, "", bytes::Bytes::new())
        } else {
            // A greeting: audio streams through, so each caller gets its own.
            respond(200, "audio/wav", "RIFF....WAVE")
        }
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::without_validation()).await;

    let url = format!("{gateway}/vmrest/handlers/callhandlers/h1/greetings/Standard/audio");
    let responses = at_once(3, |_| {
        client()
            .get(&url)
            .basic_auth("admin", Some("pw"))
            .header("accept", "audio/wav")
    })
    .await;
    for response in responses {
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap(), "RIFF....WAVE");
    }
    assert_eq!(upstream.count(), 3);

    let url = format!("{gateway}/vmrest/portgroups/g1");
    let responses = at_once(3, |_| {
        client()
            .put(&url)
            .basic_auth("admin", Some("pw"))
            .header("content-type", "application/json")
            .body(r#"{"MwiOnCode":"1"}"#)
    })
    .await;
    for response in responses {
        assert_eq!(response.status(), 204);
    }
    assert_eq!(upstream.count(), 6);
    assert_eq!(
        metric(&gateway, "cupi_gateway_coalesced_requests_total").await,
        0.0
    );
}
