//! CUPI mode as a drop-in for Unity Connection: under `--cupi-compat` (and for a request that
//! names `profile=cupi`) a client gets JSON only when it asks for `application/json`, and the
//! upstream's XML, byte for byte, otherwise, so XML scripts that send no `Accept` parse what
//! they always did; a body labelled JSON that is not JSON, for a resource the OpenAPI document
//! does not describe, goes to the server as sent, unless it is or may be XML. Typed mode keeps
//! answering `*/*` with JSON and refusing such bodies.

use crate::support::*;
use cupi_gateway::transcode::{Limits, Mode};
use serde_json::Value;

/// What the upstream answers every GET with, exactly: the test compares bytes, so any
/// re-serialisation by the gateway (a declaration, whitespace, attribute quotes) shows.
const UPSTREAM_XML: &str = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<PortGroups total=\"1\">\n  <PortGroup><ObjectId>pg-1</ObjectId><DisplayName>PhoneSystem-1</DisplayName><EnableMWI>true</EnableMWI></PortGroup>\n</PortGroups>\n";
const UPSTREAM_TYPE: &str = "application/xml;charset=UTF-8";

const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
/// A greeting upload as a script with a session-wide `Content-Type: application/json` sends it.
const WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00";
const GREETING: &str = "/vmrest/users/6c9ef0e8/greetings/Standard/greetingstreamfiles/1033/audio";

/// An upstream that answers GET/HEAD with [`UPSTREAM_XML`] and writes with 204.
async fn upstream() -> FakeUpstream {
    FakeUpstream::start(|request| match request.method {
        http::Method::GET | http::Method::HEAD => respond(200, UPSTREAM_TYPE, UPSTREAM_XML),
        _ => respond(204, "", ""),
    })
    .await
}

/// What a client got back, in the terms the negotiation table is written in.
#[derive(Debug, PartialEq)]
enum Got {
    /// The upstream's XML, byte for byte, with its own `Content-Type`.
    UpstreamXml,
    /// `application/json; profile=cupi`: every value a string, a list of one a bare object.
    CupiJson,
    /// `application/json`: typed values, lists always arrays.
    TypedJson,
}

async fn classify(response: reqwest::Response) -> Got {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["vary"], "accept");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    if content_type == UPSTREAM_TYPE {
        assert_eq!(
            body,
            UPSTREAM_XML.as_bytes(),
            "XML not as the upstream sent it"
        );
        return Got::UpstreamXml;
    }
    let json: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{content_type}: {e}: {}", String::from_utf8_lossy(&body)));
    match content_type.as_str() {
        "application/json; profile=cupi" => {
            assert_eq!(json["@total"], "1");
            assert_eq!(json["PortGroup"]["EnableMWI"], "true");
            Got::CupiJson
        }
        "application/json" => {
            assert_eq!(json["@total"], 1);
            assert_eq!(json["PortGroup"][0]["EnableMWI"], true);
            Got::TypedJson
        }
        other => panic!("unexpected content-type {other}"),
    }
}

#[tokio::test]
async fn each_mode_negotiates_by_its_own_table() {
    let upstream = upstream().await;
    let typed = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Typed)).await;
    let compat = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    use Got::*;
    // (Accept, typed mode's answer, CUPI mode's answer)
    let table: [(Option<&str>, Got, Got); 10] = [
        (None, TypedJson, UpstreamXml),
        (Some("*/*"), TypedJson, UpstreamXml),
        (Some("application/json"), TypedJson, CupiJson),
        (Some("application/xml"), UpstreamXml, UpstreamXml),
        (Some("text/xml"), UpstreamXml, UpstreamXml),
        (
            Some("application/json; profile=typed"),
            TypedJson,
            TypedJson,
        ),
        (Some("application/json; profile=cupi"), CupiJson, CupiJson),
        (Some(CHROME), TypedJson, UpstreamXml),
        // What fetch() and axios send.
        (
            Some("application/json, text/plain, */*"),
            TypedJson,
            CupiJson,
        ),
        (
            Some("application/json;q=0.5, application/xml"),
            UpstreamXml,
            UpstreamXml,
        ),
    ];
    for (accept, in_typed, in_compat) in table {
        let url = |gateway: &str| format!("{gateway}/vmrest/portgroups");
        let got = classify(get_accepting(&url(&typed), accept).await).await;
        assert_eq!(got, in_typed, "typed mode, Accept {accept:?}");
        let got = classify(get_accepting(&url(&compat), accept).await).await;
        assert_eq!(got, in_compat, "CUPI mode, Accept {accept:?}");
        // Whatever the client gets, Unity Connection is asked for its XML first, uncompressed.
        let sent = upstream.last();
        let asked = sent.headers["accept"].to_str().unwrap();
        assert!(asked.starts_with("application/xml"), "{accept:?}: {asked}");
        assert_eq!(sent.headers["accept-encoding"], "identity", "{accept:?}");
    }
}

#[tokio::test]
async fn head_without_accept_in_cupi_mode_keeps_the_upstreams_xml_headers() {
    let upstream = upstream().await;
    let compat = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let response = head(&format!("{compat}/vmrest/portgroups")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], UPSTREAM_TYPE);
    assert_eq!(
        response.headers()["content-length"],
        UPSTREAM_XML.len().to_string()
    );
}

/// A client that negotiated XML gets the gateway's own refusals and failures in the one JSON
/// error shape, as an `Accept: application/xml` client does in typed mode; what Unity
/// Connection itself answers comes as it sent it.
#[tokio::test]
async fn an_xml_client_gets_the_gateways_own_errors_as_json_and_the_upstreams_as_sent() {
    let not_found = "<ErrorDetails><errors><code>NOT_FOUND</code><message>no such port group</message></errors></ErrorDetails>";
    let upstream = FakeUpstream::start(move |_| respond(404, "application/xml", not_found)).await;
    let compat = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let typed = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Typed)).await;
    for (gateway, accept) in [(&compat, None), (&typed, Some("application/xml"))] {
        let response = get_accepting(&format!("{gateway}/vmrest/portgroups/x"), accept).await;
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["content-type"], "application/xml");
        assert_eq!(response.bytes().await.unwrap(), not_found.as_bytes());

        let mut request = client()
            .put(format!("{gateway}/vmrest/portgroups/x"))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .header("content-type", "application/xml")
            .body(r#"<!DOCTYPE a [<!ENTITY x "y">]><PortGroup><MwiOnCode>&x;</MwiOnCode></PortGroup>"#);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{accept:?}");
        assert_eq!(error_code(response).await, "xml_doctype_not_allowed");
    }
    let unreachable = format!("http://{}", closed_port().await);
    let compat = start_gateway(&unreachable, GatewayOptions::in_mode(Mode::Cupi)).await;
    let response = get_accepting(&format!("{compat}/vmrest/portgroups"), None).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_unreachable");
}

async fn put_labelled_json(
    gateway: &str,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    put(&format!("{gateway}{path}"), "application/json", body).await
}

/// PUTs `body` labelled JSON and asserts that the gateway refused it with `status` and
/// `code` in the JSON error shape, and that nothing of it reached the server.
async fn assert_refused(
    (gateway, upstream): (&str, &FakeUpstream),
    path: &str,
    body: impl Into<reqwest::Body>,
    (status, code): (u16, &str),
) {
    let before = upstream.count();
    let response = put_labelled_json(gateway, path, body).await;
    assert_eq!(response.status(), status, "{gateway}{path}");
    assert_eq!(error_code(response).await, code, "{gateway}{path}");
    assert_eq!(upstream.count(), before, "{gateway}{path}: forwarded");
}

#[tokio::test]
async fn in_cupi_mode_a_non_json_body_for_an_undescribed_resource_goes_as_sent() {
    let upstream = upstream().await;
    let compat = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let bodies: [&'static [u8]; 3] = [WAV, b"not JSON {", b"HackCount=0"];
    for body in bodies {
        let response = put_labelled_json(&compat, GREETING, body).await;
        assert_eq!(response.status(), 204, "{body:?}");
        let sent = upstream.last();
        assert_eq!(sent.method, http::Method::PUT);
        assert_eq!(sent.target, GREETING);
        assert_eq!(sent.headers["content-type"], "application/json");
        assert_eq!(sent.headers["content-length"], body.len().to_string());
        assert_eq!(sent.body, body, "forwarded byte for byte");
    }
    // JSON is still JSON there: unwrapped it goes as sent, wrapped it becomes XML.
    let user = "/vmrest/users/6c9ef0e8";
    let response = put_labelled_json(&compat, user, r#"{"User":{"HackCount":"0"}}"#).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().headers["content-type"], "application/xml");
    // And JSON the gateway cannot transcode is still refused, never forwarded.
    let duplicate_keys = r#"{"a":"1","a":"2"}"#;
    assert_refused(
        (&compat, &upstream),
        user,
        duplicate_keys,
        (400, "invalid_json"),
    )
    .await;
}

/// A greeting larger than the request limit is streamed on, not held: only JSON is read
/// whole, and JSON that large is refused as it is in typed mode.
#[tokio::test]
async fn in_cupi_mode_a_non_json_body_larger_than_the_limit_is_streamed_on() {
    let upstream = upstream().await;
    let limit = 4096;
    let options = GatewayOptions {
        limits: Limits {
            max_request_body: limit,
            max_response_body: 1 << 20,
        },
        ..GatewayOptions::in_mode(Mode::Cupi)
    };
    let compat = start_gateway(&upstream.origin, options).await;
    let mut big = WAV.to_vec();
    big.resize(16 * limit, 0x55);
    let response = put(
        &format!("{compat}{GREETING}"),
        "application/json",
        big.clone(),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, big.as_slice());

    let mut big_json = b"{\"A\":\"".to_vec();
    big_json.resize(16 * limit, b'x');
    big_json.extend_from_slice(b"\"}");
    let too_large = (413, "payload_too_large");
    assert_refused((&compat, &upstream), GREETING, big_json, too_large).await;
}

/// The DOCTYPE rule is not for labels to get around: a body that is, or may be, XML is
/// checked whatever it is labelled, in CUPI mode too.
#[tokio::test]
async fn in_cupi_mode_xml_labelled_json_is_still_checked() {
    let upstream = upstream().await;
    let compat = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let stack = (compat.as_str(), &upstream);
    let doctype = r#"<?xml version="1.0"?><!DOCTYPE g SYSTEM "file:///etc/passwd"><g/>"#;
    assert_refused(stack, GREETING, doctype, (400, "xml_doctype_not_allowed")).await;
    // UTF-16 XML cannot be checked, so it is not forwarded either.
    let utf16: &[u8] = b"\xFF\xFE<\x00g\x00/\x00>\x00";
    assert_refused(stack, GREETING, utf16, (415, "unsupported_media_type")).await;

    // XML without a DOCTYPE is the server's to judge, as under any other label.
    let plain: &'static [u8] = b"<Greeting><Enabled>true</Enabled></Greeting>";
    let response = put_labelled_json(&compat, GREETING, plain).await;
    assert_eq!(response.status(), 204);
    assert_eq!(upstream.last().body, plain);
}

#[tokio::test]
async fn typed_mode_and_described_resources_still_refuse_what_is_not_json() {
    let upstream = upstream().await;
    let typed = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Typed)).await;
    let compat = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let group = format!("/vmrest/portgroups/{PORT_GROUP_ID}");
    for (gateway, path) in [
        (&typed, GREETING),
        (&typed, group.as_str()),
        (&compat, group.as_str()),
    ] {
        assert_refused((gateway, &upstream), path, WAV, (400, "invalid_json")).await;
    }
}
