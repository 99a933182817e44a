//! Compressed answers to clients: the coding the client prefers by q-value, the same JSON once
//! decoded, small bodies, HEAD, 204 and audio left alone, `--no-compression`, and a long list
//! flushed while the upstream is still sending it.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use cupi_simulator::{generated_ports_xml, SimulatorConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const BROWSER: &str = "gzip, deflate, br, zstd";

/// A gateway in front of a simulator with 100 generated port groups (a list of ~200 ports).
async fn stack(compress_responses: bool) -> String {
    let simulator = start_simulator(SimulatorConfig {
        generated_port_groups: 100,
        ..SimulatorConfig::default()
    })
    .await;
    let options = GatewayOptions {
        compress_responses,
        ..GatewayOptions::default()
    };
    start_gateway(&simulator, options).await
}

/// A request with Basic auth and the given `Accept-Encoding`.
fn encoded(method: reqwest::Method, url: &str, accept_encoding: &str) -> reqwest::RequestBuilder {
    client()
        .request(method, url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("accept-encoding", accept_encoding)
}

/// GET with Basic auth, JSON, and the given `Accept-Encoding`.
async fn get_encoded(url: &str, accept_encoding: &str) -> reqwest::Response {
    encoded(reqwest::Method::GET, url, accept_encoding)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
}

fn content_encoding(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("content-encoding")
        .map(|value| value.to_str().unwrap().to_owned())
}

fn has_vary(response: &reqwest::Response) -> bool {
    response.headers().get_all("vary").iter().any(|value| {
        let value = value.to_str().unwrap().to_ascii_lowercase();
        value.contains("accept-encoding")
    })
}

/// The body decoded as its `Content-Encoding` says.
fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("zstd") => out = zstd::decode_all(body).unwrap(),
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
    out
}

/// The coding the gateway chose, and the decoded body as JSON.
async fn fetch_decoded(url: &str, accept_encoding: &str) -> (Option<String>, serde_json::Value) {
    let response = get_encoded(url, accept_encoding).await;
    assert_eq!(response.status(), 200);
    let coding = content_encoding(&response);
    let body = response.bytes().await.unwrap();
    let decoded = decode(coding.as_deref(), &body);
    (coding, serde_json::from_slice(&decoded).unwrap())
}

#[tokio::test]
async fn every_coding_decodes_to_the_same_json_and_browsers_get_zstd() {
    let gateway = stack(true).await;
    let ports = format!("{gateway}/vmrest/ports");
    let (plain_coding, plain) = fetch_decoded(&ports, "identity").await;
    assert_eq!(plain_coding, None);
    assert!(plain["Port"].as_array().unwrap().len() >= 200, "{plain}");

    // Equal q-values: tower-http ranks zstd, then br, then gzip.
    let (coding, browser) = fetch_decoded(&ports, BROWSER).await;
    assert_eq!(coding.as_deref(), Some("zstd"));
    assert_eq!(browser, plain);
    for coding in ["gzip", "br", "zstd"] {
        let (chosen, body) = fetch_decoded(&ports, coding).await;
        assert_eq!(chosen.as_deref(), Some(coding));
        assert_eq!(body, plain, "{coding}");
    }
}

#[tokio::test]
async fn q_values_choose_the_coding() {
    let gateway = stack(true).await;
    let ports = format!("{gateway}/vmrest/ports");
    for (accept_encoding, expected) in [
        ("gzip;q=1, br;q=0.5", Some("gzip")),
        ("gzip, deflate, br;q=1, zstd;q=0.8", Some("br")),
        ("br;q=0.2, zstd;q=0.9, gzip;q=0.5", Some("zstd")),
        ("br;q=0, gzip;q=0.1", Some("gzip")),
        ("br;q=0", None),
        ("identity", None),
    ] {
        let response = get_encoded(&ports, accept_encoding).await;
        assert_eq!(response.status(), 200, "{accept_encoding}");
        assert_eq!(
            content_encoding(&response).as_deref(),
            expected,
            "{accept_encoding}"
        );
        assert!(has_vary(&response), "{accept_encoding}: no Vary");
    }
}

#[tokio::test]
async fn an_accept_encoding_that_refuses_every_coding_gets_identity() {
    let gateway = stack(true).await;
    let ports = format!("{gateway}/vmrest/ports");
    let (_, plain) = fetch_decoded(&ports, "identity").await;
    for refusing in [
        "identity;q=0",
        "*;q=0",
        "deflate, identity;q=0",
        "gzip;q=0, *;q=0",
    ] {
        let response = get_encoded(&ports, refusing).await;
        assert_eq!(response.status(), 200, "{refusing}");
        assert_eq!(content_encoding(&response), None, "{refusing}");
        assert!(has_vary(&response), "{refusing}");
        assert_eq!(json(response).await, plain, "{refusing}");
    }
    // identity refused, but a coding named: that coding.
    let response = get_encoded(&ports, "gzip, identity;q=0").await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_encoding(&response).as_deref(), Some("gzip"));
}

#[tokio::test]
async fn small_bodies_head_no_content_and_audio_are_sent_as_they_are() {
    let gateway = stack(true).await;

    // One port is well under the size floor, and so is a JSON error.
    let ports = get_encoded(&format!("{gateway}/vmrest/ports"), "identity").await;
    let ports = json(ports).await;
    let first = ports["Port"][0]["ObjectId"].as_str().unwrap().to_owned();
    let one = get_encoded(&format!("{gateway}/vmrest/ports/{first}"), BROWSER).await;
    assert_eq!(one.status(), 200);
    assert_eq!(content_encoding(&one), None);
    let missing = get_encoded(&format!("{gateway}/vmrest/ports/no-such-port"), BROWSER).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(content_encoding(&missing), None);
    assert!(!error_code(missing).await.is_empty());
    let own_error = get_encoded(&format!("{gateway}/no-such-route"), BROWSER).await;
    assert_eq!(own_error.status(), 404);
    assert_eq!(content_encoding(&own_error), None);
    assert_eq!(error_code(own_error).await, "not_found");

    // HEAD of the long list: no body, so no coding.
    let head = encoded(
        reqwest::Method::HEAD,
        &format!("{gateway}/vmrest/ports"),
        BROWSER,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(content_encoding(&head), None);

    // A PUT answered 204.
    let groups = json(get_encoded(&format!("{gateway}/vmrest/portgroups"), "identity").await).await;
    let group = groups["PortGroup"][0]["ObjectId"].as_str().unwrap();
    let group = format!("{gateway}/vmrest/portgroups/{group}");
    let put = encoded(reqwest::Method::PUT, &group, BROWSER)
        .header("content-type", "application/json")
        .body(r#"{"MwiOnCode":"678"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    assert_eq!(content_encoding(&put), None);
    assert!(put.bytes().await.unwrap().is_empty());
}

/// A greeting's audio, as Unity Connection sends it: already a compressed codec, or not worth it.
const GREETING: &str = "/vmrest/users/6c9ef0e8/greetings/Standard/greetingstreamfiles/1033/audio";

#[tokio::test]
async fn audio_answers_are_not_compressed() {
    let wav = {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        wav.resize(64 * 1024, 7);
        wav
    };
    let upstream = FakeUpstream::start(move |_| respond(200, "audio/wav", wav.clone())).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::without_validation()).await;
    let greeting = encoded(
        reqwest::Method::GET,
        &format!("{gateway}{GREETING}"),
        BROWSER,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(greeting.status(), 200);
    assert_eq!(content_encoding(&greeting), None);
    assert_eq!(greeting.bytes().await.unwrap().len(), 64 * 1024);
}

#[tokio::test]
async fn no_compression_sends_none() {
    let gateway = stack(false).await;
    let response = get_encoded(&format!("{gateway}/vmrest/ports"), BROWSER).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_encoding(&response), None);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(body["Port"].as_array().unwrap().len() >= 200);
}

#[tokio::test]
async fn curl_compressed_decodes() {
    let gateway = stack(true).await;
    let ports = format!("{gateway}/vmrest/ports");
    let (_, plain) = fetch_decoded(&ports, "identity").await;
    let output = tokio::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--compressed",
            "--user",
            "admin:password",
        ])
        .args([
            "--header",
            "Accept: application/json",
            "--write-out",
            "\n%{content_type}",
        ])
        .args(["--dump-header", "-", &ports])
        .output()
        .await
        .expect("curl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: "),
        "curl was not sent a compressed answer: {head}"
    );
    let body = body.rsplit_once('\n').unwrap().0;
    let decoded: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(decoded, plain);
}

#[tokio::test]
async fn an_upstream_gzip_is_passed_on_as_it_came_or_recoded_for_the_client() {
    let list = generated_ports_xml(50);
    let gzipped = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(list.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let served = gzipped.clone();
    let upstream = FakeUpstream::start(move |_| {
        let mut response = respond(200, "application/xml", served.clone());
        let headers = response.headers_mut();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        response
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let ports = format!("{gateway}/vmrest/ports");
    let xml_client = |accept_encoding: &str| {
        encoded(reqwest::Method::GET, &ports, accept_encoding)
            .header("accept", "application/xml")
            .send()
    };

    // Already encoded: the upstream's bytes, not compressed again.
    let taken = xml_client("gzip, br").await.unwrap();
    assert_eq!(content_encoding(&taken).as_deref(), Some("gzip"));
    assert_eq!(taken.bytes().await.unwrap(), gzipped);

    // A client that refuses gzip gets the XML the gateway decoded, compressed as it asks.
    let recoded = xml_client("gzip;q=0, br").await.unwrap();
    assert_eq!(content_encoding(&recoded).as_deref(), Some("br"));
    let body = recoded.bytes().await.unwrap();
    assert_eq!(decode(Some("br"), &body), list.as_bytes());
}

/// An upstream that sends the list's head and its first `split` bytes, then waits for
/// `resume` before it sends the rest.
async fn stalling_upstream(
    list: Vec<u8>,
    split: usize,
    resume: Arc<tokio::sync::Notify>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        assert!(read_request_head(&mut stream).await);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
            list.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&list[..split]).await.unwrap();
        resume.notified().await;
        stream.write_all(&list[split..]).await.unwrap();
        let _ = stream.shutdown().await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_first_items_of_a_stalled_list_arrive_compressed_before_the_rest() {
    let list = generated_ports_xml(4000);
    let first_id = list
        .split_once("<ObjectId>")
        .and_then(|(_, rest)| rest.split_once("</ObjectId>"))
        .unwrap()
        .0
        .to_owned();
    // Past the part read before answering, so the head is out and items are streaming (the
    // list is too large to be read whole).
    let split = cupi_gateway::body::PREFIX_LIMIT + 64 * 1024;
    assert!(list.len() > cupi_gateway::body::WHOLE_LIMIT);
    let resume = Arc::new(tokio::sync::Notify::new());
    let upstream = stalling_upstream(list.into_bytes(), split, resume.clone()).await;
    let options = GatewayOptions {
        response_timeout: Duration::from_secs(30),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream, options).await;

    let mut response = get_encoded(&format!("{gateway}/vmrest/ports"), "gzip").await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_encoding(&response).as_deref(), Some("gzip"));
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    // The upstream stalls until we have decoded the first port: with no flush while the
    // body is pending, this never happens and the wait below gives up.
    let first_items = async {
        loop {
            let chunk = response
                .chunk()
                .await
                .unwrap()
                .expect("more body before the stall");
            decoder.write_all(&chunk).unwrap();
            decoder.flush().unwrap();
            if String::from_utf8_lossy(decoder.get_ref()).contains(&first_id) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), first_items)
        .await
        .expect("the first items are decodable while the upstream stalls");
    resume.notify_one();
    while let Some(chunk) = response.chunk().await.unwrap() {
        decoder.write_all(&chunk).unwrap();
    }
    let json: serde_json::Value = serde_json::from_slice(&decoder.finish().unwrap()).unwrap();
    assert_eq!(json["Port"].as_array().unwrap().len(), 4000);
}
