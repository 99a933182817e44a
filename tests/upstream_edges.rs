//! Edge cases driven through a hand-rolled upstream: what exactly reaches the server, and
//! what the client gets for answers a simulator would never give.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::*;

const PORTS_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Ports total="1"><Port><ObjectId>p1</ObjectId><PortNumInGroup>1</PortNumInGroup></Port></Ports>"#;

#[tokio::test]
async fn request_reaches_upstream_as_a_proxy_should_send_it() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let gateway_authority = gateway.trim_start_matches("http://").to_owned();

    let path = "/vmrest/ports?query=(DisplayName%20startswith%20A%2fB)&sort=(x%20asc)&a=%7E~";
    let response = client()
        .get(format!("{gateway}{path}"))
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("accept", "application/json")
        .header("cookie", "JSESSIONID=abc; JSESSIONIDSSO=def")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "1")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("te", "trailers")
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let seen = upstream.last();
    assert_eq!(seen.target, path, "path and query byte for byte");
    let header = |name: &str| {
        seen.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("authorization").unwrap(),
        "Basic YWRtaW46cGFzc3dvcmQ="
    );
    assert_eq!(
        header("cookie").unwrap(),
        "JSESSIONID=abc; JSESSIONIDSSO=def"
    );
    assert_eq!(
        header("host").unwrap(),
        upstream.origin.trim_start_matches("http://")
    );
    assert_eq!(header("accept").unwrap(), "application/xml");
    assert_eq!(
        header("accept-encoding").unwrap(),
        "identity",
        "XML must come uncompressed"
    );
    assert_eq!(header("x-forwarded-for").unwrap(), "127.0.0.1");
    assert_eq!(header("x-forwarded-proto").unwrap(), "http");
    assert_eq!(header("x-forwarded-host").unwrap(), gateway_authority);
    for hop in ["x-drop-me", "proxy-authorization", "te"] {
        assert_eq!(header(hop), None, "{hop} must not be forwarded");
    }
}

#[tokio::test]
async fn response_headers_are_rewritten_and_cookies_kept() {
    let upstream = FakeUpstream::start(|request| {
        let location = format!(
            "http://{}/vmrest/users/new-id",
            request.headers["host"].to_str().unwrap()
        );
        let mut response = respond(201, "application/xml", "<URI>/vmrest/users/new-id</URI>");
        let headers = response.headers_mut();
        headers.insert("location", location.parse().unwrap());
        headers.append(
            "set-cookie",
            "JSESSIONIDSSO=s1; Path=/; Secure; HttpOnly"
                .parse()
                .unwrap(),
        );
        headers.append(
            "set-cookie",
            "JSESSIONID=s2; Path=/vmrest; Secure; HttpOnly"
                .parse()
                .unwrap(),
        );
        headers.insert("connection", "x-hop".parse().unwrap());
        headers.insert("x-hop", "1".parse().unwrap());
        headers.insert("keep-alive", "timeout=5".parse().unwrap());
        response
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let response = send(
        reqwest::Method::POST,
        &format!("{gateway}/vmrest/users"),
        "application/json",
        r#"{"User": {"Alias": "jdoe"}}"#,
    )
    .await;
    assert_eq!(response.status(), 201);
    let headers = response.headers().clone();
    assert_eq!(
        headers["location"],
        format!("{gateway}/vmrest/users/new-id")
    );
    let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert_eq!(
        cookies,
        [
            "JSESSIONIDSSO=s1; Path=/; Secure; HttpOnly",
            "JSESSIONID=s2; Path=/vmrest; Secure; HttpOnly"
        ]
    );
    assert!(!headers.contains_key("x-hop"));
    assert!(!headers.contains_key("keep-alive"));
    let declared: usize = headers["content-length"].to_str().unwrap().parse().unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(
        declared,
        body.len(),
        "Content-Length matches the transcoded body"
    );
    assert_eq!(&body[..], br#""/vmrest/users/new-id""#);

    // The unknown resource's JSON went up as XML with the wrapping key as its root.
    let seen = upstream.last();
    assert_eq!(seen.headers["content-type"], "application/xml");
    assert_eq!(
        seen.headers["content-length"].to_str().unwrap(),
        seen.body.len().to_string()
    );
    assert_eq!(
        std::str::from_utf8(&seen.body).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><User><Alias>jdoe</Alias></User>"#
    );
}

#[tokio::test]
async fn html_and_text_error_pages_become_json_errors_with_the_status_kept() {
    let upstream = FakeUpstream::start(|request| match request.target.as_str() {
        "/vmrest/html" => respond(
            500,
            "text/html;charset=utf-8",
            "<html><head><title>Error</title></head><body><h1>HTTP Status 500 - Internal Server Error</h1></body></html>",
        ),
        "/vmrest/text" => respond(503, "text/plain", "Service Unavailable: queue full"),
        _ => respond(200, "text/plain", "just text"),
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let html = get(&format!("{gateway}/vmrest/html")).await;
    assert_eq!(html.status(), 500);
    let body = json(html).await;
    assert_eq!(body["errors"][0]["code"], "internal_server_error");
    assert_eq!(
        body["errors"][0]["message"],
        "Error HTTP Status 500 - Internal Server Error"
    );

    let text = get(&format!("{gateway}/vmrest/text")).await;
    assert_eq!(text.status(), 503);
    let body = json(text).await;
    assert_eq!(body["errors"][0]["code"], "service_unavailable");
    assert_eq!(
        body["errors"][0]["message"],
        "Service Unavailable: queue full"
    );

    // Plain text that is not an error is not touched.
    let ok = get(&format!("{gateway}/vmrest/ok")).await;
    assert_eq!(ok.headers()["content-type"], "text/plain");
    assert_eq!(ok.text().await.unwrap(), "just text");
}

#[tokio::test]
async fn malformed_or_truncated_xml_is_a_502_json_error() {
    let upstream = FakeUpstream::start(|request| match request.target.as_str() {
        "/vmrest/mismatch" => respond(200, "application/xml", "<Ports total=\"1\"><Port></Ports>"),
        "/vmrest/truncated" => respond(
            200,
            "application/xml",
            "<Ports total=\"1\"><Port><ObjectId>p",
        ),
        "/vmrest/doctype" => respond(
            200,
            "application/xml",
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><a>&lol2;</a>",
        ),
        _ => respond(200, "application/xml", b"<a>\xff</a>".to_vec()),
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for path in ["mismatch", "truncated", "doctype", "badutf8"] {
        let response = get(&format!("{gateway}/vmrest/{path}")).await;
        assert_eq!(response.status(), 502, "{path}");
        assert_eq!(error_code(response).await, "upstream_invalid_xml", "{path}");
    }
}

#[tokio::test]
async fn body_that_ends_early_is_a_502_never_half_json() {
    // Declares 500 bytes, sends 60, closes.
    let upstream = raw_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 500\r\n\r\n<Ports total=\"2\"><Port><ObjectId>p1</ObjectId></Port><Port>",
        Duration::ZERO,
    )
    .await;
    let gateway = start_gateway(&upstream, GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_body_error");
}

#[tokio::test]
async fn upstream_down_is_502_and_slow_upstream_is_504() {
    let closed = closed_port().await;
    let gateway = start_gateway(&format!("http://{closed}"), GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_unreachable");

    let slow = raw_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    let options = GatewayOptions {
        response_timeout: Duration::from_millis(300),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&slow, options).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "upstream_timeout");
    // And the gateway keeps serving.
    let health = client()
        .get(format!("{gateway}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn non_xml_bodies_stream_through_untouched_both_ways() {
    // Larger than both transcoding limits: only a streamed pass-through gets it across.
    let audio: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let answer = Bytes::from(audio.clone());
    let upstream = FakeUpstream::start(move |request| {
        if request.method == http::Method::GET {
            respond(200, "audio/wav", answer.clone())
        } else {
            respond(204, "", Bytes::new())
        }
    })
    .await;
    let options = GatewayOptions {
        limits: cupi_gateway::transcode::Limits {
            max_request_body: 1024,
            max_response_body: 1024,
        },
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let url =
        format!("{gateway}/vmrest/users/u1/greetings/Standard/greetingstreamfiles/1033/audio");

    let download = client()
        .get(&url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("accept", "audio/wav")
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "audio/wav");
    assert_eq!(download.bytes().await.unwrap(), &audio[..]);
    assert_eq!(
        upstream.last().headers["accept"],
        "audio/wav",
        "binary Accept is forwarded"
    );

    let upload = put(&url, "audio/wav", audio.clone()).await;
    assert_eq!(upload.status(), 204);
    let seen = upstream.last();
    assert_eq!(seen.headers["content-type"], "audio/wav");
    assert!(seen.body == audio, "upload arrived unchanged");

    let multipart = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n{\"not\": \"json to transcode\"}\r\n--b--\r\n";
    let response = send(
        reqwest::Method::POST,
        &format!("{gateway}/vmrest/voicefiles"),
        "multipart/form-data; boundary=b",
        multipart,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, multipart.as_bytes());
}

#[tokio::test]
async fn empty_and_encoded_bodies_are_not_transcoded() {
    let upstream = FakeUpstream::start(|request| match request.target.as_str() {
        "/vmrest/empty" => respond(204, "", Bytes::new()),
        "/vmrest/empty-xml" => respond(200, "application/xml", Bytes::new()),
        _ => {
            let mut response = respond(200, "application/xml", vec![0x1f, 0x8b, 0x08, 0x00]);
            response
                .headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            response
        }
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let empty = get(&format!("{gateway}/vmrest/empty")).await;
    assert_eq!(empty.status(), 204);
    assert!(empty.bytes().await.unwrap().is_empty());

    let empty_xml = get(&format!("{gateway}/vmrest/empty-xml")).await;
    assert_eq!(empty_xml.status(), 200);
    assert!(empty_xml.bytes().await.unwrap().is_empty());

    let gzip = get(&format!("{gateway}/vmrest/gzip")).await;
    assert_eq!(gzip.status(), 502);
    assert_eq!(error_code(gzip).await, "upstream_unsupported_encoding");
}

#[tokio::test]
async fn oversized_xml_response_is_502() {
    let big = format!(
        "<Ports total=\"1\"><Port><DisplayName>{}</DisplayName></Port></Ports>",
        "x".repeat(4096)
    );
    let upstream = FakeUpstream::start(move |_| respond(200, "application/xml", big.clone())).await;
    let options = GatewayOptions {
        limits: cupi_gateway::transcode::Limits {
            max_request_body: 1024,
            max_response_body: 1024,
        },
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_response_too_large");
}

#[tokio::test]
async fn json_from_the_upstream_passes_through() {
    let upstream =
        FakeUpstream::start(|_| respond(200, "application/json", r#"{"@total":"1"}"#)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.text().await.unwrap(), r#"{"@total":"1"}"#);
}
