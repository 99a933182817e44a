//! Defects found reviewing CUPI compatibility mode, the simulator's related resources and
//! the query-parameter checks, each pinned by the test that showed it.

use crate::support::*;
use cupi_gateway::transcode::Mode;
use cupi_simulator::SimulatorConfig;

/// The `Content-Type` a gateway in `mode` in front of the simulator answers `accept` with.
async fn answered_type(gateway: &str, accept: &str) -> String {
    let response = get_accepting(&format!("{gateway}/vmrest/portgroups"), Some(accept)).await;
    assert_eq!(response.status(), 200, "{accept}");
    response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// RFC 9110 §12.4.2: the weight's name `q` is case-insensitive, so `Q=0` refuses a type as
/// `q=0` does and `Q=0.5` ranks it as `q=0.5` does.
#[tokio::test]
async fn an_upper_case_q_weighs_as_a_lower_case_one() {
    let simulator = start_simulator(SimulatorConfig::default()).await;
    let compat = start_gateway(&simulator, GatewayOptions::in_mode(Mode::Cupi)).await;
    let typed = start_gateway(&simulator, GatewayOptions::in_mode(Mode::Typed)).await;
    for accept in ["application/json;Q=0", "application/json; Q=0.0"] {
        assert_eq!(answered_type(&compat, accept).await, "application/xml");
    }
    let preferring_xml = "application/json;Q=0.5, application/xml";
    for gateway in [&compat, &typed] {
        assert_eq!(
            answered_type(gateway, preferring_xml).await,
            "application/xml"
        );
    }
    // The weight still says nothing of the mode: JSON is JSON whatever the case of its `q`.
    assert_eq!(
        answered_type(&compat, "application/json;Q=0.9").await,
        "application/json; profile=cupi"
    );
}

/// A refused query parameter is named, but its message and `parameter` key quote a bounded
/// piece of what the client sent: a 20 KB name or value is not echoed back by the gateway or
/// the simulator.
#[tokio::test]
async fn query_errors_quote_little_of_a_huge_name_or_value() {
    let simulator = start_simulator(SimulatorConfig::default()).await;
    let gateway = start_gateway(&simulator, GatewayOptions::default()).await;
    let long_name = "b".repeat(20_000);
    let bad_value = format!("%zz{}", "c".repeat(20_000));
    let query = format!("{long_name}=1&rowsPerPage={bad_value}");
    let response = get(&format!("{gateway}/vmrest/portgroups?{query}")).await;
    assert_eq!(response.status(), 400);
    let body = json(response).await;
    let errors = body["errors"].as_array().unwrap();
    let named: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap(),
                e["parameter"].as_str().unwrap(),
            )
        })
        .collect();
    let (code, invented) = named[0];
    assert_eq!(code, "unknown_parameter");
    assert!(
        invented.starts_with("\"bbb") && invented.ends_with('…') && invented.len() < 300,
        "the invented name is cut, not echoed: {} bytes: {invented:.120}",
        invented.len()
    );
    assert_eq!(named[1..], [("invalid_parameter", "rowsPerPage")]);
    for error in errors {
        let message = error["message"].as_str().unwrap();
        assert!(
            message.len() < 300,
            "{} bytes: {message:.120}",
            message.len()
        );
    }

    // The simulator reads query strings with the same decoder.
    let url = format!("{simulator}/vmrest/portgroups?rowsPerPage={bad_value}");
    let response = get(&url).await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("INVALID_PARAMETER"), "{body:.300}");
    assert!(body.len() < 1000, "{} bytes: {body:.300}", body.len());
}

/// JSON larger than the request limit is refused in CUPI mode as in typed mode, also when it
/// opens with a UTF-8 byte order mark, which JSON readers such as Jackson skip: the mark does
/// not make it a body the server may be streamed past the limit.
#[tokio::test]
async fn json_behind_a_byte_order_mark_is_held_to_the_request_limit() {
    let upstream = FakeUpstream::start(|_| respond(204, "", "")).await;
    let limit = 4096;
    let options = GatewayOptions {
        limits: cupi_gateway::transcode::Limits {
            max_request_body: limit,
            max_response_body: 1 << 20,
        },
        ..GatewayOptions::in_mode(Mode::Cupi)
    };
    let compat = start_gateway(&upstream.origin, options).await;
    let greeting = "/vmrest/users/6c9ef0e8/greetings/Standard/greetingstreamfiles/1033/audio";
    let mut big_json = b"\xEF\xBB\xBF {\"A\":\"".to_vec();
    big_json.resize(16 * limit, b'x');
    big_json.extend_from_slice(b"\"}");
    let response = put(&format!("{compat}{greeting}"), "application/json", big_json).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
    assert_eq!(upstream.count(), 0, "streamed to the server past the limit");
}
