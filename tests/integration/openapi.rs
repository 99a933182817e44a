//! The OpenAPI document drives the gateway: validation before the upstream, typing from the
//! YAML, extra documents by `--schema`, and the document and its UI served by the gateway.

use std::path::PathBuf;

use crate::support::*;
use bytes::Bytes;
use cupi_codec::xml_to_json;
use cupi_gateway::openapi::{ApiSpec, EMBEDDED_YAML};
use serde_json::{json, Value};

const PORT_GROUP_XML: &str = "<PortGroup><ObjectId>g1</ObjectId><PortCount>2</PortCount><EnableMWI>true</EnableMWI></PortGroup>";

fn users_fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/extra-users.yaml"
    ))
}

/// A scripted upstream that counts what reaches it, behind a validating gateway.
async fn counting_stack(options: GatewayOptions) -> (FakeUpstream, String) {
    let upstream = FakeUpstream::start(|_| respond(204, "", Bytes::new())).await;
    let gateway = start_gateway(&upstream.origin, options).await;
    (upstream, gateway)
}

#[tokio::test]
async fn writes_the_document_does_not_allow_never_reach_the_upstream() {
    let (upstream, gateway) = counting_stack(GatewayOptions::default()).await;
    let group = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");

    let read_only = put(&group, "application/json", r#"{"DisplayName": "renamed"}"#).await;
    assert_eq!(read_only.status(), 400);
    let body = json(read_only).await;
    assert_eq!(body["errors"][0]["code"], "read_only_field");
    assert_eq!(body["errors"][0]["field"], "DisplayName");

    let unknown = put(&group, "application/json", r#"{"NoSuchField": "1"}"#).await;
    assert_eq!(unknown.status(), 400);
    let body = json(unknown).await;
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    assert_eq!(body["errors"][0]["field"], "NoSuchField");

    let wrong_type = put(&group, "application/json", r#"{"MwiOnCode": 678}"#).await;
    assert_eq!(wrong_type.status(), 400);
    let body = json(wrong_type).await;
    assert_eq!(body["errors"][0]["code"], "invalid_type");
    assert_eq!(body["errors"][0]["field"], "MwiOnCode");
    assert_eq!(
        body["errors"][0]["message"],
        "MwiOnCode must be string or null, not an integer"
    );

    // Every offending field is reported, each in its own entry.
    let several = put(
        &group,
        "application/json",
        r#"{"PortGroup": {"PortCount": 3, "MwiOffCode": true, "Nope": null}}"#,
    )
    .await;
    let body = json(several).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["PortCount", "MwiOffCode", "Nope"]);

    // XML bodies are checked too (and would be forwarded untouched if they passed).
    let xml = put(
        &group,
        "application/xml",
        "<PortGroup><DisplayName>x</DisplayName></PortGroup>",
    )
    .await;
    assert_eq!(xml.status(), 400);
    assert_eq!(json(xml).await["errors"][0]["field"], "DisplayName");

    let port_write = put(
        &format!("{gateway}/vmrest/ports/{PORT_1_ID}"),
        "application/json",
        r#"{"HuntOrder": 1}"#,
    )
    .await;
    assert_eq!(port_write.status(), 405);
    assert_eq!(port_write.headers()["allow"], "GET, HEAD");
    assert_eq!(error_code(port_write).await, "method_not_allowed");

    let delete = send(reqwest::Method::DELETE, &group, "application/json", "").await;
    assert_eq!(delete.status(), 405);
    assert_eq!(delete.headers()["allow"], "GET, PUT, HEAD");

    let create = send(
        reqwest::Method::POST,
        &format!("{gateway}/vmrest/portgroups"),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(create.status(), 405);

    assert_eq!(
        upstream.count(),
        0,
        "no refused request reached the upstream"
    );

    // What the document allows goes through, and so do resources it does not describe.
    let ok = put(
        &group,
        "application/json",
        r#"{"MwiOnCode": "678", "MwiOffCode": "876"}"#,
    )
    .await;
    assert_eq!(ok.status(), 204);
    let other = put(
        &format!("{gateway}/vmrest/callhandlers/x"),
        "application/json",
        r#"{"Callhandler": {"Anything": 1}}"#,
    )
    .await;
    assert_eq!(other.status(), 204);
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn validation_cannot_be_dodged_by_spelling() {
    let (upstream, gateway) = counting_stack(GatewayOptions::default()).await;
    let group = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let read_only = r#"{"DisplayName": "renamed"}"#;

    // The same path, with letters percent-encoded: Tomcat would route it to port groups.
    let encoded = put(
        &format!("{gateway}/vmrest/portgroup%73/{PORT_GROUP_ID}"),
        "application/json",
        read_only,
    )
    .await;
    assert_eq!(encoded.status(), 400);
    assert_eq!(error_code(encoded).await, "invalid_path");

    // Other spellings of JSON and XML are checked like the plain ones.
    let text_json = put(&group, "text/json", read_only).await;
    assert_eq!(
        json(text_json).await["errors"][0]["code"],
        "read_only_field"
    );
    let suffixed_xml = put(
        &group,
        "text/vnd.cupi+xml",
        "<PortGroup><DisplayName>x</DisplayName></PortGroup>",
    )
    .await;
    assert_eq!(
        json(suffixed_xml).await["errors"][0]["code"],
        "read_only_field"
    );

    // What cannot be checked is refused, not forwarded.
    let plain = put(&group, "text/plain", "DisplayName=renamed").await;
    assert_eq!(plain.status(), 415);
    assert_eq!(error_code(plain).await, "unsupported_media_type");
    let latin1 = put(
        &group,
        "application/xml",
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><PortGroup><DisplayName>caf\xe9</DisplayName></PortGroup>".to_vec(),
    )
    .await;
    // Declared Latin-1: the gateway reads UTF-8 only, so it cannot check it as sent.
    assert_eq!(latin1.status(), 415);
    assert_eq!(error_code(latin1).await, "unsupported_media_type");
    let compressed = client()
        .put(&group)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(vec![0x1f, 0x8b, 0x08, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.status(), 415);

    assert_eq!(upstream.count(), 0, "none of them reached the upstream");
}

#[tokio::test]
async fn null_clears_an_mwi_code() {
    let gateway = start_stack().await;
    let group = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    assert_eq!(
        put(&group, "application/json", r#"{"MwiOnCode": "678"}"#)
            .await
            .status(),
        204
    );
    assert_eq!(json(get(&group).await).await["MwiOnCode"], "678");
    assert_eq!(
        put(&group, "application/json", r#"{"MwiOnCode": null}"#)
            .await
            .status(),
        204
    );
    assert_eq!(json(get(&group).await).await["MwiOnCode"], "");
}

#[tokio::test]
async fn validation_can_be_turned_off() {
    let (upstream, gateway) = counting_stack(GatewayOptions::without_validation()).await;
    let response = put(
        &format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}"),
        "application/json",
        r#"{"DisplayName": "renamed"}"#,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        std::str::from_utf8(&upstream.last().body).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><PortGroup><DisplayName>renamed</DisplayName></PortGroup>"#
    );
}

#[test]
fn changing_a_type_in_the_yaml_changes_the_transcoder_output() {
    let as_integer = ApiSpec::embedded().unwrap();
    let json_of = |spec: &ApiSpec| -> Value {
        serde_json::from_slice(&xml_to_json(PORT_GROUP_XML.as_bytes(), spec.schema()).unwrap())
            .unwrap()
    };
    assert_eq!(json_of(&as_integer)["PortCount"], 2);

    // The same document with PortCount declared a string: its `type:` line (the first line
    // of the property) gets a new value, indentation kept.
    let marker = "PortCount:\n";
    let start = EMBEDDED_YAML
        .find(marker)
        .expect("PortCount in the document")
        + marker.len();
    let line_end = start + EMBEDDED_YAML[start..].find('\n').unwrap();
    let type_line = &EMBEDDED_YAML[start..line_end];
    let indent = &type_line[..type_line.len() - type_line.trim_start().len()];
    assert!(
        type_line.trim_start().starts_with("type:"),
        "type comes first: {type_line}"
    );
    let edited = format!(
        "{}{indent}type: string{}",
        &EMBEDDED_YAML[..start],
        &EMBEDDED_YAML[line_end..]
    );
    let as_string = ApiSpec::from_yaml(&edited).unwrap();
    assert_eq!(json_of(&as_string)["PortCount"], "2");
    assert_eq!(
        json_of(&as_string)["EnableMWI"],
        true,
        "other fields keep their types"
    );
}

#[tokio::test]
async fn an_extra_document_adds_a_resource_with_no_code_change() {
    let users_xml = r#"<Users total="1"><User><ObjectId>u1</ObjectId><Alias>jdoe</Alias><ListInDirectory>true</ListInDirectory><MaxMsgLength>300</MaxMsgLength><QuotaMb>1.5</QuotaMb></User></Users>"#;
    let upstream = FakeUpstream::start(move |request| match request.method.as_str() {
        "GET" => respond(200, "application/xml", users_xml),
        _ => respond(204, "", Bytes::new()),
    })
    .await;

    // Without the extra document, users are untyped and unvalidated.
    let plain = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let body = json(get(&format!("{plain}/vmrest/users")).await).await;
    assert_eq!(body["User"][0]["ListInDirectory"], "true");

    let options = GatewayOptions {
        spec: ApiSpec::load(&[users_fixture()]).unwrap(),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let body = json(get(&format!("{gateway}/vmrest/users")).await).await;
    assert_eq!(
        body,
        json!({"@total": 1, "User": [{"ObjectId": "u1", "Alias": "jdoe", "ListInDirectory": true, "MaxMsgLength": 300, "QuotaMb": 1.5}]})
    );

    let refused = put(
        &format!("{gateway}/vmrest/users/u1"),
        "application/json",
        r#"{"Alias": "x"}"#,
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(json(refused).await["errors"][0]["code"], "read_only_field");

    // The root element comes from the extra document too: the body needs no wrapper.
    let accepted = put(
        &format!("{gateway}/vmrest/users/u1"),
        "application/json",
        r#"{"DisplayName": "J. Doe"}"#,
    )
    .await;
    assert_eq!(accepted.status(), 204);
    assert_eq!(
        std::str::from_utf8(&upstream.last().body).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><User><DisplayName>J. Doe</DisplayName></User>"#
    );
    // `User` allows additional properties, so a field the document does not list passes.
    let extra = put(
        &format!("{gateway}/vmrest/users/u1"),
        "application/json",
        r#"{"NewField": "x"}"#,
    )
    .await;
    assert_eq!(extra.status(), 204);
    // The built-in resources are still described.
    let port_write = put(
        &format!("{gateway}/vmrest/ports/x"),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(port_write.status(), 405);
}

#[test]
fn an_extra_document_can_redescribe_a_built_in_path() {
    let dir = std::env::temp_dir().join(format!("cupi-gateway-override-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("read-only-groups.yaml");
    // Port groups made read-only, under another parameter name than the built-in document's.
    std::fs::write(
        &file,
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /vmrest/portgroups/{id}:\n    get:\n      responses:\n        '200': {description: ok}\n",
    )
    .unwrap();
    let spec = ApiSpec::load(&[file]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let route = spec.rules().route("/vmrest/portgroups/x").unwrap();
    assert_eq!(route.allow_header(), "GET, HEAD");
    let paths = spec.document()["paths"].as_object().unwrap();
    assert!(paths.contains_key("/vmrest/portgroups/{id}"));
    assert!(
        !paths.contains_key("/vmrest/portgroups/{objectId}"),
        "one description per path"
    );
}

#[tokio::test]
async fn the_document_is_served_pointing_at_this_gateway() {
    let gateway = start_stack().await;
    let response = get_anonymous(&format!("{gateway}/openapi.json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"], json!([{"url": gateway}]));
    assert!(document["paths"]["/vmrest/portgroups/{objectId}"]["put"].is_object());

    let response = get_anonymous(&format!("{gateway}/openapi.yaml")).await;
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let yaml = response.text().await.unwrap();
    let from_yaml = ApiSpec::from_yaml(&yaml).expect("the served YAML is a valid document");
    assert_eq!(from_yaml.document()["servers"], json!([{"url": gateway}]));
    assert_eq!(from_yaml.document()["paths"], document["paths"]);
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_from_the_binary() {
    let gateway = start_stack().await;
    let page = get_anonymous(&format!("{gateway}/docs")).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/docs/swagger-ui-bundle.js") && html.contains("/openapi.json"),
        "{html}"
    );
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no external URL: {html}"
    );
    for (asset, content_type) in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
    ] {
        let response = get_anonymous(&format!("{gateway}/docs/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(content_type));
        assert!(
            response.bytes().await.unwrap().len() > 10_000,
            "{asset} is the real file"
        );
    }
}

#[test]
#[should_panic(expected = "breaks the contract")]
fn the_contract_check_catches_a_body_of_the_wrong_shape() {
    // CUPI's own JSON mode: a string total and a bare object for a one-item list.
    crate::support::contract::check(
        "/vmrest/ports",
        200,
        &json!({"@total": "1", "Port": {"ObjectId": "p"}}),
    );
}

#[test]
#[should_panic(expected = "is not documented")]
fn the_contract_check_catches_an_undocumented_status() {
    crate::support::contract::check("/vmrest/ports", 418, &json!({"errors": []}));
}

#[test]
fn the_contract_check_skips_undescribed_paths_only() {
    assert!(!crate::support::contract::check(
        "/vmrest/users",
        200,
        &json!({"anything": 1})
    ));
    assert!(crate::support::contract::check(
        "/vmrest/ports",
        200,
        &json!({"@total": 0, "Port": []})
    ));
}
