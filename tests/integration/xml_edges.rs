//! XML fidelity edges on real sockets: no DOCTYPE reaches the upstream in any spelling a
//! server's parser reads, characters XML 1.0 forbids and foreign encodings in the upstream's
//! XML are refused rather than passed on, and JSON numbers reach the XML as the client wrote
//! them. Ordinary bodies (WAV, JSON, plain XML) still go through.

use std::time::{Duration, Instant};

use crate::support::xml_bodies::{gzip_stored, send_chunked, utf16};
use crate::support::*;
use bytes::Bytes;
use http::HeaderValue;

const XXE: &str = r#"<!DOCTYPE User [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><User><Alias>&xxe;</Alias></User>"#;

/// A path the OpenAPI document describes (validated) and one it does not.
const DESCRIBED: &str = "/vmrest/portgroups/035853ce-f4e6-4de2-bda2-84acf827a555";
const UNDESCRIBED: &str = "/vmrest/users/x";

/// Generous: each case is one loopback round trip on a shared, noisy machine.
const CEILING: Duration = Duration::from_secs(20);

/// A PUT with raw `Content-Type` bytes (`None`: no header) and an optional
/// `Content-Encoding`.
async fn put_raw(
    url: &str,
    content_type: Option<&[u8]>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = client()
        .put(url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .body(body);
    if let Some(content_type) = content_type {
        let value = HeaderValue::from_bytes(content_type).unwrap();
        request = request.header("content-type", value);
    }
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.unwrap()
}

/// A normal XML PUT goes through: the gateway is still serving, and the upstream sees it.
async fn assert_normal_put_goes_through(gateway: &str, upstream: &FakeUpstream) {
    let before = upstream.count();
    let body = "<PortGroup><MwiOnCode>1</MwiOnCode></PortGroup>";
    let response = put(&format!("{gateway}{DESCRIBED}"), "application/xml", body).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.count(), before + 1);
    assert_eq!(upstream.last().body, body.as_bytes());
}

#[tokio::test]
async fn no_doctype_reaches_the_upstream_whatever_the_label() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let xxe = XXE.as_bytes().to_vec();
    let xml: &[u8] = b"application/xml";
    let refused_doctype = (400, "xml_doctype_not_allowed");
    let refused_encoding = (415, "unsupported_media_type");
    // (what, Content-Type, Content-Encoding, body, on an undescribed path, on a described one)
    type Case<'a> = (
        &'a str,
        Option<&'a [u8]>,
        Option<&'a str>,
        Vec<u8>,
        (u16, &'a str),
        (u16, &'a str),
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "UTF-8",
            Some(xml),
            None,
            xxe.clone(),
            refused_doctype,
            refused_doctype,
        ),
        (
            "UTF-8 with a BOM",
            Some(xml),
            None,
            [&b"\xEF\xBB\xBF"[..], XXE.as_bytes()].concat(),
            refused_doctype,
            refused_doctype,
        ),
        (
            "UTF-16LE with a BOM",
            Some(xml),
            None,
            utf16(XXE, false, true),
            refused_encoding,
            refused_encoding,
        ),
        (
            "UTF-16BE without a BOM",
            Some(xml),
            None,
            utf16(XXE, true, false),
            refused_encoding,
            refused_encoding,
        ),
        (
            "UTF-16LE, no Content-Type",
            None,
            None,
            utf16(XXE, false, true),
            refused_encoding,
            refused_encoding,
        ),
        (
            "a non-ASCII byte in a parameter",
            Some(b"application/xml; x=\xE9"),
            None,
            xxe.clone(),
            refused_doctype,
            refused_doctype,
        ),
        (
            "a non-ASCII byte in the charset",
            Some(b"application/xml; charset=utf-8\xE9"),
            None,
            xxe.clone(),
            refused_encoding,
            refused_encoding,
        ),
        (
            "gzip",
            Some(xml),
            Some("gzip"),
            gzip_stored(XXE.as_bytes()),
            refused_encoding,
            refused_encoding,
        ),
        (
            "gzip, no Content-Type",
            None,
            Some("gzip"),
            gzip_stored(XXE.as_bytes()),
            refused_encoding,
            refused_encoding,
        ),
        (
            "no Content-Type",
            None,
            None,
            xxe.clone(),
            refused_doctype,
            refused_encoding,
        ),
        (
            "an unknown Content-Type",
            Some(b"application/x-anything"),
            None,
            xxe.clone(),
            refused_doctype,
            refused_encoding,
        ),
        (
            "text/plain",
            Some(b"text/plain"),
            None,
            [&b" \r\n"[..], XXE.as_bytes()].concat(),
            refused_doctype,
            refused_encoding,
        ),
        (
            "a declared UTF-16 encoding",
            Some(xml),
            None,
            [
                &br#"<?xml version="1.0" encoding="UTF-16"?>"#[..],
                XXE.as_bytes(),
            ]
            .concat(),
            refused_encoding,
            refused_encoding,
        ),
    ];
    let started = Instant::now();
    for (what, content_type, encoding, body, undescribed, described) in cases {
        for (path, (status, code)) in [(UNDESCRIBED, undescribed), (DESCRIBED, described)] {
            let url = format!("{gateway}{path}");
            let response = put_raw(&url, content_type, encoding, body.clone()).await;
            assert_eq!(response.status(), status, "{what} on {path}");
            assert_eq!(error_code(response).await, code, "{what} on {path}");
            assert_eq!(upstream.count(), 0, "{what} on {path} reached the upstream");
        }
    }
    assert!(started.elapsed() < CEILING, "took {:?}", started.elapsed());
    assert_normal_put_goes_through(&gateway, &upstream).await;
}

#[tokio::test]
async fn sniffing_is_bounded_by_the_request_limit_and_linear_in_tiny_chunks() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let limit = 256 * 1024;
    let mut options = GatewayOptions::default();
    options.limits.max_request_body = limit;
    let gateway = start_gateway(&upstream.origin, options).await;
    let head = format!(
        "PUT {UNDESCRIBED} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46cGFzc3dvcmQ="
    );

    // Whitespace up to just under the limit, in 16-byte chunks, then the DOCTYPE: every byte
    // must be sniffed, and re-sniffing the whole prefix per chunk would be quadratic.
    let mut body = vec![b' '; limit - XXE.len()];
    body.extend_from_slice(XXE.as_bytes());
    let started = Instant::now();
    let (status, answer) = send_chunked(&gateway, head.as_bytes(), &body, 16).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains(r#""code":"xml_doctype_not_allowed""#),
        "{answer}"
    );
    assert!(
        elapsed < CEILING,
        "sniffing {} chunks took {elapsed:?}",
        body.len() / 16
    );

    // Whitespace past the limit is not held without bound: 413 at the limit.
    let body = vec![b'\n'; 4 * limit];
    let (status, answer) = send_chunked(&gateway, head.as_bytes(), &body, 8192).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    assert_eq!(upstream.count(), 0);
    assert_normal_put_goes_through(&gateway, &upstream).await;
}

#[tokio::test]
async fn characters_xml_forbids_in_upstream_xml_are_refused() {
    let upstream = FakeUpstream::start(|request| {
        let alias: &[u8] = match request.target.as_str() {
            "/vmrest/users/nul" => b"a\x00b",
            "/vmrest/users/soh" => b"a\x01b",
            "/vmrest/users/unit-separator" => b"\x1F",
            "/vmrest/users/fffe" => "a\u{FFFE}".as_bytes(),
            "/vmrest/users/ffff" => "\u{FFFF}".as_bytes(),
            "/vmrest/users/ref-1" => b"&#1;",
            "/vmrest/users/ref-0" => b"&#0;",
            "/vmrest/users/ref-fffe" => b"&#xFFFE;",
            "/vmrest/users/ref-surrogate" => b"&#xD800;",
            "/vmrest/users/cdata" => b"<![CDATA[\x02]]>",
            "/vmrest/users/attribute" => {
                return respond(200, "application/xml", &b"<User a=\"\x03\"/>"[..])
            }
            "/vmrest/users/attribute-ref" => {
                return respond(200, "application/xml", &b"<User a=\"&#x1B;\"/>"[..])
            }
            "/vmrest/users/list-text" => {
                return respond(
                    200,
                    "application/xml",
                    &b"<Users total=\"1\">\x04<User/></Users>"[..],
                )
            }
            _ => b"fine \t\r\n \xEF\xBF\xBD",
        };
        let body = [&b"<User><Alias>"[..], alias, b"</Alias></User>"].concat();
        respond(200, "application/xml", body)
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let started = Instant::now();
    for name in [
        "nul",
        "soh",
        "unit-separator",
        "fffe",
        "ffff",
        "ref-1",
        "ref-0",
        "ref-fffe",
        "ref-surrogate",
        "cdata",
        "attribute",
        "attribute-ref",
        "list-text",
    ] {
        let response = get(&format!("{gateway}/vmrest/users/{name}")).await;
        assert_eq!(response.status(), 502, "{name}");
        assert_eq!(error_code(response).await, "upstream_invalid_xml", "{name}");
    }
    assert!(started.elapsed() < CEILING, "took {:?}", started.elapsed());
    let fine = get(&format!("{gateway}/vmrest/users/fine")).await;
    assert_eq!(fine.status(), 200);
    assert_eq!(json(fine).await["Alias"], "fine \t\n \u{FFFD}");
}

#[tokio::test]
async fn an_encoding_other_than_utf8_is_refused_never_read_as_utf8() {
    // `Ã©` in ISO-8859-1 is the bytes C3 A9, which read as UTF-8 would be `é`.
    let upstream = FakeUpstream::start(|request| {
        if request.method == http::Method::PUT {
            return respond(204, "", Bytes::new());
        }
        let decl = match request.target.as_str() {
            "/vmrest/users/latin1" => "ISO-8859-1",
            "/vmrest/users/utf16" => "UTF-16",
            "/vmrest/users/utf8-alias" => "utf8",
            _ => "UTF-8",
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"{decl}\"?><User><Alias>\u{e9}</Alias></User>"
        );
        respond(200, "application/xml", body)
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let started = Instant::now();
    for name in ["latin1", "utf16"] {
        let response = get(&format!("{gateway}/vmrest/users/{name}")).await;
        assert_eq!(response.status(), 502, "{name}");
        let body = json(response).await;
        assert_eq!(body["errors"][0]["code"], "upstream_invalid_xml", "{name}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("UTF-8 only"),
            "{body}"
        );
    }
    for name in ["utf8", "utf8-alias"] {
        let response = get(&format!("{gateway}/vmrest/users/{name}")).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(json(response).await["Alias"], "\u{e9}");
    }

    // A request body that declares Latin-1 is refused, not forwarded for a server to read
    // differently from the gateway.
    let latin1 =
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><User><Alias>\xC3\xA9</Alias></User>";
    for path in [UNDESCRIBED, DESCRIBED] {
        let url = format!("{gateway}{path}");
        let response = put_raw(&url, Some(b"application/xml"), None, latin1.to_vec()).await;
        assert_eq!(response.status(), 415, "{path}");
        assert_eq!(error_code(response).await, "unsupported_media_type");
    }
    assert!(started.elapsed() < CEILING, "took {:?}", started.elapsed());
    assert_eq!(
        upstream.count(),
        4,
        "only the four GETs reached the upstream"
    );
    assert_normal_put_goes_through(&gateway, &upstream).await;
}

#[tokio::test]
async fn json_numbers_reach_the_xml_as_the_client_wrote_them() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let json =
        r#"{"User":{"A":1e400,"B":1.5E3,"C":-0,"D":12345678901234567890123,"E":2E-3,"F":1.50}}"#;
    let started = Instant::now();
    let response = put(&format!("{gateway}{UNDESCRIBED}"), "application/json", json).await;
    assert_eq!(response.status(), 204);
    assert!(started.elapsed() < CEILING, "took {:?}", started.elapsed());
    let seen = upstream.last();
    assert_eq!(seen.headers["content-type"], "application/xml");
    assert_eq!(
        std::str::from_utf8(&seen.body).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><User><A>1e400</A><B>1.5E3</B><C>-0</C><D>12345678901234567890123</D><E>2E-3</E><F>1.50</F></User>"#
    );
    // A body that is not JSON under a JSON label is refused, never forwarded.
    let response = put(&format!("{gateway}{UNDESCRIBED}"), "application/json", XXE).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_json");
    assert_eq!(upstream.count(), 1);
    assert_normal_put_goes_through(&gateway, &upstream).await;
}

#[tokio::test]
async fn wav_json_text_and_plain_xml_still_go_through_untouched() {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let limit = 64 * 1024;
    let mut options = GatewayOptions::default();
    options.limits.max_request_body = limit;
    let gateway = start_gateway(&upstream.origin, options).await;

    // A WAV four times the request limit: sniffed from its first bytes and streamed, not read
    // whole (it would be 413 if it were).
    let mut wav = b"RIFF\x24\x00\x04\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00".to_vec();
    wav.extend((0..4 * limit).map(|i| (i % 251) as u8));
    let started = Instant::now();
    let url = format!("{gateway}/vmrest/users/x/greetings/Standard/greetingstreamfiles/1033/audio");
    let response = put_raw(&url, Some(b"audio/wav"), None, wav.clone()).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, wav, "the WAV byte for byte");

    let unwrapped = r#"{"HackCount":"0"}"#;
    let response = put(
        &format!("{gateway}{UNDESCRIBED}"),
        "application/json",
        unwrapped,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, unwrapped.as_bytes());

    let text = "just text, <b> later";
    let response = put(&format!("{gateway}{UNDESCRIBED}"), "text/plain", text).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, text.as_bytes());

    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- a comment --><User><Alias>a</Alias></User>";
    let response = put(&format!("{gateway}{UNDESCRIBED}"), "application/xml", xml).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, xml.as_bytes());

    let response = get(&format!("{gateway}{UNDESCRIBED}")).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.count(), 5);
    assert!(started.elapsed() < CEILING, "took {:?}", started.elapsed());

    // A compressed WAV may pass unread: its label rules XML out.
    let response = put_raw(
        &url,
        Some(b"audio/wav"),
        Some("gzip"),
        gzip_stored(&wav[..1024]),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.count(), 6);
    assert_normal_put_goes_through(&gateway, &upstream).await;
}
