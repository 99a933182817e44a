//! Edge cases driven through a hand-rolled upstream: what exactly reaches the server, and
//! what the client gets for answers a simulator would never give.

use std::time::Duration;

use crate::support::*;
use bytes::Bytes;

const PORTS_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Ports total="1"><Port><ObjectId>p1</ObjectId><PortNumInGroup>1</PortNumInGroup></Port></Ports>"#;

#[tokio::test]
async fn request_reaches_upstream_as_a_proxy_should_send_it() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let gateway_authority = gateway.trim_start_matches("http://").to_owned();

    // Escapes the gateway must not normalize (%2f, %7E beside a bare ~), in values the
    // document's patterns allow.
    let path = "/vmrest/ports?query=(DisplayName%20startswith%20A%2fB%7E~)&sort=(DisplayName+asc)";
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
async fn every_request_has_an_id_returned_and_sent_upstream() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let response = get(&format!("{gateway}/vmrest/ports")).await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(upstream.last().headers["x-request-id"], id.as_str());

    let other = get(&format!("{gateway}/vmrest/ports")).await;
    assert_ne!(
        other.headers()["x-request-id"],
        id.as_str(),
        "ids are not reused"
    );

    // A client's own id is kept end to end.
    let mine = client()
        .get(format!("{gateway}/vmrest/ports"))
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("x-request-id", "frontend-42")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()["x-request-id"], "frontend-42");
    assert_eq!(upstream.last().headers["x-request-id"], "frontend-42");

    // The gateway's own answers carry one too.
    let refused = get(&format!("{gateway}/nowhere")).await;
    assert!(refused.headers().contains_key("x-request-id"));
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
    let upstream = raw_upstream(vec![(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 500\r\n\r\n<Ports total=\"2\"><Port><ObjectId>p1</ObjectId></Port><Port>",
    )])
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

    let slow = raw_upstream(vec![(
        Duration::from_secs(10),
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    )])
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
    let health = get_anonymous(&format!("{gateway}/healthz")).await;
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn an_upstream_that_never_answers_the_connect_is_a_504() {
    let silent = silent_port().await;
    let options = GatewayOptions {
        connect_timeout: Duration::from_millis(300),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&format!("http://{}", silent.addr), options).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 504);
    let body = json(response).await;
    assert_eq!(body["errors"][0]["code"], "upstream_timeout");
    // The connect timeout, not the (much longer) response timeout, ran out.
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.ends_with("within 300ms"), "{message}");
    let not_ready = get_anonymous(&format!("{gateway}/readyz")).await;
    assert_eq!(not_ready.status(), 503);
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );
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
        "/vmrest/gzip-error" => {
            let mut response = respond(503, "text/html", vec![0x1f, 0x8b, 0x08, 0x00]);
            response
                .headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            response
        }
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

    // Four bytes of a gzip header and no more: decoded, they are cut short.
    let gzip = get(&format!("{gateway}/vmrest/gzip")).await;
    assert_eq!(gzip.status(), 502);
    assert_eq!(error_code(gzip).await, "upstream_corrupt_encoding");

    // A compressed error page, even a corrupt one, keeps its status.
    let gzip_error = get(&format!("{gateway}/vmrest/gzip-error")).await;
    assert_eq!(gzip_error.status(), 503);
    assert!(gzip_error.headers().get("content-encoding").is_none());
    assert_eq!(error_code(gzip_error).await, "service_unavailable");
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

#[tokio::test]
async fn common_accept_headers_still_get_json_made_from_xml() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for accept in [
        // axios's default
        "application/json, text/plain, */*",
        // Chrome navigating to the URL
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "*/*",
    ] {
        let response = client()
            .get(format!("{gateway}/vmrest/ports"))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .header("accept", accept)
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["vary"],
            "accept",
            "caches must key on Accept"
        );
        let body = json(response).await;
        assert_eq!(body["Port"][0]["PortNumInGroup"], 1, "{accept}");
        let seen = upstream.last();
        // XML first and alone at q=1; other concrete types the client named (the browser's
        // images) follow at q=0.5, so binary-only resources still negotiate.
        let upstream_accept = seen.headers["accept"].to_str().unwrap();
        assert!(
            upstream_accept.starts_with("application/xml"),
            "{accept} → {upstream_accept}"
        );
        assert!(
            upstream_accept
                .split(',')
                .skip(1)
                .all(|r| r.ends_with(";q=0.5")),
            "{accept} → {upstream_accept}"
        );
        assert!(!upstream_accept.contains("json") && !upstream_accept.contains("html"));
        assert_eq!(seen.headers["accept-encoding"], "identity", "{accept}");
    }
}

#[tokio::test]
async fn a_stalled_upstream_body_times_out() {
    let script = |content_type: &'static str| {
        let head: &'static [u8] = match content_type {
            "xml" => b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 100\r\n\r\n<Ports total=\"1\">",
            _ => b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 100\r\n\r\nRIFF0000WAVE",
        };
        vec![
            (Duration::ZERO, head),
            (Duration::from_secs(30), b"never".as_slice()),
        ]
    };
    let options = GatewayOptions {
        response_timeout: Duration::from_millis(300),
        ..GatewayOptions::default()
    };

    let xml = raw_upstream(script("xml")).await;
    let gateway = start_gateway(&xml, options.clone()).await;
    let response = tokio::time::timeout(
        Duration::from_secs(20),
        get(&format!("{gateway}/vmrest/ports")),
    )
    .await
    .expect("answers instead of waiting for the upstream");
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "upstream_timeout");

    // A streamed body has already started: the stream is cut instead, so the client sees an
    // error, never a body it could take for complete.
    let audio = raw_upstream(script("audio")).await;
    let gateway = start_gateway(&audio, options).await;
    let response = get(&format!("{gateway}/vmrest/greeting")).await;
    assert_eq!(response.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(20), response.bytes()).await;
    assert!(body.expect("the stream ends, not hangs").is_err());
}

#[tokio::test]
async fn paths_that_could_leave_vmrest_are_refused() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for target in [
        "/vmrest/../cuadmin/home.do",
        "/vmrest/%2e%2e/cuadmin/home.do",
        "/vmrest/..;/cuadmin/home.do",
        "/vmrest/ports/%2F..%2Fcuadmin",
        "/vmrest//cuadmin",
    ] {
        let answer = raw_request(
            &gateway,
            &format!("GET {target} HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{target}: {answer}");
        assert!(
            answer.contains(r#""code":"invalid_path""#),
            "{target}: {answer}"
        );
    }
    assert_eq!(upstream.count(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn the_gateway_is_not_a_forward_proxy() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for request in [
        "GET http://evil.example.com/vmrest/ports HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n".to_owned(),
        format!("GET {}/vmrest/ports HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", upstream.origin),
        "CONNECT evil.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\nConnection: close\r\n\r\n".to_owned(),
    ] {
        let answer = raw_request(&gateway, &request).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{request}: {answer}");
        assert!(answer.contains(r#""code":"invalid_request_target""#), "{answer}");
    }
    assert_eq!(upstream.count(), 0);
    // And it keeps serving.
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 200);
}

#[tokio::test]
async fn every_method_is_forwarded() {
    let upstream = FakeUpstream::start(|request| match request.method.as_str() {
        "HEAD" | "DELETE" => respond(204, "", Bytes::new()),
        _ => respond(200, "application/xml", "<Ok><Method>x</Method></Ok>"),
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client()
            .request(method.clone(), format!("{gateway}/vmrest/users/u1?x=1"))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{method}");
        let seen = upstream.last();
        assert_eq!(seen.method.as_str(), method.as_str());
        assert_eq!(seen.target, "/vmrest/users/u1?x=1");
    }
}

#[tokio::test]
async fn head_on_an_xml_resource_does_not_claim_the_xml_length() {
    let upstream = FakeUpstream::start(|_| {
        let mut response = respond(200, "application/xml", Bytes::new());
        response
            .headers_mut()
            .insert("content-length", "1234".parse().unwrap());
        response
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let response = head(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_ne!(
        response
            .headers()
            .get("content-length")
            .map(|v| v.to_str().unwrap()),
        Some("1234")
    );
}

#[tokio::test]
async fn xml_request_bodies_are_forwarded_byte_for_byte() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    // Odd but valid: a declaration, a comment, CRLF line ends, an entity.
    let xml = "<?xml version=\"1.0\"?>\r\n<!-- c -->\r\n<PortGroup>  <MwiOnCode>6&amp;7</MwiOnCode>\r\n</PortGroup>\r\n";
    let response = put(
        &format!("{gateway}/vmrest/portgroups/x"),
        "text/xml; charset=utf-8",
        xml,
    )
    .await;
    assert_eq!(response.status(), 204);
    let seen = upstream.last();
    assert_eq!(seen.body, xml.as_bytes());
    assert_eq!(seen.headers["content-type"], "text/xml; charset=utf-8");
}

#[tokio::test]
async fn xml_request_bodies_with_a_doctype_never_reach_the_upstream() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for body in [
        // billion laughs
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><User><Alias>&lol2;</Alias></User>"#,
        // external entity
        r#"<!DOCTYPE User [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><User><Alias>&xxe;</Alias></User>"#,
    ] {
        let response = put(
            &format!("{gateway}/vmrest/users/u1"),
            "application/xml",
            body,
        )
        .await;
        assert_eq!(response.status(), 400);
        assert_eq!(error_code(response).await, "xml_doctype_not_allowed");
    }
    assert_eq!(upstream.count(), 0);
    let fine = put(
        &format!("{gateway}/vmrest/users/u1"),
        "application/xml",
        "<User><Alias>a</Alias></User>",
    )
    .await;
    assert_eq!(fine.status(), 204);
}

#[tokio::test]
async fn an_xml_error_with_a_broken_body_keeps_its_status() {
    let upstream = FakeUpstream::start(|_| {
        respond(
            503,
            "application/xml",
            "<html><body>Service Unavailable</body>",
        )
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 503);
    let body = json(response).await;
    assert_eq!(body["errors"][0]["code"], "service_unavailable");
    assert_eq!(body["errors"][0]["message"], "Service Unavailable");
}

#[tokio::test]
async fn pass_through_bodies_are_streamed_not_buffered() {
    // Response: the first chunk must reach the client while the upstream still holds the rest.
    let upstream = raw_upstream(vec![
        (
            Duration::ZERO,
            b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n",
        ),
        (Duration::from_secs(5), b"0\r\n\r\n"),
    ])
    .await;
    let gateway = start_gateway(&upstream, GatewayOptions::default()).await;
    let mut response = get(&format!("{gateway}/vmrest/greeting")).await;
    let first = tokio::time::timeout(Duration::from_secs(3), response.chunk())
        .await
        .expect("first chunk arrives before the upstream finishes")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first");

    // Request: the upstream answers as soon as it has seen the first chunk of the upload, while
    // the client still holds the rest back. A gateway that buffered would never send it. (The
    // first chunk is larger than --max-request-body: a smaller body is read before it takes an
    // upstream slot, so that a slow client holds no slot.)
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(11).any(|w| w == b"FIRST-CHUNK") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "upload ended before its first chunk arrived");
            seen.extend_from_slice(&buf[..n]);
        }
        let _ = stream
            .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        let _ = stream.shutdown().await;
    });
    let gateway = start_gateway(&upstream, GatewayOptions::default()).await;
    let (mut sender, body) = http_body_util::channel::Channel::<Bytes>::new(4);
    let mut first = b"FIRST-CHUNK".to_vec();
    first.resize(GatewayOptions::default().limits.max_request_body + 1, b'.');
    sender.send_data(Bytes::from(first)).await.unwrap();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        client()
            .put(format!("{gateway}/vmrest/greeting"))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .header("content-type", "audio/wav")
            .body(reqwest::Body::wrap(body))
            .send(),
    )
    .await
    .expect("the upstream answered while the upload was still open")
    .unwrap();
    assert_eq!(response.status(), 201);
    drop(sender);
}

#[tokio::test]
async fn oversized_heads_and_deep_nesting_are_refused_and_the_gateway_keeps_serving() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let huge_header = format!(
        "GET /vmrest/ports HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw_request(&gateway, &huge_header).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );

    // At most 100 headers: with Host and Connection, 98 more pass and 99 do not. hyper's own
    // 431 carries none of the gateway's headers; past it, the upstream's 431 (the gateway
    // adds its own headers to the hundred) does.
    for (more, refused) in [(98, false), (99, true)] {
        let many_headers: String = (0..more).map(|i| format!("X-H{i}: v\r\n")).collect();
        let answer = raw_request(
            &gateway,
            &format!(
                "GET /vmrest/ports HTTP/1.1\r\nHost: gw\r\n{many_headers}Connection: close\r\n\r\n"
            ),
        )
        .await;
        let by_the_gateway = answer.starts_with("HTTP/1.1 431") && !answer.contains("x-request-id");
        assert_eq!(
            by_the_gateway,
            refused,
            "{more}: {}",
            &answer[..answer.len().min(200)]
        );
    }

    let deep_json = format!(
        "{{\"User\": {}{}}}",
        "{\"a\":".repeat(5000),
        "}".repeat(5000)
    );
    let response = put(
        &format!("{gateway}/vmrest/users/u1"),
        "application/json",
        deep_json,
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_json");

    assert_eq!(upstream.count(), 0);
    assert_eq!(get(&format!("{gateway}/vmrest/ports")).await.status(), 204);
}

#[tokio::test]
async fn readiness_follows_the_upstream() {
    let up = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&up.origin, GatewayOptions::default()).await;
    let ready = get_anonymous(&format!("{gateway}/readyz")).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(json(ready).await["status"], "ready");
    assert_eq!(
        up.count(),
        0,
        "the probe sends no request to Unity Connection"
    );

    let closed = closed_port().await;
    let gateway = start_gateway(&format!("http://{closed}"), GatewayOptions::default()).await;
    let not_ready = get_anonymous(&format!("{gateway}/readyz")).await;
    assert_eq!(not_ready.status(), 503);
    assert_eq!(error_code(not_ready).await, "upstream_unreachable");
    // /healthz only says the process is alive.
    let alive = get_anonymous(&format!("{gateway}/healthz")).await;
    assert_eq!(alive.status(), 200);
}

#[tokio::test]
async fn cors_is_closed_by_default_and_open_only_to_listed_origins() {
    let upstream = FakeUpstream::start(|_| respond(200, "application/xml", PORTS_XML)).await;
    let preflight = |gateway: String, origin: &'static str| async move {
        client()
            .request(
                reqwest::Method::OPTIONS,
                format!("{gateway}/vmrest/portgroups/x"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap()
    };

    let closed = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let response = get_from(&closed, "https://app.example.com").await;
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));

    let options = GatewayOptions {
        cors_allowed_origins: vec!["https://app.example.com".parse().unwrap()],
        ..GatewayOptions::default()
    };
    let open = start_gateway(&upstream.origin, options).await;
    let allowed = preflight(open.clone(), "https://app.example.com").await;
    assert!(allowed.status().is_success());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    assert!(headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));

    let other = preflight(open.clone(), "https://evil.example.com").await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    assert_eq!(
        upstream.count(),
        1,
        "preflights never reach the upstream (1 = the GET above)"
    );

    let response = get_from(&open, "https://app.example.com").await;
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-request-id"));
    let response = get_from(&open, "https://evil.example.com").await;
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
}

async fn get_from(gateway: &str, origin: &str) -> reqwest::Response {
    client()
        .get(format!("{gateway}/vmrest/ports"))
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

/// An upstream that sends a response head and part of the body, then resets the connection.
async fn resetting_upstream(head_and_part: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(head_and_part).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                // SO_LINGER 0: closing sends RST, not FIN.
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
    });
    origin
}

#[tokio::test]
async fn a_connection_reset_mid_body_is_a_502_or_a_cut_stream() {
    let xml = resetting_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n<Ports total=\"2\"><Port>",
    )
    .await;
    let gateway = start_gateway(&xml, GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_body_error");
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );

    let audio = resetting_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 1000\r\n\r\nRIFF",
    )
    .await;
    let gateway = start_gateway(&audio, GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/greeting")).await;
    assert_eq!(response.status(), 200, "the head was already on its way");
    assert!(
        response.bytes().await.is_err(),
        "the client sees the cut, never a short body"
    );
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );
}

#[tokio::test]
async fn a_document_of_too_many_elements_is_refused_in_the_error_shape() {
    use cupi_codec::MAX_NODES;
    // Four bytes of body per element: the tree would cost far more than the body.
    // (A list is streamed item by item, so the budget is per object: here, one object.)
    let flood = format!("<Port>{}</Port>", "<a/>".repeat(MAX_NODES));
    let upstream =
        FakeUpstream::start(move |_| respond(200, "application/xml", flood.clone())).await;
    let options = GatewayOptions {
        limits: cupi_gateway::transcode::Limits {
            max_request_body: 1 << 20,
            max_response_body: 64 << 20,
        },
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 502);
    let body = json(response).await;
    assert_eq!(body["errors"][0]["code"], "upstream_invalid_xml");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("more than 4000000 elements and attributes"),
        "{message}"
    );
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );
}

#[tokio::test]
async fn a_refusal_before_the_body_is_read_keeps_or_closes_the_connection_cleanly() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let addr = gateway.trim_start_matches("http://");
    async fn answer_on(stream: &mut tokio::net::TcpStream) -> String {
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .expect("an answer")
            .unwrap();
        String::from_utf8_lossy(&answer[..n]).to_lowercase()
    }
    // A PUT the validator refuses (415) without reading its body, whose body comes late.
    let refused = b"PUT /vmrest/portgroups/g1 HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\n";

    // A small body is read and dropped: the answer comes, and the connection stays usable.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(refused).await.unwrap();
    stream
        .write_all(b"Content-Length: 11\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(b"MwiOnCode=1").await.unwrap();
    let answer = answer_on(&mut stream).await;
    assert!(answer.starts_with("http/1.1 415"), "{answer}");
    assert!(!answer.contains("connection: close"), "{answer}");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .unwrap();
    assert!(answer_on(&mut stream).await.starts_with("http/1.1 200"));

    // A large one is not waited for: the answer says the connection closes.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(refused).await.unwrap();
    stream
        .write_all(b"Content-Length: 10000000\r\n\r\n")
        .await
        .unwrap();
    let answer = answer_on(&mut stream).await;
    assert!(answer.starts_with("http/1.1 415"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
}

/// hyper keeps an upstream's non-standard reason phrase as an extension, and its server
/// writes it back out; the gateway's answers carry the standard phrase whoever sent what
/// (Tomcat, under Unity Connection, sends none at all).
#[tokio::test]
async fn the_upstream_reason_phrase_does_not_reach_the_client() {
    for status_line in ["HTTP/1.1 200 Fine Thanks", "HTTP/1.1 200 "] {
        let answer = format!(
            "{status_line}\r\nContent-Type: application/xml\r\nContent-Length: 18\r\n\
             Connection: close\r\n\r\n<Ports total=\"0\"/>"
        );
        let upstream = raw_upstream(vec![(Duration::ZERO, answer.into_bytes().leak())]).await;
        let gateway = start_gateway(&upstream, GatewayOptions::default()).await;
        let answer = raw_request(
            &gateway,
            "GET /vmrest/ports HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic YTpi\r\n\
             Accept: application/json\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(
            answer.lines().next(),
            Some("HTTP/1.1 200 OK"),
            "{status_line:?}"
        );
    }
}
