//! Upstream answers that come gzip- or deflate-encoded although the gateway asked for
//! identity: decoded before transcoding, passed as they came to XML clients that take the
//! coding, and held to the body limits and the body budget once decoded, so that a
//! decompression bomb is refused with bounded memory.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::support::hostile::GatewayProcess;
use crate::support::{
    client, error_code, json, read_request_head, respond, start_gateway, start_simulator,
    FakeUpstream, GatewayOptions, AUTH, PORT_GROUP_ID,
};
use bytes::Bytes;
use cupi_gateway::budget::BodySettings;
use cupi_gateway::transcode::Mode;
use cupi_simulator::SimulatorConfig;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::{Compress, Compression, Crc, FlushCompress};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// The request header naming the coding the fake upstream answers in.
const CODING: &str = "x-test-coding";

const MIB: usize = 1024 * 1024;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn raw_deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `(x-test-coding, Content-Encoding, encode)`: every form a decodable answer comes in.
#[allow(clippy::type_complexity)]
const ENCODED_FORMS: [(&str, &str, fn(&[u8]) -> Vec<u8>); 4] = [
    ("gzip", "gzip", gzip),
    ("x-gzip", "x-gzip", gzip),
    ("zlib", "deflate", zlib),
    ("raw", "deflate", raw_deflate),
];

/// The simulator's own XML for a port group list and one port group: real CUPI documents.
async fn cupi_documents() -> HashMap<String, Bytes> {
    let simulator = start_simulator(SimulatorConfig::default()).await;
    let mut documents = HashMap::new();
    for path in [
        "/vmrest/portgroups".to_owned(),
        format!("/vmrest/portgroups/{PORT_GROUP_ID}"),
    ] {
        let response = client()
            .get(format!("{simulator}{path}"))
            .basic_auth(AUTH.0, Some(AUTH.1))
            .header("accept", "application/xml")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        documents.insert(path, response.bytes().await.unwrap());
    }
    documents
}

/// Answers each path with its document, in the coding the request's `x-test-coding` names
/// (`identity` without one; any other name is sent as the `Content-Encoding` over the
/// identity bytes, for codings the gateway does not decode).
async fn encoding_upstream(documents: HashMap<String, Bytes>) -> FakeUpstream {
    FakeUpstream::start(move |request| {
        let path = request.target.split('?').next().unwrap_or_default();
        let Some(xml) = documents.get(path) else {
            return respond(404, "text/plain", "no such document");
        };
        let coding = request
            .headers
            .get(CODING)
            .map_or("identity", |v| v.to_str().unwrap());
        if coding == "identity" {
            return respond(200, "application/xml", xml.clone());
        }
        let (content_encoding, body) = match ENCODED_FORMS.iter().find(|(n, ..)| *n == coding) {
            Some((_, content_encoding, encode)) => (*content_encoding, encode(xml)),
            None => (coding, xml.to_vec()),
        };
        let mut response = respond(200, "application/xml", body);
        response
            .headers_mut()
            .insert("content-encoding", content_encoding.parse().unwrap());
        response
    })
    .await
}

/// GET `path` from the gateway with these headers.
async fn fetch(gateway: &str, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client()
        .get(format!("{gateway}{path}"))
        .basic_auth(AUTH.0, Some(AUTH.1));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// The JSON body; typed JSON checked against the OpenAPI document as everywhere (CUPI JSON is
/// Unity Connection's, which the document does not describe).
async fn json_of(response: reqwest::Response) -> serde_json::Value {
    if response.headers()["content-type"] == "application/json; profile=cupi" {
        return serde_json::from_slice(&response.bytes().await.unwrap()).expect("JSON");
    }
    json(response).await
}

fn paths() -> [String; 2] {
    [
        "/vmrest/portgroups".to_owned(),
        format!("/vmrest/portgroups/{PORT_GROUP_ID}"),
    ]
}

#[tokio::test]
async fn gzip_and_both_deflate_forms_are_transcoded_like_identity() {
    let upstream = encoding_upstream(cupi_documents().await).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    for path in paths() {
        for accept in ["application/json", "application/json; profile=cupi"] {
            let identity = json_of(fetch(&gateway, &path, &[("accept", accept)]).await).await;
            assert!(identity.is_object(), "{path} {accept}: {identity}");
            for (coding, ..) in ENCODED_FORMS {
                let response =
                    fetch(&gateway, &path, &[("accept", accept), (CODING, coding)]).await;
                let what = format!("{path} as {accept}, upstream {coding}");
                assert_eq!(response.status(), 200, "{what}");
                assert!(
                    response.headers().get("content-encoding").is_none(),
                    "{what}: JSON is never sent encoded"
                );
                assert_eq!(json_of(response).await, identity, "{what}");
            }
        }
    }
    // Still asked for identity: decoding is for answers that come encoded anyway.
    assert_eq!(upstream.last().headers["accept-encoding"], "identity");
}

#[tokio::test]
async fn xml_clients_get_the_encoded_bytes_only_when_they_take_the_coding() {
    let documents = cupi_documents().await;
    let upstream = encoding_upstream(documents.clone()).await;
    // Uncompressed answers stay uncompressed here: that the gateway compresses the decoded XML
    // for a client that takes another coding is tests/integration/compression.rs's.
    let uncompressed = |options| GatewayOptions {
        compress_responses: false,
        ..options
    };
    let typed = start_gateway(&upstream.origin, uncompressed(GatewayOptions::default())).await;
    let cupi_options = uncompressed(GatewayOptions::in_mode(Mode::Cupi));
    let cupi = start_gateway(&upstream.origin, cupi_options).await;
    let path = format!("/vmrest/portgroups/{PORT_GROUP_ID}");
    let xml = &documents[&path];
    // (gateway, Accept): a typed-mode XML client, and a CUPI-mode client that sends no Accept.
    for (gateway, accept) in [(&typed, Some("application/xml")), (&cupi, None)] {
        for (coding, content_encoding, encode) in ENCODED_FORMS {
            let with = |accept_encoding: Option<&'static str>| {
                let mut headers = vec![(CODING, coding)];
                headers.extend(accept.map(|a| ("accept", a)));
                headers.extend(accept_encoding.map(|e| ("accept-encoding", e)));
                headers
            };
            let what = format!("{accept:?}, upstream {coding}");

            let taken = fetch(gateway, &path, &with(Some("gzip, deflate, br"))).await;
            assert_eq!(taken.status(), 200, "{what}");
            assert_eq!(
                taken.headers()["content-encoding"],
                content_encoding,
                "{what}"
            );
            assert_eq!(
                taken.bytes().await.unwrap(),
                encode(xml),
                "{what}: as they came"
            );

            for not_taken in [None, Some("identity"), Some("gzip;q=0, *;q=1"), Some("br")] {
                let wanted = match (coding, not_taken) {
                    // `*` covers deflate, not the gzip it refuses by name.
                    ("zlib" | "raw", Some("gzip;q=0, *;q=1")) => true,
                    _ => false,
                };
                let response = fetch(gateway, &path, &with(not_taken)).await;
                let what = format!("{what}, Accept-Encoding {not_taken:?}");
                assert_eq!(response.status(), 200, "{what}");
                let vary = response.headers().get_all("vary").iter();
                let vary: Vec<_> = vary.map(|v| v.to_str().unwrap().to_owned()).collect();
                assert!(
                    vary.iter().any(|v| v == "accept-encoding"),
                    "{what}: {vary:?}"
                );
                if wanted {
                    assert_eq!(response.bytes().await.unwrap(), encode(xml), "{what}");
                    continue;
                }
                assert!(
                    response.headers().get("content-encoding").is_none(),
                    "{what}: decoded for a client that does not take it"
                );
                assert_eq!(&response.bytes().await.unwrap(), xml, "{what}");
            }
        }
    }
}

#[tokio::test]
async fn a_head_answer_names_the_coding_its_get_would_have() {
    let upstream = encoding_upstream(cupi_documents().await).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let url = format!("{gateway}/vmrest/portgroups/{PORT_GROUP_ID}");
    let head = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = client().head(&url).basic_auth(AUTH.0, Some(AUTH.1));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let decoded = [
        &[("accept", "application/json"), (CODING, "gzip")][..],
        &[("accept", "application/xml"), (CODING, "gzip")][..],
    ];
    for headers in decoded {
        let response = head(headers).await.unwrap();
        assert_eq!(response.status(), 200, "{headers:?}");
        assert!(
            response.headers().get("content-encoding").is_none(),
            "{headers:?}: the GET would be decoded"
        );
        assert!(
            response.headers().get("content-length").is_none(),
            "{headers:?}"
        );
    }
    const TAKEN: &[(&str, &str)] = &[
        ("accept", "application/xml"),
        ("accept-encoding", "gzip"),
        (CODING, "gzip"),
    ];
    let response = head(TAKEN).await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn codings_the_gateway_does_not_decode_stay_502() {
    let upstream = encoding_upstream(cupi_documents().await).await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let path = format!("/vmrest/portgroups/{PORT_GROUP_ID}");
    for coding in ["br", "compress", "gzip, gzip", "zstd"] {
        for accept in ["application/json", "application/json; profile=cupi"] {
            let response = fetch(&gateway, &path, &[("accept", accept), (CODING, coding)]).await;
            assert_eq!(response.status(), 502, "{coding} {accept}");
            let body = json_of(response).await;
            assert_eq!(body["errors"][0]["code"], "upstream_unsupported_encoding");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(coding), "{coding}: {message}");
        }
        // An XML client that does not take it cannot be given it either.
        let xml = [("accept", "application/xml"), (CODING, coding)];
        let refused = fetch(&gateway, &path, &xml).await;
        assert_eq!(refused.status(), 502, "{coding} to an XML client");
        assert_eq!(error_code(refused).await, "upstream_unsupported_encoding");
    }
    // One that takes it gets it as it came.
    let xml = [
        ("accept", "application/xml"),
        ("accept-encoding", "br"),
        (CODING, "br"),
    ];
    let passed = fetch(&gateway, &path, &xml).await;
    assert_eq!(passed.status(), 200);
    assert_eq!(passed.headers()["content-encoding"], "br");
}

#[tokio::test]
async fn a_corrupt_stream_is_502_with_its_own_code() {
    let xml = b"<PortGroup><DisplayName>x</DisplayName></PortGroup>";
    let mut flipped = gzip(xml);
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let whole = gzip(xml);
    let cut = whole[..whole.len() - 6].to_vec();
    let mut trailing = zlib(xml);
    trailing.extend_from_slice(b"more");
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("not gzip at all", "gzip", xml.to_vec()),
        ("a flipped byte", "gzip", flipped),
        ("cut short", "gzip", cut),
        (
            "garbage after a gzip member",
            "gzip",
            [whole, b"junk".to_vec()].concat(),
        ),
        ("bytes after a zlib stream", "deflate", trailing),
        ("not deflate at all", "deflate", vec![0xff; 64]),
    ];
    let bodies = Arc::new(bodies);
    let served = bodies.clone();
    let upstream = FakeUpstream::start(move |request| {
        let index: usize = request.headers[CODING].to_str().unwrap().parse().unwrap();
        let (_, coding, body) = &served[index];
        let mut response = respond(200, "application/xml", body.clone());
        let headers = response.headers_mut();
        headers.insert("content-encoding", coding.parse().unwrap());
        response
    })
    .await;
    let gateway = start_gateway(&upstream.origin, GatewayOptions::default()).await;
    let path = format!("/vmrest/portgroups/{PORT_GROUP_ID}");
    for (index, (what, ..)) in bodies.iter().enumerate() {
        let index = index.to_string();
        for accept in ["application/json", "application/xml"] {
            let response = fetch(&gateway, &path, &[("accept", accept), (CODING, &index)]).await;
            assert_eq!(response.status(), 502, "{what}, {accept}");
            assert_eq!(
                error_code(response).await,
                "upstream_corrupt_encoding",
                "{what}, {accept}"
            );
        }
    }
}

#[tokio::test]
async fn decoded_bytes_are_charged_to_the_body_budget() {
    const BUDGET: usize = 64 * 1024;
    // 200 KB once decoded, a few hundred bytes compressed.
    let big = format!(
        "<PortGroup><DisplayName>{}</DisplayName></PortGroup>",
        "0".repeat(200 * 1000)
    );
    let small = "<PortGroup><DisplayName>small</DisplayName></PortGroup>";
    let big_gzip = gzip(big.as_bytes());
    assert!(big_gzip.len() < BUDGET / 10, "{} bytes", big_gzip.len());
    let upstream = FakeUpstream::start(move |request| {
        let body = match request.target.ends_with("/big") {
            true => big_gzip.clone(),
            false => gzip(small.as_bytes()),
        };
        let mut response = respond(200, "application/xml", body);
        let headers = response.headers_mut();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        response
    })
    .await;
    let options = GatewayOptions {
        bodies: BodySettings {
            budget: BUDGET,
            ..BodySettings::default()
        },
        ..GatewayOptions::without_validation()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let json_client = [("accept", "application/json")];

    let refused = fetch(&gateway, "/vmrest/undescribed/big", &json_client).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_code(refused).await, "body_budget_exhausted");

    let fits = fetch(&gateway, "/vmrest/undescribed/small", &json_client).await;
    assert_eq!(fits.status(), 200);
    assert_eq!(json(fits).await["DisplayName"], "small");
    assert_eq!(
        crate::support::metric(&gateway, "cupi_gateway_body_budget_bytes_in_use").await,
        0.0
    );
}

/// A gzip body of `head`, then `zeros` bytes of `0`, then `tail`, made of one compressed
/// megabyte of zeros repeated: about 1 KB compressed per MB, and never held decoded.
struct GzipBomb {
    pieces: Vec<Bytes>,
}

impl GzipBomb {
    fn new(head: &str, zeros_mib: usize, tail: &str) -> GzipBomb {
        let mut compress = Compress::new(Compression::default(), false);
        let mut crc = Crc::new();
        let zeros = vec![b'0'; MIB];
        let mut zeros_crc = Crc::new();
        zeros_crc.update(&zeros);
        let mut piece = |input: &[u8], flush| {
            let mut out = Vec::with_capacity(input.len() / 8 + 1024);
            let mut at = 0;
            loop {
                let before = compress.total_in();
                compress
                    .compress_vec(&input[at..], &mut out, flush)
                    .unwrap();
                at += (compress.total_in() - before) as usize;
                if at == input.len() && out.len() < out.capacity() {
                    return Bytes::from(out);
                }
                out.reserve(64 * 1024);
            }
        };
        let header = Bytes::from_static(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut pieces = vec![header, piece(head.as_bytes(), FlushCompress::Sync)];
        crc.update(head.as_bytes());
        // After two megabytes the compressor's state repeats: so does its output.
        let first = piece(&zeros, FlushCompress::Sync);
        let steady = piece(&zeros, FlushCompress::Sync);
        assert_eq!(piece(&zeros, FlushCompress::Sync), steady, "a steady state");
        pieces.push(first);
        for _ in 1..zeros_mib {
            pieces.push(steady.clone());
            crc.combine(&zeros_crc);
        }
        crc.combine(&zeros_crc);
        pieces.push(piece(tail.as_bytes(), FlushCompress::Finish));
        crc.update(tail.as_bytes());
        let mut trailer = crc.sum().to_le_bytes().to_vec();
        trailer.extend_from_slice(&crc.amount().to_le_bytes());
        pieces.push(Bytes::from(trailer));
        GzipBomb { pieces }
    }

    fn compressed_len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }
}

#[test]
fn the_bomb_is_sound_gzip_of_what_it_claims() {
    let bomb = GzipBomb::new("<a>", 8, "</a>");
    let compressed: Vec<u8> = bomb.pieces.concat();
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut decoded,
    )
    .expect("valid gzip, its CRC and length included");
    let expected = ["<a>", &"0".repeat(8 * MIB), "</a>"].concat();
    assert!(decoded == expected.as_bytes(), "{} bytes", decoded.len());
}

/// Serves `bomb` as a chunked gzip `application/xml` 200 to every request.
async fn bomb_upstream(bomb: GzipBomb) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bomb = Arc::new(bomb);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let bomb = bomb.clone();
            tokio::spawn(async move {
                if !read_request_head(&mut stream).await {
                    return;
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\n\
                    content-encoding: gzip\r\ntransfer-encoding: chunked\r\n\
                    connection: close\r\n\r\n";
                // The gateway hangs up once it refuses the body: a write then fails.
                let _ = async {
                    stream.write_all(head).await?;
                    for piece in &bomb.pieces {
                        let size = format!("{:x}\r\n", piece.len());
                        stream.write_all(size.as_bytes()).await?;
                        stream.write_all(piece).await?;
                        stream.write_all(b"\r\n").await?;
                    }
                    stream.write_all(b"0\r\n\r\n").await
                }
                .await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_gzip_bomb_is_502_too_large_in_bounded_memory() {
    const LIMIT: usize = MIB;
    const MAX_PEAK_GROWTH: u64 = 32 * MIB as u64;
    let shapes = [
        (
            "an object",
            "<PortGroup><DisplayName>",
            "</DisplayName></PortGroup>",
        ),
        (
            "a list item",
            "<PortGroups total=\"1\"><PortGroup><DisplayName>",
            "</DisplayName></PortGroup></PortGroups>",
        ),
    ];
    for (shape, head, tail) in shapes {
        let bomb = GzipBomb::new(head, 1024, tail);
        assert!(bomb.compressed_len() < 2 * MIB, "{}", bomb.compressed_len());
        let upstream = bomb_upstream(bomb).await;
        let limit = LIMIT.to_string();
        let gateway = GatewayProcess::start(&upstream, &["--max-response-body", &limit]).await;
        let path = format!("{}/vmrest/portgroups/{PORT_GROUP_ID}", gateway.base);
        let healthz = client().get(format!("{}/healthz", gateway.base));
        assert_eq!(healthz.send().await.unwrap().status(), 200);
        let idle = gateway.peak_rss();
        for accept in ["application/json", "application/json; profile=cupi"] {
            let request = client().get(&path).header("accept", accept);
            let answer = tokio::time::timeout(Duration::from_secs(60), request.send())
                .await
                .expect("answered within a minute")
                .unwrap();
            assert_eq!(answer.status(), 502, "{shape}, {accept}");
            assert_eq!(
                error_code(answer).await,
                "upstream_response_too_large",
                "{shape}, {accept}"
            );
        }
        let growth = gateway.peak_rss().saturating_sub(idle);
        eprintln!("{shape}: peak RSS grew {} KiB", growth / 1024);
        assert!(
            growth < MAX_PEAK_GROWTH,
            "{shape}: peak RSS grew {} MiB refusing a 1 GB bomb",
            growth / MIB as u64
        );
    }
}

/// A gateway with `--max-response-body limit` in front of an upstream that answers a
/// gzip-compressed list of `items` small port groups: no one object is too large, but the
/// whole decodes past the limit.
async fn decoded_list_past(limit: usize, items: usize) -> (String, reqwest::Response) {
    let item = "<PortGroup><DisplayName>pg</DisplayName></PortGroup>";
    let list = format!(
        "<PortGroups total=\"1\">{}</PortGroups>",
        item.repeat(items)
    );
    assert!(list.len() > limit);
    let body = gzip(list.as_bytes());
    let upstream = FakeUpstream::start(move |_| {
        let mut response = respond(200, "application/xml", body.clone());
        let headers = response.headers_mut();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        response
    })
    .await;
    let mut options = GatewayOptions::without_validation();
    options.limits.max_response_body = limit;
    let gateway = start_gateway(&upstream.origin, options).await;
    let response = fetch(
        &gateway,
        "/vmrest/portgroups",
        &[("accept", "application/json")],
    )
    .await;
    (gateway, response)
}

#[tokio::test]
async fn a_decoded_list_past_the_limit_is_a_clean_502_when_it_would_be_read_whole() {
    let limit = 1024 * 1024;
    assert!(limit < cupi_gateway::body::WHOLE_LIMIT);
    let (gateway, response) = decoded_list_past(limit, 40_000).await;
    // Read on past the first part, to be read whole: the limit is found before the answer.
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_response_too_large");
    let aborted = crate::support::metric(&gateway, "cupi_gateway_responses_aborted_total").await;
    assert_eq!(aborted, 0.0);
}

#[tokio::test]
async fn a_decoded_list_past_the_limit_is_cut_off_after_its_head() {
    let limit = cupi_gateway::body::WHOLE_LIMIT + 1024 * 1024;
    let (gateway, response) = decoded_list_past(limit, 120_000).await;
    // Past the size read whole the answer streams: its head is out after the first part, and
    // the limit can only cut it off.
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "a cut body, never a whole one"
    );
    let aborted = crate::support::metric(&gateway, "cupi_gateway_responses_aborted_total").await;
    assert_eq!(aborted, 1.0);
}
