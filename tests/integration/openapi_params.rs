//! The document's query parameters say exactly what is accepted: the `pattern`s of `query` and
//! `sort` accept every form the simulator accepts and refuse every form it refuses, the gateway
//! enforces them (and the integer bounds) before anything reaches the upstream, and the
//! document's own examples match their patterns.

use crate::support::*;
use bytes::Bytes;
use cupi_gateway::openapi::ApiSpec;
use cupi_simulator::SimulatorConfig;
use serde_json::Value;

/// Percent-encodes everything but RFC 3986 unreserved characters, so a value reaches the
/// server exactly as written (spaces as `%20`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn document() -> Value {
    ApiSpec::embedded().unwrap().document().clone()
}

/// The compiled `pattern` of a component parameter, as the gateway compiles it.
fn pattern(parameter: &str) -> regex_lite::Regex {
    let document = document();
    let source = document["components"]["parameters"][parameter]["schema"]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{parameter} has a pattern"));
    regex_lite::Regex::new(source).unwrap()
}

/// The field names of a resource schema: the columns the simulator searches and sorts on.
fn columns(schema: &str) -> Vec<String> {
    document()["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// The resources' list operations and the parameters that describe their `query` and `sort`.
const LISTS: [(&str, &str, &str, &str); 2] = [
    ("portgroups", "PortGroup", "PortGroupQuery", "PortGroupSort"),
    ("ports", "Port", "PortQuery", "PortSort"),
];

/// Forms of `query` and `sort` beyond one per column, with whether the simulator takes them.
/// `C` stands for a column of the resource.
const QUERY_FORMS: &[(&str, bool)] = &[
    ("({c} is x)", true),
    ("( {c}  is  two words )", true),
    ("  ({c} is x)  ", true),
    ("({c} IS x)", true),
    ("({c} StartsWith Phone)", true),
    ("({c} is a)b)", true),
    ("({c} is ))", true),
    ("({c} is \t)", true),
    ("({c} isnull )", true),
    ("({c} ISNOTNULL)", true),
    ("({c} is)", false),
    ("({c} is )", false),
    ("({c})", false),
    ("({c} like x)", false),
    ("({c} isnull x)", false),
    ("({c}\tis\tx)", false),
    ("({c}\u{a0}is x)", false),
    ("{c} is x", false),
    ("({c} is x", false),
    ("(({c} is x))", false),
    ("({c}x is x)", false),
    ("(Nope is 1)", false),
    ("()", false),
    ("", false),
];

const SORT_FORMS: &[(&str, bool)] = &[
    ("({c})", true),
    ("({c} asc)", true),
    ("( {c}  DESC )", true),
    (" ({c} Asc) ", true),
    ("({c} up)", false),
    ("({c} asc desc)", false),
    ("({c}\u{a0}desc)", false),
    ("{c} desc", false),
    ("(Nope)", false),
    ("()", false),
    ("", false),
];

/// Asserts what the gateway (validating, in front of the simulator) and the simulator itself
/// answer to `name=value` on a list, and that the document's pattern agrees with both.
async fn assert_agree(
    stack: &str,
    simulator: &str,
    list: &str,
    name: &str,
    value: &str,
    accepted: bool,
    pattern: &regex_lite::Regex,
) {
    let target = format!("/vmrest/{list}?{name}={}", encode(value));
    assert_eq!(
        pattern.is_match(value),
        accepted,
        "the pattern of {name} on {list}: {value:?}"
    );
    let direct = get(&format!("{simulator}{target}")).await.status();
    assert_eq!(
        direct.as_u16(),
        if accepted { 200 } else { 400 },
        "the simulator on {target}"
    );
    let response = get(&format!("{stack}{target}")).await;
    let status = response.status().as_u16();
    let body = json(response).await;
    if accepted {
        assert_eq!(status, 200, "the gateway on {target}: {body}");
    } else {
        assert_eq!(status, 400, "the gateway on {target}: {body}");
        assert_eq!(body["errors"][0]["code"], "invalid_parameter", "{target}");
        assert_eq!(body["errors"][0]["parameter"], name, "{target}");
    }
}

#[tokio::test]
async fn every_column_in_any_case_is_accepted_by_the_patterns_gateway_and_simulator() {
    let simulator = start_simulator(SimulatorConfig::default()).await;
    let stack = start_gateway(&simulator, GatewayOptions::default()).await;
    for (list, schema, query, sort) in LISTS {
        let (query, sort) = (pattern(query), pattern(sort));
        for column in columns(schema) {
            let (lower, upper) = (column.to_lowercase(), column.to_uppercase());
            for value in [
                format!("({column} is x)"),
                format!("({lower} startswith x)"),
                format!("({upper} isnull)"),
                format!("({column} isnotnull)"),
            ] {
                assert_agree(&stack, &simulator, list, "query", &value, true, &query).await;
            }
            for value in [
                format!("({column})"),
                format!("({lower} asc)"),
                format!("({upper} desc)"),
            ] {
                assert_agree(&stack, &simulator, list, "sort", &value, true, &sort).await;
            }
        }
    }
}

#[tokio::test]
async fn patterns_gateway_and_simulator_agree_on_every_form() {
    let simulator = start_simulator(SimulatorConfig::default()).await;
    let stack = start_gateway(&simulator, GatewayOptions::default()).await;
    for (list, _, query, sort) in LISTS {
        for (name, forms, pattern) in [
            ("query", QUERY_FORMS, pattern(query)),
            ("sort", SORT_FORMS, pattern(sort)),
        ] {
            for &(form, accepted) in forms {
                let value = form.replace("{c}", "DisplayName");
                assert_agree(&stack, &simulator, list, name, &value, accepted, &pattern).await;
            }
        }
    }
    // A column of the other resource, and names that only Unicode case folding (which an
    // `(?i)` pattern would apply) makes equal to a column: refused by all three.
    for (list, value, query) in [
        ("ports", "(PortCount is 1)", "PortQuery"),
        ("portgroups", "(PortNumInGroup is 1)", "PortGroupQuery"),
        ("portgroups", "(Di\u{17f}playName is x)", "PortGroupQuery"),
        ("ports", "(S\u{212a}innyDeviceName is x)", "PortQuery"),
    ] {
        assert_agree(
            &stack,
            &simulator,
            list,
            "query",
            value,
            false,
            &pattern(query),
        )
        .await;
    }
}

#[tokio::test]
async fn paging_parameters_are_integers_within_the_documented_bounds() {
    let stack = start_stack().await;
    for ok in ["0", "1", "2147483647"] {
        for name in ["rowsPerPage", "pageNumber"] {
            let response = get(&format!("{stack}/vmrest/ports?{name}={ok}")).await;
            assert_eq!(response.status(), 200, "{name}={ok}");
        }
    }
    // 2147483648 the simulator would take; the document's maximum is Unity Connection's.
    for bad in [
        "-1",
        "2147483648",
        "1.5",
        "+1",
        "x",
        "",
        "99999999999999999999999",
    ] {
        let response = get(&format!("{stack}/vmrest/ports?rowsPerPage={}", encode(bad))).await;
        assert_eq!(response.status(), 400, "rowsPerPage={bad}");
        let body = json(response).await;
        assert_eq!(body["errors"][0]["code"], "invalid_parameter");
        assert_eq!(body["errors"][0]["parameter"], "rowsPerPage");
        assert_eq!(
            body["errors"][0]["message"],
            format!("rowsPerPage must be an integer from 0 to 2147483647, got {bad:?}")
        );
    }
}

#[tokio::test]
async fn refused_parameters_never_reach_the_upstream_and_are_all_named() {
    let upstream = FakeUpstream::start(|_| {
        respond(
            200,
            "application/xml",
            Bytes::from_static(br#"<Ports total="0"/>"#),
        )
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let refused = [
        // Several at once: each named in its own entry.
        (
            "query=(Nope%20is%201)&sort=(DisplayName%20up)&rowsPerPage=-1",
            vec![
                ("invalid_parameter", "query"),
                ("invalid_parameter", "sort"),
                ("invalid_parameter", "rowsPerPage"),
            ],
        ),
        // A misspelt name would be ignored upstream and the whole list fetched.
        ("rowPerPage=10", vec![("unknown_parameter", "rowPerPage")]),
        // Names are exact: a server that reads them in any case would get this unchecked.
        (
            "QUERY=(Nope%20is%201)",
            vec![("unknown_parameter", "QUERY")],
        ),
        (
            "sort=(DisplayName)&sort=(Nope)",
            vec![("invalid_parameter", "sort")],
        ),
        (
            "query=(DisplayName%20is%20%ff)",
            vec![("invalid_parameter", "query")],
        ),
        ("q%zz=1", vec![("invalid_parameter", "q%zz")]),
    ];
    for (query, expected) in refused {
        let response = get(&format!("{gateway}/vmrest/ports?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body = json(response).await;
        let found: Vec<(&str, &str)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap(),
                    e["parameter"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(found, expected, "{query}: {body}");
    }
    // An operation that describes no parameters takes none; HEAD has GET's parameters.
    let response = get(&format!("{gateway}/vmrest/ports/{PORT_1_ID}?fresh=1")).await;
    assert_eq!(error_code(response).await, "unknown_parameter");
    let response = head(&format!("{gateway}/vmrest/ports?rowsPerPage=x")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(upstream.count(), 0, "nothing refused reached the upstream");

    let allowed = "query=(DisplayName%20startswith%20A%2fB)&sort=(displayname+DESC)&rowsPerPage=2&pageNumber=1";
    let response = get(&format!("{gateway}/vmrest/ports?{allowed}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.last().target, format!("/vmrest/ports?{allowed}"));
}

#[test]
fn the_documents_examples_match_their_own_schemas() {
    let document = document();
    let mut checked = 0;
    for (name, parameter) in document["components"]["parameters"].as_object().unwrap() {
        let schema = &parameter["schema"];
        let validator = jsonschema::validator_for(schema).unwrap();
        let compiled = schema["pattern"]
            .as_str()
            .map(|p| regex_lite::Regex::new(p).unwrap());
        let examples = parameter["examples"]
            .as_object()
            .into_iter()
            .flat_map(|e| e.values().map(|e| e["value"].clone()))
            .chain(parameter.get("example").cloned());
        for example in examples {
            assert!(validator.is_valid(&example), "{name}: {example}");
            if let (Some(pattern), Some(text)) = (&compiled, example.as_str()) {
                assert!(pattern.is_match(text), "{name}: {text}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} examples checked");

    // The body fields with a pattern too (the JSON Schema engine reads it as ECMA-262).
    let update = &document["components"]["schemas"]["PortGroupUpdate"];
    let validator = jsonschema::validator_for(update).unwrap();
    let example = &document["components"]["examples"]["PortGroupUpdateJson"]["value"];
    assert!(validator.is_valid(example));
    assert!(!validator.is_valid(&serde_json::json!({"MwiOnCode": "6\u{c}78"})));
    assert!(validator.is_valid(&serde_json::json!({"MwiOnCode": "6\t7\u{7f}\u{10ffff}"})));
}

#[test]
fn a_pattern_the_gateway_cannot_enforce_stops_the_start_up() {
    let document = r#"{"openapi": "3.1.0", "paths": {"/vmrest/things": {"get": {
        "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "pattern": "^(?=a)"}}],
        "responses": {"200": {"description": "ok"}}}}}}"#;
    let error = ApiSpec::from_yaml(document).unwrap_err().to_string();
    assert!(error.contains("query parameter q"), "{error}");
}
