//! Defects found reviewing CUPI compatibility mode, the simulator's related resources and
//! the query-parameter checks, each pinned by the test that showed it.

mod support;

use cupi_gateway::simulator::SimulatorConfig;
use cupi_gateway::transcode::Mode;
use support::*;

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
