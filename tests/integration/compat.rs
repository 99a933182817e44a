//! CUPI JSON mode, for existing CUPI scripts: the gateway's answers match the recorded examples
//! of Unity Connection's own JSON mode in `tests/fixtures/cupi-json/`, it is chosen by
//! `--cupi-compat` or per request by `Accept: application/json; profile=cupi`, and the unwrapped
//! JSON bodies such scripts PUT to resources the document does not describe reach the server
//! as JSON instead of being refused.
//!
//! Compat answers are read with serde_json directly, not with `crate::support::json`, which checks
//! bodies against the OpenAPI document's typed contract.

use crate::support::*;
use cupi_gateway::openapi::ApiSpec;
use cupi_gateway::transcode::Mode;
use serde_json::{json, Value};

const CUPI_ACCEPT: &str = "application/json; profile=cupi";
const CUPI_CONTENT_TYPE: &str = "application/json; profile=cupi";

/// The recorded examples: (file stem, request target the XML answers). The XML is what the
/// simulator (like Unity Connection) sends for that target; the JSON is what Unity
/// Connection's JSON mode gives for it, written from `cupi-notes.md`.
const EXAMPLES: &[(&str, &str)] = &[
    ("ports-two", "/vmrest/ports"),
    ("ports-one", "/vmrest/ports?query=(PortNumInGroup%20is%201)"),
    (
        "ports-page-of-one",
        "/vmrest/ports?rowsPerPage=1&pageNumber=1",
    ),
    ("ports-count-only", "/vmrest/ports?rowsPerPage=0"),
    (
        "ports-empty",
        "/vmrest/ports?query=(MediaPortGroupObjectId%20is%20x)",
    ),
    ("portgroups-one", "/vmrest/portgroups"),
    (
        "portgroup",
        "/vmrest/portgroups/035853ce-f4e6-4de2-bda2-84acf827a555",
    ),
    ("users-one-nested", "/vmrest/users"),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/cupi-json/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The recorded JSON in its compact form, keys in their recorded order: the fixtures are
/// indented to be read, the gateway writes no whitespace, and the comparison is of bytes, so
/// order, types and structure all count.
fn expected_json(name: &str) -> Vec<u8> {
    let value: Value = serde_json::from_slice(&fixture(&format!("{name}.json"))).unwrap();
    serde_json::to_vec(&value).unwrap()
}

/// An upstream that answers each example's target with its recorded XML, and 204 to writes.
async fn recorded_upstream() -> FakeUpstream {
    FakeUpstream::start(|request| {
        if request.method != http::Method::GET && request.method != http::Method::HEAD {
            return respond(204, "", "");
        }
        match EXAMPLES.iter().find(|(_, target)| *target == request.target) {
            Some((name, _)) => respond(200, "application/xml", fixture(&format!("{name}.xml"))),
            None => respond(
                404,
                "application/xml",
                "<ErrorDetails><errors><code>NOT_FOUND</code><message>no such thing</message></errors></ErrorDetails>",
            ),
        }
    })
    .await
}

/// Checks every recorded example through a gateway, asked with `accept`.
async fn assert_examples_match(gateway: &str, accept: Option<&str>) {
    for (name, target) in EXAMPLES {
        let response = get_accepting(&format!("{gateway}{target}"), accept).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            CUPI_CONTENT_TYPE,
            "{name}"
        );
        let body = response.bytes().await.unwrap();
        let expected = expected_json(name);
        assert!(
            body == expected,
            "{name}: the gateway's CUPI JSON differs from the recorded example\n got: {}\nwant: {}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&expected)
        );
    }
}

#[tokio::test]
async fn the_recorded_examples_are_matched_byte_for_byte_when_asked_by_profile() {
    let upstream = recorded_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    assert_examples_match(&gateway, Some(CUPI_ACCEPT)).await;
}

#[tokio::test]
async fn with_the_flag_a_plain_json_client_gets_them_too() {
    let upstream = recorded_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    assert_examples_match(&gateway, Some("application/json")).await;
    assert_examples_match(&gateway, Some("application/json, text/plain, */*")).await;
}

#[tokio::test]
async fn the_typed_contract_stays_the_default_and_can_be_asked_for_under_the_flag() {
    let upstream = recorded_upstream().await;
    let typed = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let flagged = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let one = "/vmrest/ports?query=(PortNumInGroup%20is%201)";
    for (gateway, accept) in [
        (&typed, "application/json"),
        (&flagged, "application/json; profile=typed"),
    ] {
        let response = get_accepting(&format!("{gateway}{one}"), Some(accept)).await;
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = json(response).await; // checked against the OpenAPI document too
        assert_eq!(body["@total"], 1);
        assert_eq!(body["Port"][0]["CapEnabled"], true);
        assert_eq!(body["Port"][0]["PortNumInGroup"], 1);
    }
    // XML clients get the upstream's XML, whatever the flag.
    let response = get_accepting(&format!("{flagged}{one}"), Some("application/xml")).await;
    assert_eq!(
        response.bytes().await.unwrap(),
        fixture("ports-one.xml").as_slice()
    );
}

#[tokio::test]
async fn errors_keep_the_one_error_shape_and_head_says_which_json_it_would_be() {
    let upstream = recorded_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
    let response = get_accepting(
        &format!("{gateway}/vmrest/portgroups/nope"),
        Some("application/json"),
    )
    .await;
    assert_eq!(response.status(), 404);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"errors": [{"code": "NOT_FOUND", "message": "no such thing"}]})
    );

    let response = fetch_accepting(
        reqwest::Method::HEAD,
        &format!("{gateway}/vmrest/ports"),
        Some("application/json"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], CUPI_CONTENT_TYPE);
}

/// Lists larger than the size read whole are streamed; the held-back first item must come out
/// the same there, as an array's head or as the bare object.
#[tokio::test]
async fn streamed_lists_give_the_same_cupi_json_as_whole_ones() {
    let spec = ApiSpec::embedded().unwrap();
    let many = cupi_simulator::generated_ports_xml(4000);
    let one = format!(
        r#"<Ports total="1"><Port><ObjectId>a</ObjectId><DisplayName>{}</DisplayName><CapEnabled>true</CapEnabled></Port></Ports>"#,
        "x".repeat(cupi_gateway::body::WHOLE_LIMIT)
    );
    for xml in [many, one] {
        assert!(xml.len() > cupi_gateway::body::WHOLE_LIMIT);
        let expected = cupi_codec::xml_to_cupi_json(xml.as_bytes(), spec.schema()).unwrap();
        let upstream =
            FakeUpstream::start(move |_| respond(200, "application/xml", xml.clone())).await;
        let gateway = start_gateway(&upstream.origin, GatewayOptions::in_mode(Mode::Cupi)).await;
        let response =
            get_accepting(&format!("{gateway}/vmrest/ports"), Some("application/json")).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("content-length").is_none());
        assert_eq!(response.headers()["content-type"], CUPI_CONTENT_TYPE);
        let body = response.bytes().await.unwrap();
        assert!(body == expected, "streamed CUPI JSON differs");
        let value: Value = serde_json::from_slice(&body).unwrap();
        match &value["Port"] {
            Value::Array(ports) => {
                assert_eq!(value["@total"], "4000");
                assert_eq!(ports.len(), 4000);
                assert_eq!(ports[0]["CapEnabled"], "true");
            }
            Value::Object(port) => {
                assert_eq!(value["@total"], "1");
                assert_eq!(port["ObjectId"], "a");
                assert_eq!(port["CapEnabled"], "true");
            }
            other => panic!("Port is {other}"),
        }
    }
}

/// What CUPI scripts PUT to resources the OpenAPI document does not describe goes to the
/// server as the JSON they sent; wrapped bodies and described resources still become XML.
#[tokio::test]
async fn unwrapped_bodies_for_undescribed_resources_go_as_json() {
    let upstream = recorded_upstream().await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let user = format!("{gateway}/vmrest/users/6c9ef0e8");

    for (content_type, body) in [
        ("application/json", r#"{"HackCount":"0"}"#),
        (
            "application/json; charset=utf-8",
            r#"{"Alias": "jdoe", "ListInDirectory": "true", "Extras": {"A": ["1", "2"]}}"#,
        ),
    ] {
        let response = put(&user, content_type, body).await;
        assert_eq!(response.status(), 204, "{body}");
        let sent = upstream.last();
        assert_eq!(sent.method, http::Method::PUT);
        assert_eq!(sent.target, "/vmrest/users/6c9ef0e8");
        assert_eq!(sent.headers["content-type"], content_type);
        assert_eq!(sent.headers["content-length"], body.len().to_string());
        assert_eq!(sent.body, body.as_bytes(), "forwarded byte for byte");
    }

    // Wrapped in a root: XML, as before.
    let response = put(&user, "application/json", r#"{"User":{"HackCount":"0"}}"#).await;
    assert_eq!(response.status(), 204);
    let sent = upstream.last();
    assert_eq!(sent.headers["content-type"], "application/xml");
    assert_eq!(
        sent.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><User><HackCount>0</HackCount></User>"#.as_bytes()
    );

    // A described resource knows its root: the unwrapped body becomes XML.
    let group = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let response = put(&group, "application/json", r#"{"MwiOnCode":"678"}"#).await;
    assert_eq!(response.status(), 204);
    let sent = upstream.last();
    assert_eq!(sent.headers["content-type"], "application/xml");
    assert_eq!(
        sent.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><PortGroup><MwiOnCode>678</MwiOnCode></PortGroup>"#
            .as_bytes()
    );

    // What is not a JSON object never goes upstream.
    let before = upstream.count();
    for bad in [r#"{"HackCount":"0""#, r#"{"a":"1","a":"2"}"#, r#"["a"]"#] {
        let response = put(&user, "application/json", bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_json", "{bad}");
    }
    assert_eq!(upstream.count(), before);
}

/// The flow of `tests/compat/cupi_script.py`, against the simulator: list, read, PUT an
/// unwrapped body, read back, with plain `Accept: application/json` under the flag.
#[tokio::test]
async fn a_cupi_script_round_trip_through_the_simulator() {
    let simulator = start_simulator(Default::default()).await;
    let gateway = start_gateway(&simulator, GatewayOptions::in_mode(Mode::Cupi)).await;
    let accept = Some("application/json");

    let list = get_accepting(&format!("{gateway}/vmrest/portgroups"), accept).await;
    let list: Value = serde_json::from_slice(&list.bytes().await.unwrap()).unwrap();
    assert_eq!(list["@total"], "1");
    assert_eq!(list["PortGroup"]["ObjectId"], PORT_GROUP_ID);
    assert_eq!(list["PortGroup"]["PortCount"], "2");

    let group = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let response = put(&group, "application/json", r#"{"MwiOnCode": "4242"}"#).await;
    assert_eq!(response.status(), 204);
    let read = get_accepting(&group, accept).await;
    let read: Value = serde_json::from_slice(&read.bytes().await.unwrap()).unwrap();
    assert_eq!(read["MwiOnCode"], "4242");
    assert_eq!(read["MwiOffCode"], "");
    assert_eq!(read["EnableMWI"], "true");
}
