//! Transcoder throughput (`cargo bench --bench transcode`, then `python3 benches/report.py`).
//!
//! For each input — one port group as `GET /vmrest/portgroups/{id}` returns it, the two-port
//! list, and lists of 1,000 and 100,000 ports, all made by the simulator's generator — it times
//! `xml_to_json` and `json_to_xml`, and beside them floors that no transcoder can beat:
//! quick-xml reading the same XML event by event and doing nothing with the events (borrowed
//! from the body, and again through its buffered reader), serde_json
//! writing the equivalent JSON from an already-built `Value`, and serde_json reading that JSON
//! into nothing (`IgnoredAny`), the floor of `json_to_xml`. The target is `xml_to_json`
//! at ≥ 0.6× the quick-xml (borrowed) read speed on the 100,000-port list.
//!
//! Throughput is in bytes of XML for everything but `json_to_xml` and the JSON read floor,
//! whose input is the JSON (so each transcoder compares with its own floor byte for byte). Each input is checked once before it
//! is timed: both directions succeed, and JSON → XML → JSON gives the same JSON back.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use cupi_codec::{json_to_xml, xml_to_json, Schema};
use cupi_gateway::openapi::ApiSpec;
use cupi_simulator::{generated_port_group_xml, generated_ports_xml};
use quick_xml::events::Event;
use quick_xml::Reader;

/// One benchmark input: its XML, the JSON `xml_to_json` makes of it, and the XML root
/// `json_to_xml` must be given to turn that JSON back into the same document.
struct Input {
    name: &'static str,
    xml: Vec<u8>,
    json: Vec<u8>,
    root: &'static str,
}

impl Input {
    fn new(name: &'static str, xml: String, root: &'static str, schema: &Schema) -> Self {
        let xml = xml.into_bytes();
        let json = xml_to_json(&xml, schema).expect("the generated XML transcodes");
        let back = json_to_xml(&json, Some(root), usize::MAX).expect("its JSON transcodes back");
        let again = xml_to_json(&back, schema).expect("the XML made from JSON transcodes");
        assert!(again == json, "{name}: JSON → XML → JSON changed the JSON");
        eprintln!(
            "input {name}: {} bytes of XML, {} bytes of JSON",
            xml.len(),
            json.len()
        );
        Input {
            name,
            xml,
            json,
            root,
        }
    }
}

/// quick-xml's own speed on a body in memory: every event borrowed from it (the slice reader,
/// which `xml_to_json` uses for a whole document), none of them used.
fn quick_xml_read(xml: &[u8]) -> usize {
    let mut reader = Reader::from_reader(xml);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(event) => {
                black_box(event);
                events += 1;
            }
            Err(e) => panic!("quick-xml: {e}"),
        }
    }
    events
}

/// The same through quick-xml's buffered reader, every event copied into a reused buffer: what
/// a body read as it streams in costs (and this benchmark's floor before `xml_to_json` read
/// whole documents borrowed).
fn quick_xml_read_buffered(xml: &[u8]) -> usize {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::with_capacity(1024);
    let mut events = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(event) => {
                black_box(event);
                events += 1;
            }
            Err(e) => panic!("quick-xml: {e}"),
        }
        buf.clear();
    }
    events
}

fn bench_input(c: &mut Criterion, input: &Input, schema: &Schema, big: bool) {
    let mut group = c.benchmark_group(input.name);
    if big {
        // About a second an iteration: ten flat samples, not criterion's 5,050 iterations.
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(10));
    } else {
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    let xml_bytes = Throughput::Bytes(input.xml.len() as u64);

    group.throughput(xml_bytes.clone());
    group.bench_function("xml_to_json", |b| {
        b.iter(|| xml_to_json(black_box(&input.xml), schema).unwrap())
    });

    group.throughput(Throughput::Bytes(input.json.len() as u64));
    group.bench_function("json_to_xml", |b| {
        b.iter(|| json_to_xml(black_box(&input.json), Some(input.root), usize::MAX).unwrap())
    });

    group.bench_function("floor_serde_json_read", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&input.json)).unwrap())
    });

    group.throughput(xml_bytes.clone());
    group.bench_function("floor_quick_xml_read", |b| {
        b.iter(|| quick_xml_read(black_box(&input.xml)))
    });
    group.bench_function("floor_quick_xml_read_buffered", |b| {
        b.iter(|| quick_xml_read_buffered(black_box(&input.xml)))
    });

    // The JSON as a Value, built outside the timed loop: only the writing is timed.
    let value: serde_json::Value = serde_json::from_slice(&input.json).expect("valid JSON");
    let mut out = Vec::with_capacity(input.json.len());
    group.throughput(xml_bytes);
    group.bench_function("floor_serde_json_write", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&value)).unwrap();
            out.len()
        })
    });
    group.finish();
}

fn transcode(c: &mut Criterion) {
    let spec = ApiSpec::embedded().expect("embedded OpenAPI document");
    let schema = spec.schema();
    let small = [
        Input::new(
            "port_group",
            generated_port_group_xml(1),
            "PortGroup",
            schema,
        ),
        Input::new("ports_2", generated_ports_xml(2), "Ports", schema),
        Input::new("ports_1000", generated_ports_xml(1_000), "Ports", schema),
    ];
    for input in &small {
        bench_input(c, input, schema, false);
    }
    drop(small);
    // Made last and alone, so its few hundred megabytes are not held during the others.
    let big = Input::new(
        "ports_100000",
        generated_ports_xml(100_000),
        "Ports",
        schema,
    );
    bench_input(c, &big, schema, true);
}

criterion_group!(benches, transcode);
criterion_main!(benches);
