//! The whole stack over real sockets: client → gateway → embedded CUPI simulator.

use crate::support::*;
use serde_json::{json, Value};

#[tokio::test]
async fn port_group_list_is_typed_json() {
    let gateway = start_stack().await;
    let body = json(get(&format!("{gateway}/vmrest/portgroups")).await).await;
    assert_eq!(body["@total"], 1);
    let groups = body["PortGroup"].as_array().expect("PortGroup is an array");
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group["ObjectId"], PORT_GROUP_ID);
    assert_eq!(group["DisplayName"], "PhoneSystem-1");
    assert_eq!(group["EnableMWI"], true);
    assert_eq!(group["SipDoAuthenticate"], false);
    assert_eq!(group["PortCount"], 2);
    assert_eq!(group["TelephonyIntegrationMethodEnum"], 1);
    assert_eq!(group["MwiOnCode"], "");
    assert_eq!(group["SkinnyDevicePrefix"], "test-VI");
}

#[tokio::test]
async fn port_list_keeps_both_ports_in_order() {
    let gateway = start_stack().await;
    let body = json(get(&format!("{gateway}/vmrest/ports")).await).await;
    assert_eq!(body["@total"], 2);
    let ports = body["Port"].as_array().unwrap();
    let ids: Vec<&str> = ports
        .iter()
        .map(|p| p["ObjectId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [PORT_1_ID, PORT_2_ID]);
    assert_eq!(ports[0]["PortNumInGroup"], 1);
    assert_eq!(ports[1]["PimgPortNumber"], 2);
    assert_eq!(ports[0]["CapAnswer"], true);
    assert_eq!(ports[0]["CapDeliverAmis"], false);
    assert_eq!(ports[0]["MediaPortGroupObjectId"], PORT_GROUP_ID);
}

#[tokio::test]
async fn one_item_list_is_still_an_array() {
    let gateway = start_stack().await;
    let url = format!("{gateway}/vmrest/ports?query=(DisplayName%20is%20PhoneSystem-1-002)");
    let body = json(get(&url).await).await;
    assert_eq!(body["@total"], 1);
    let ports = body["Port"].as_array().expect("one item is still an array");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["ObjectId"], PORT_2_ID);
}

#[tokio::test]
async fn zero_items_and_count_only_give_an_empty_array() {
    let gateway = start_stack().await;
    let none = json(
        get(&format!(
            "{gateway}/vmrest/ports?query=(DisplayName%20is%20nobody)"
        ))
        .await,
    )
    .await;
    assert_eq!(none, json!({"@total": 0, "Port": []}));
    let count = json(get(&format!("{gateway}/vmrest/ports?rowsPerPage=0")).await).await;
    assert_eq!(count, json!({"@total": 2, "Port": []}));
}

#[tokio::test]
async fn get_by_id_is_the_bare_full_object() {
    let gateway = start_stack().await;
    let body = json(get(&format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}")).await).await;
    assert!(body.get("PortGroup").is_none(), "no wrapper: {body}");
    assert_eq!(body["ObjectId"], PORT_GROUP_ID);
    // Only the full object carries these (lists return a subset).
    assert_eq!(body["EnableAGC"], true);
    assert_eq!(body["WaitForCallInfoMs"], 1500);
    assert_eq!(body["MediaSipSecurityProfileObjectId"], "");

    let port = json(get(&format!("{gateway}/vmrest/ports/{PORT_1_ID}")).await).await;
    assert_eq!(port["ObjectId"], PORT_1_ID);
    assert_eq!(port["SipSendPort"], 0);
}

#[tokio::test]
async fn query_sort_and_paging_reach_the_upstream() {
    let gateway = start_stack().await;
    let total = |v: Value| v["@total"].as_i64().unwrap();
    let url = |q: &str| format!("{gateway}/vmrest/{q}");

    let starts = json(get(&url("portgroups?query=(displayname%20startswith%20Phone)")).await).await;
    assert_eq!(total(starts), 1);
    assert_eq!(
        total(json(get(&url("portgroups?query=(EnableMWI%20is%201)")).await).await),
        1
    );
    assert_eq!(
        total(json(get(&url("portgroups?query=(EnableMWI%20is%200)")).await).await),
        0
    );

    let sorted = json(get(&url("ports?sort=(DisplayName%20desc)")).await).await;
    assert_eq!(sorted["Port"][0]["DisplayName"], "PhoneSystem-1-002");
    assert_eq!(sorted["Port"][1]["DisplayName"], "PhoneSystem-1-001");

    let page = json(get(&url("ports?rowsPerPage=1&pageNumber=2")).await).await;
    let ports = page["Port"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["ObjectId"], PORT_2_ID);
}

#[tokio::test]
async fn put_in_json_is_sent_as_xml_and_persists() {
    let gateway = start_stack().await;
    let url = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let response = put(
        &url,
        "application/json",
        r#"{"MwiOnCode": "007", "MwiOffCode": "876"}"#,
    )
    .await;
    assert_eq!(response.status(), 204);
    let group = json(get(&url).await).await;
    assert_eq!(
        group["MwiOnCode"], "007",
        "string fields are never re-typed"
    );
    assert_eq!(group["MwiOffCode"], "876");

    // The wrapped form is accepted too.
    let response = put(
        &url,
        "application/json",
        r#"{"PortGroup": {"MwiOnCode": "5"}}"#,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(json(get(&url).await).await["MwiOnCode"], "5");
}

#[tokio::test]
async fn put_in_xml_is_forwarded_untouched() {
    let gateway = start_stack().await;
    let url = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let response = put(
        &url,
        "application/xml",
        "<PortGroup><MwiOnCode>678</MwiOnCode><MwiOffCode>876</MwiOffCode></PortGroup>",
    )
    .await;
    assert_eq!(response.status(), 204);
    let group = json(get(&url).await).await;
    assert_eq!(
        (group["MwiOnCode"].as_str(), group["MwiOffCode"].as_str()),
        (Some("678"), Some("876"))
    );
}

#[tokio::test]
async fn xml_clients_get_the_upstream_xml_untouched() {
    let simulator = start_simulator(Default::default()).await;
    let gateway = start_gateway(&simulator, GatewayOptions::default()).await;
    for accept in ["application/xml", "text/xml"] {
        let fetch = |base: String| async move {
            client()
                .get(format!("{base}/vmrest/ports"))
                .basic_auth(AUTH.0, Some(AUTH.1))
                .header("accept", accept)
                .send()
                .await
                .unwrap()
        };
        let through = fetch(gateway.clone()).await;
        assert_eq!(through.status(), 200);
        assert!(through.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml"));
        let direct = fetch(simulator.clone()).await.bytes().await.unwrap();
        assert_eq!(through.bytes().await.unwrap(), direct);
    }
}

#[tokio::test]
async fn auth_failure_keeps_401_and_its_challenge() {
    let gateway = start_stack().await;
    let response = get_anonymous(&format!("{gateway}/vmrest/ports")).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(error_code(response).await, "unauthorized");

    let wrong = client()
        .get(format!("{gateway}/vmrest/ports"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn session_cookies_pass_both_ways() {
    let gateway = start_stack().await;
    let first = get(&format!("{gateway}/vmrest/ports")).await;
    let cookies: Vec<String> = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("JSESSIONID=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("JSESSIONIDSSO=")),
        "{cookies:?}"
    );
    let session: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();

    // The simulator accepts its session cookie without Basic auth, so this only succeeds
    // if the cookie reached it.
    let second = client()
        .get(format!("{gateway}/vmrest/ports"))
        .header("cookie", session.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
}

#[tokio::test]
async fn cupi_errors_become_the_json_error_shape() {
    // Validation off, so Unity Connection's (the simulator's) own refusals come back.
    let simulator = start_simulator(Default::default()).await;
    let gateway = start_gateway(&simulator, GatewayOptions::without_validation()).await;

    let missing = get(&format!("{gateway}/vmrest/portgroups/no-such-id")).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(error_code(missing).await, "NOT_FOUND");

    let other_field = put(
        &format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}"),
        "application/json",
        r#"{"DisplayName": "renamed"}"#,
    )
    .await;
    assert_eq!(other_field.status(), 400);
    let body = json(other_field).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DisplayName"),
        "{body}"
    );

    let port_write = put(
        &format!("{gateway}/vmrest/ports/{PORT_1_ID}"),
        "application/json",
        r#"{"HuntOrder": 1}"#,
    )
    .await;
    assert_eq!(port_write.status(), 405);
    assert!(port_write.headers()["allow"]
        .to_str()
        .unwrap()
        .contains("GET"));
    assert_eq!(error_code(port_write).await, "METHOD_NOT_ALLOWED");

    let not_xml = put(
        &format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}"),
        "text/plain",
        "MwiOnCode=1",
    )
    .await;
    assert_eq!(not_xml.status(), 415);
    assert_eq!(error_code(not_xml).await, "UNSUPPORTED_MEDIA_TYPE");

    let bad_query = get(&format!("{gateway}/vmrest/ports?query=(Nope%20is%201)")).await;
    assert_eq!(bad_query.status(), 400);
    assert_eq!(error_code(bad_query).await, "INVALID_PARAMETER");
}

#[tokio::test]
async fn gateway_refuses_bad_json_itself() {
    // Validation off: these are the transcoder's own checks, which hold either way.
    let simulator = start_simulator(Default::default()).await;
    let gateway = start_gateway(&simulator, GatewayOptions::without_validation()).await;
    let url = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let put = |body: &'static str, content_type: &'static str| put(&url, content_type, body);
    let broken = put(r#"{"MwiOnCode": "#, "application/json").await;
    assert_eq!(broken.status(), 400);
    assert_eq!(error_code(broken).await, "invalid_json");

    let bad_key = put(r#"{"Mwi On": "1"}"#, "application/json").await;
    assert_eq!(bad_key.status(), 400);
    let body = json(bad_key).await;
    assert_eq!(body["errors"][0]["code"], "invalid_json");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Mwi On"),
        "{body}"
    );

    let array = put(r#"[{"MwiOnCode": "1"}]"#, "application/json").await;
    assert_eq!(array.status(), 400);
    assert!(json(array).await["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("array"));

    let latin1 = put(
        r#"{"MwiOnCode": "1"}"#,
        "application/json; charset=iso-8859-1",
    )
    .await;
    assert_eq!(latin1.status(), 415);
    assert_eq!(error_code(latin1).await, "unsupported_media_type");
}

#[tokio::test]
async fn too_large_json_body_is_413() {
    let simulator = start_simulator(Default::default()).await;
    let mut options = GatewayOptions::default();
    options.limits.max_request_body = 64;
    let gateway = start_gateway(&simulator, options).await;
    let body = format!(r#"{{"MwiOnCode": "{}"}}"#, "9".repeat(100));
    let url = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let response = put(&url, "application/json", body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

/// A body within the limit whose XML form is not: each item of an array repeats its long name
/// twice in XML, so 3 KiB of JSON would be 150 KiB going up.
#[tokio::test]
async fn json_whose_xml_outgrows_the_limit_is_413() {
    let simulator = start_simulator(Default::default()).await;
    let mut options = GatewayOptions::default();
    options.limits.max_request_body = 4096;
    let gateway = start_gateway(&simulator, options).await;
    let name = "N".repeat(50);
    let body = format!(r#"{{"User": {{"{name}": [{}1]}}}}"#, "1,".repeat(1500));
    assert!(body.len() < 4096);
    let response = put(
        &format!("{gateway}/vmrest/users/x"),
        "application/json",
        body,
    )
    .await;
    assert_eq!(response.status(), 413);
    let body = json(response).await;
    assert_eq!(body["errors"][0]["code"], "payload_too_large", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("as XML"),
        "{body}"
    );
}

#[tokio::test]
async fn only_vmrest_is_forwarded() {
    let gateway = start_stack().await;
    for path in [
        "/vmrestx",
        "/other/vmrest/ports",
        "/VMREST/ports",
        "/favicon.ico",
    ] {
        let response = get(&format!("{gateway}{path}")).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(response).await, "not_found", "{path}");
    }
    let health = get_anonymous(&format!("{gateway}/healthz")).await;
    assert_eq!(health.status(), 200);
    assert_eq!(json(health).await["status"], "ok");
    // `/vmrest` itself is forwarded: the simulator, not the gateway, answers it.
    let root = get(&format!("{gateway}/vmrest")).await;
    assert_eq!(root.status(), 404);
    assert_eq!(error_code(root).await, "NOT_FOUND");
}
