//! Large lists stream: the JSON is the same as for the whole document, a fault in the first
//! part is still a clean JSON error, and a fault after the head is out aborts the body so no
//! client can take a cut body for a whole one. Lists past the first part but within the whole
//! limit are read whole when the body budget has room, and stream when it has not.

use std::time::Duration;

use crate::support::*;
use cupi_gateway::body::{PREFIX_LIMIT, WHOLE_LIMIT};
use cupi_gateway::budget::BodySettings;
use cupi_gateway::openapi::ApiSpec;
use cupi_simulator::generated_ports_xml;

/// A generated list of 4,000 ports: past the size read whole, so it streams.
fn big_list() -> String {
    let xml = generated_ports_xml(4000);
    assert!(xml.len() > WHOLE_LIMIT, "{}", xml.len());
    xml
}

/// A generated list of 1,000 ports: several times the part read before answering, within the
/// size read whole.
fn mid_list() -> String {
    let xml = generated_ports_xml(1000);
    assert!(xml.len() > 4 * PREFIX_LIMIT, "{}", xml.len());
    assert!(xml.len() < WHOLE_LIMIT, "{}", xml.len());
    xml
}

/// `xml` with its `n`th `</Port>` from `at` on broken, so that the XML is malformed there.
fn broken_at(xml: &str, at: usize) -> String {
    let offset = at + xml[at..].find("</Port>").unwrap();
    format!(
        "{}</Prt>{}",
        &xml[..offset],
        &xml[offset + "</Port>".len()..]
    )
}

const ABORTED: &str = "cupi_gateway_responses_aborted_total";

#[tokio::test]
async fn a_large_list_streams_the_same_json_as_the_whole_document() {
    let xml = big_list();
    let spec = ApiSpec::embedded().unwrap();
    let expected = cupi_codec::xml_to_json(xml.as_bytes(), spec.schema()).unwrap();
    let upstream = FakeUpstream::start(move |_| respond(200, "application/xml", xml.clone())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), expected.len());
    assert!(
        body == expected,
        "streamed JSON differs from the whole-document JSON"
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["Port"].as_array().unwrap().len(), 4000);
    assert_eq!(json["Port"][0]["CapEnabled"], true);
}

/// The JSON of `xml` from a gateway in front of an upstream that answers it, with `bodies`:
/// (whether the answer had a length, so was read whole, and its body).
async fn list_through(xml: String, bodies: BodySettings) -> (bool, bytes::Bytes) {
    let upstream = FakeUpstream::start(move |_| respond(200, "application/xml", xml.clone())).await;
    let options = GatewayOptions {
        bodies,
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let whole = response.headers().contains_key("content-length");
    (whole, response.bytes().await.unwrap())
}

#[tokio::test]
async fn a_list_within_the_whole_limit_is_read_whole_when_the_budget_has_room() {
    let xml = mid_list();
    let spec = ApiSpec::embedded().unwrap();
    let expected = cupi_codec::xml_to_json(xml.as_bytes(), spec.schema()).unwrap();

    let (whole, body) = list_through(xml.clone(), BodySettings::default()).await;
    assert!(whole, "read whole, the answer has its length");
    assert!(body == expected, "the whole-document JSON");

    // A budget with room for the first part but not the whole list: it streams, the same JSON.
    let short = BodySettings {
        budget: xml.len() / 2,
        ..BodySettings::default()
    };
    let (whole, body) = list_through(xml, short).await;
    assert!(!whole, "streamed, no length");
    assert!(
        body == expected,
        "streamed JSON differs from the whole-document JSON"
    );
}

#[tokio::test]
async fn a_chunked_list_within_the_whole_limit_is_read_whole() {
    let xml = mid_list();
    let spec = ApiSpec::embedded().unwrap();
    let expected = cupi_codec::xml_to_json(xml.as_bytes(), spec.schema()).unwrap();
    // No length to go by: the gateway reads on, chunk by chunk, until the body ends.
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{xml}\r\n0\r\n\r\n",
        xml.len()
    );
    let answer: &'static [u8] = Box::leak(answer.into_bytes().into_boxed_slice());
    let upstream = raw_upstream(vec![(Duration::ZERO, answer)]).await;
    let gateway = start_gateway(&upstream, GatewayOptions::default()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
    let length = response.headers()["content-length"].to_str().unwrap();
    assert_eq!(length, expected.len().to_string());
    assert!(response.bytes().await.unwrap() == expected);
}

/// Before the head is out a fault is a clean 502: in the first part of a list that streams, or
/// anywhere in one read whole.
#[tokio::test]
async fn a_fault_before_the_head_is_a_clean_502() {
    let (streams, whole) = (big_list(), mid_list());
    let faults = [(&streams, 100 * 1024), (&whole, whole.len() * 9 / 10)];
    for (list, at) in faults {
        let xml = broken_at(list, at);
        let upstream =
            FakeUpstream::start(move |_| respond(200, "application/xml", xml.clone())).await;
        let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
        let response = get(&format!("{gateway}/vmrest/ports")).await;
        assert_eq!(response.status(), 502, "a fault at byte {at}");
        assert_eq!(error_code(response).await, "upstream_invalid_xml");
        assert_eq!(metric(&gateway, ABORTED).await, 0.0);
    }
}

#[tokio::test]
async fn a_fault_after_the_head_aborts_the_body_and_is_counted() {
    let list = big_list();
    let xml = broken_at(&list, list.len() * 9 / 10);
    let upstream = FakeUpstream::start(move |_| respond(200, "application/xml", xml.clone())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;

    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200, "the head was out before the fault");
    assert!(
        response.bytes().await.is_err(),
        "the body must not end cleanly"
    );

    // On the wire (HTTP/1.1, chunked): the connection closes without the final 0-size chunk.
    let answer = raw_request(
        &gateway,
        "GET /vmrest/ports HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic YWRtaW46cHc=\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"));
    assert!(answer.contains("transfer-encoding: chunked"));
    assert!(!answer.ends_with("0\r\n\r\n"), "a final chunk was sent");
    assert_eq!(metric(&gateway, ABORTED).await, 2.0);
    assert_eq!(
        get_anonymous(&format!("{gateway}/healthz")).await.status(),
        200
    );
}

#[tokio::test]
async fn a_stall_before_the_head_is_504_and_after_it_aborts() {
    let list = big_list().into_bytes();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
        list.len()
    );
    let head: &'static [u8] = Box::leak(head.into_bytes().into_boxed_slice());
    let list: &'static [u8] = Box::leak(list.into_boxed_slice());
    let options = || GatewayOptions {
        response_timeout: Duration::from_millis(500),
        ..GatewayOptions::default()
    };

    // 100 KiB, then nothing: the gateway has not answered yet, so it answers 504.
    let early = raw_upstream(vec![
        (Duration::ZERO, head),
        (Duration::ZERO, &list[..100 * 1024]),
        (Duration::from_secs(5), &list[100 * 1024..]),
    ])
    .await;
    let gateway = start_gateway(&early, options()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "upstream_timeout");

    // 600 KiB, then nothing: the head is out, so the body is cut off.
    let late = raw_upstream(vec![
        (Duration::ZERO, head),
        (Duration::ZERO, &list[..600 * 1024]),
        (Duration::from_secs(5), &list[600 * 1024..]),
    ])
    .await;
    let gateway = start_gateway(&late, options()).await;
    let response = get(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
    assert_eq!(metric(&gateway, ABORTED).await, 1.0);
}
