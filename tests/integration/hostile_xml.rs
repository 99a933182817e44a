//! Hostile XML and JSON bodies: no token may grow past the body limits while it is read, and
//! every transcoding (XML → JSON, JSON → XML, the validator's reading of XML) takes time in
//! proportion to the body, whatever its shape.

use std::time::{Duration, Instant};

use crate::support::hostile::{huge_token_upstream, put_while_reading, GatewayProcess, HugeToken};
use cupi_codec::{json_to_xml, xml_to_json};
use cupi_gateway::openapi::ApiSpec;
use http::Method;

/// `--max-response-body` and `--max-request-body` for these tests.
const LIMIT: usize = 1024 * 1024;

/// How much more memory than when idle the gateway may take to refuse a huge token: a
/// generous multiple of [`LIMIT`], still far below the token (≥ 8 MiB, up to 300 MB).
const MAX_PEAK_GROWTH: u64 = 32 * 1024 * 1024;

const MIB: usize = 1024 * 1024;

/// One huge token of each kind, each in a document that is otherwise small.
fn huge_tokens(size: usize) -> Vec<(&'static str, HugeToken)> {
    let token = |head, filler, tail| HugeToken {
        head,
        filler,
        size,
        tail,
    };
    vec![
        (
            "text node",
            token("<PortGroup><MwiOnCode>", "x", "</MwiOnCode></PortGroup>"),
        ),
        (
            "attribute value",
            token("<PortGroup DisplayName=\"", "x", "\"/>"),
        ),
        (
            "list root attribute",
            token("<PortGroups total=\"1\" a=\"", "x", "\"/>"),
        ),
        ("comment", token("<PortGroup><!--", "x", "--></PortGroup>")),
        (
            "CDATA",
            token("<PortGroup><A><![CDATA[", "x", "]]></A></PortGroup>"),
        ),
        (
            "processing instruction",
            token("<PortGroup><?pi ", "x", "?></PortGroup>"),
        ),
        ("whitespace run", token("<PortGroup>", " ", "</PortGroup>")),
        (
            "element name",
            token("<PortGroup><a", "a", "/></PortGroup>"),
        ),
        ("prolog comment", token("<!--", "x", "--><PortGroup/>")),
        // Not one token but many small ones: the tree they make is bounded too.
        (
            "element flood",
            token("<PortGroup>", "<a/>", "</PortGroup>"),
        ),
        (
            "mixed content flood",
            token("<PortGroup>", "x<a b=\"\"/>", "</PortGroup>"),
        ),
        (
            "text between list items",
            token(
                "<PortGroups total=\"2\"><PortGroup/>",
                "x",
                "<PortGroup/></PortGroups>",
            ),
        ),
    ]
}

/// The status and error code of a gateway answer in the JSON error shape.
async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).expect("a JSON body");
    let code = body["errors"][0]["code"].as_str().unwrap_or_default();
    (status, code.to_owned())
}

/// Asks `gateway` for a port group as JSON, with no credentials.
async fn get_json(gateway: &GatewayProcess) -> reqwest::Response {
    let url = format!(
        "{}/vmrest/portgroups/{}",
        gateway.base,
        crate::support::PORT_GROUP_ID
    );
    let request = crate::support::client()
        .get(url)
        .header("accept", "application/json");
    request.send().await.expect("the gateway answers")
}

/// The gateway still answers: its own route, at once.
async fn assert_serves_next_request(gateway: &GatewayProcess) {
    let healthz = crate::support::client().get(format!("{}/healthz", gateway.base));
    let response = tokio::time::timeout(Duration::from_secs(10), healthz.send())
        .await
        .expect("/healthz within 10 s")
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Peak memory growth over idle, after `request`, in a fresh gateway in front of `upstream`.
async fn check_peak(label: &str, gateway: &GatewayProcess, idle: u64) {
    let growth = gateway.peak_rss().saturating_sub(idle);
    eprintln!("{label}: peak RSS grew {} KiB", growth / 1024);
    assert!(
        growth < MAX_PEAK_GROWTH,
        "{label}: peak RSS grew {} MiB refusing it, over {} MiB",
        growth / MIB as u64,
        MAX_PEAK_GROWTH / MIB as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_token_in_a_response_is_refused_within_the_limit() {
    let limit = LIMIT.to_string();
    let mut tokens = huge_tokens(64 * MIB);
    // A text node that never ends: the upstream stops after 300 MB if the gateway does not.
    let endless = HugeToken {
        head: "<PortGroup><MwiOnCode>",
        filler: "x",
        size: 300 * 1000 * 1000,
        tail: "",
    };
    tokens.push(("endless text node", endless));
    for (label, token) in tokens {
        let upstream = huge_token_upstream(token).await;
        let gateway = GatewayProcess::start(&upstream, &["--max-response-body", &limit]).await;
        assert_serves_next_request(&gateway).await;
        let idle = gateway.peak_rss();
        let (status, code) = status_and_code(get_json(&gateway).await).await;
        // A flood of small nodes meets the node budget (one node per 16 bytes of the limit)
        // before the byte limit: its tree would cost far more than its bytes.
        let expected = if label.ends_with("flood") {
            "upstream_invalid_xml"
        } else {
            "upstream_response_too_large"
        };
        assert_eq!((status, code.as_str()), (502, expected), "{label}");
        check_peak(label, &gateway, idle).await;
        assert_serves_next_request(&gateway).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_token_in_a_request_body_is_refused_within_the_limit() {
    let limit = LIMIT.to_string();
    for (label, token) in huge_tokens(8 * MIB) {
        // Never reached: a request refused is not forwarded.
        let upstream = huge_token_upstream(token.clone()).await;
        let gateway = GatewayProcess::start(&upstream, &["--max-request-body", &limit]).await;
        assert_serves_next_request(&gateway).await;
        let idle = gateway.peak_rss();
        let path = format!("/vmrest/portgroups/{}", crate::support::PORT_GROUP_ID);
        let (status, body) = put_while_reading(&gateway.base, &path, token.to_bytes()).await;
        let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        let code = body["errors"][0]["code"].as_str().unwrap_or_default();
        assert_eq!((status, code), (413, "payload_too_large"), "{label}");
        check_peak(label, &gateway, idle).await;
        assert_serves_next_request(&gateway).await;
    }
}

/// The best of a few runs of `work` on `input`, per byte of it.
fn seconds_per_byte(input: &[u8], work: &dyn Fn(&[u8])) -> f64 {
    let best = (0..3)
        .map(|_| {
            let started = Instant::now();
            work(input);
            started.elapsed()
        })
        .min()
        .unwrap_or(Duration::ZERO);
    best.as_secs_f64() / input.len() as f64
}

/// Quadratic work is about 8× slower per byte at 8× the size; linear work about 1×. The bound
/// is generous for a shared, noisy machine, and still far from 8.
const MAX_GROWTH: f64 = 3.0;

/// Times `work` on `shape(n)` and `shape(8n)` and asserts time per byte did not grow by more
/// than [`MAX_GROWTH`]. Noise from other processes only ever inflates a growth, and quadratic
/// work shows ×8 every time, so the least of a few measurements is the one judged.
fn assert_linear(label: &str, n: usize, shape: &dyn Fn(usize) -> Vec<u8>, work: &dyn Fn(&[u8])) {
    let (small, large) = (shape(n), shape(8 * n));
    work(&small); // warm-up: allocator, caches
    let growth = (0..3)
        .map(|_| seconds_per_byte(&large, work) / seconds_per_byte(&small, work))
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "{label}: {} B → {} B, time per byte ×{growth:.2}",
        small.len(),
        large.len()
    );
    assert!(
        growth < MAX_GROWTH,
        "{label}: time per byte grew ×{growth:.2} from {} to {} bytes: not linear",
        small.len(),
        large.len()
    );
}

/// A named body shape: its body of `n` parts.
type Shape = (&'static str, fn(usize) -> Vec<u8>);

/// The pathological XML shapes of issue 12, each an object of `n` parts.
fn xml_shapes() -> Vec<Shape> {
    vec![
        ("sibling pairs", |n| {
            let pairs: String = (0..n).map(|i| format!("<a{i}/><a{i}/>")).collect();
            format!("<PortGroup>{pairs}</PortGroup>").into_bytes()
        }),
        ("distinct names", |n| {
            let names: String = (0..n).map(|i| format!("<a{i}>x</a{i}>")).collect();
            format!("<PortGroup>{names}</PortGroup>").into_bytes()
        }),
        ("deep then wide", |n| {
            let depth = 60;
            let wide: String = (0..n).map(|i| format!("<w{}/><w{}/>", i % 97, i)).collect();
            format!(
                "<PortGroup>{}{wide}{}</PortGroup>",
                "<d>".repeat(depth),
                "</d>".repeat(depth)
            )
            .into_bytes()
        }),
        ("attribute flood", |n| {
            let attrs: String = (0..n).map(|i| format!(" a{i}=\"{i}\"")).collect();
            format!("<PortGroup{attrs}/>").into_bytes()
        }),
        ("mixed text", |n| {
            let mixed: String = (0..n).map(|i| format!("t{i}<b/>")).collect();
            format!("<PortGroup>{mixed}</PortGroup>").into_bytes()
        }),
        ("list of distinct items", |n| {
            let items: String = (0..n).map(|i| format!("<i{i}/>")).collect();
            format!("<Ports total=\"{n}\">{items}</Ports>").into_bytes()
        }),
        ("list text between items", |n| {
            let items: String = (0..n).map(|i| format!("t{i}<Port/>")).collect();
            format!("<Ports total=\"{n}\">{items}</Ports>").into_bytes()
        }),
    ]
}

/// The pathological JSON shapes, each an object of `n` parts.
fn json_shapes() -> Vec<Shape> {
    vec![
        ("distinct keys", |n| {
            let keys: Vec<String> = (0..n).map(|i| format!("\"a{i}\":\"x\"")).collect();
            format!("{{{}}}", keys.join(",")).into_bytes()
        }),
        ("long array", |n| {
            let items: Vec<String> = (0..n).map(|i| format!("{{\"b\":{i}}}")).collect();
            format!("{{\"a\":[{}]}}", items.join(",")).into_bytes()
        }),
        ("deep then wide", |n| {
            let keys: Vec<String> = (0..n).map(|i| format!("\"w{i}\":1")).collect();
            let depth = 60;
            format!(
                "{}{{{}}}{}",
                "{\"d\":".repeat(depth),
                keys.join(","),
                "}".repeat(depth)
            )
            .into_bytes()
        }),
        ("attribute flood", |n| {
            let keys: Vec<String> = (0..n).map(|i| format!("\"@a{i}\":\"{i}\"")).collect();
            format!("{{{}}}", keys.join(",")).into_bytes()
        }),
        ("late attributes", |n| {
            let keys: Vec<String> = (0..n).map(|i| format!("\"c{i}\":1,\"@a{i}\":1")).collect();
            format!("{{{}}}", keys.join(",")).into_bytes()
        }),
        ("nested late attributes", |n| {
            let inner: Vec<String> = (0..n).map(|i| format!("\"c{i}\":1")).collect();
            let depth = 60;
            format!(
                "{}{{{}}}{}",
                "{\"d\":".repeat(depth),
                inner.join(","),
                ",\"@x\":1}".repeat(depth)
            )
            .into_bytes()
        }),
    ]
}

#[test]
fn xml_to_json_takes_linear_time_for_every_shape() {
    let spec = ApiSpec::embedded().unwrap();
    let schema = spec.schema();
    for (label, shape) in xml_shapes() {
        assert_linear(label, 2_000, &shape, &|xml| {
            xml_to_json(xml, schema).expect("transcodes");
        });
    }
}

#[test]
fn json_to_xml_takes_linear_time_for_every_shape() {
    for (label, shape) in json_shapes() {
        assert_linear(label, 2_000, &shape, &|json| {
            json_to_xml(json, Some("PortGroup"), usize::MAX).expect("transcodes");
        });
    }
}

/// The validator's reading of an XML body: to JSON, then checked against the PUT rules.
#[test]
fn validating_xml_takes_linear_time_for_every_shape() {
    let spec = ApiSpec::embedded().unwrap();
    let route = spec
        .rules()
        .route(&format!(
            "/vmrest/portgroups/{}",
            crate::support::PORT_GROUP_ID
        ))
        .expect("a described path");
    let rules = &route.bodies[&Method::PUT];
    for (label, shape) in xml_shapes() {
        assert_linear(label, 2_000, &shape, &|xml| {
            let json = xml_to_json(xml, spec.schema()).expect("transcodes");
            let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
            assert!(
                !rules.check(&value).is_empty(),
                "made-up fields are refused"
            );
        });
    }
}

/// The pairs shape of [`xml_shapes`], to about `bytes` long.
fn sibling_pairs(bytes: usize) -> Vec<u8> {
    let mut xml = String::from("<PortGroup>");
    let mut i = 0;
    while xml.len() < bytes {
        xml.push_str(&format!("<a{i}/><a{i}/>"));
        i += 1;
    }
    xml.push_str("</PortGroup>");
    xml.into_bytes()
}

/// The distinct-keys shape of [`json_shapes`], to about `bytes` long.
fn distinct_keys(bytes: usize) -> Vec<u8> {
    let mut json = String::from("{\"PortGroup\":{\"a\":1");
    let mut i = 0;
    while json.len() < bytes {
        json.push_str(&format!(",\"a{i}\":{{\"@b\":1,\"c\":[1,2]}}"));
        i += 1;
    }
    json.push_str("}}");
    json.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_large_pathological_bodies_are_processed() {
    let normal = HugeToken {
        head: "<PortGroup><MwiOnCode>",
        filler: "7",
        size: 3,
        tail: "</MwiOnCode></PortGroup>",
    };
    let upstream = huge_token_upstream(normal).await;
    let max_body = (2 * LIMIT).to_string();
    let gateway = GatewayProcess::start(&upstream, &["--max-request-body", &max_body]).await;
    let url = format!(
        "{}/vmrest/portgroups/{}",
        gateway.base,
        crate::support::PORT_GROUP_ID
    );
    let put = |content_type: &'static str, body: Vec<u8>| {
        let request = crate::support::client()
            .put(&url)
            .header("content-type", content_type);
        let request = request.header("accept", "application/json").body(body);
        tokio::spawn(async move { status_and_code(request.send().await.unwrap()).await })
    };
    let started = Instant::now();
    let bodies = [
        put("application/xml", sibling_pairs(LIMIT)),
        put("application/json", distinct_keys(LIMIT)),
    ];
    // /healthz, again and again while the bodies are worked on (and once after, at least).
    let mut slowest = Duration::ZERO;
    loop {
        let asked = Instant::now();
        assert_serves_next_request(&gateway).await;
        slowest = slowest.max(asked.elapsed());
        if bodies.iter().all(|body| body.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let processing = started.elapsed();
    for body in bodies {
        // Every field is unknown to a port group: refused, each named.
        assert_eq!(body.await.unwrap(), (400, "unknown_field".to_owned()));
    }
    eprintln!("two bodies took {processing:?}; slowest /healthz {slowest:?}");
    // Generous for a shared machine; a worker held by the work would take the whole time.
    assert!(
        slowest < Duration::from_secs(2),
        "/healthz took {slowest:?} while the bodies were processed ({processing:?})"
    );
    assert!(
        processing < Duration::from_secs(60),
        "two 1 MiB bodies took {processing:?}"
    );
    // A normal request is served after them.
    let response = get_json(&gateway).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["MwiOnCode"], "777");
}
