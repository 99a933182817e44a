//! Transcodes the simulator's generated list of N ports K times, for counting instructions
//! rather than timing them (`benches/instructions.sh` runs it under cachegrind twice and takes
//! the difference, so start-up, the OpenAPI document's parse above all, cancels out). With a
//! third argument, the list is streamed to the transcoder in chunks of that many bytes, as the
//! gateway streams a body too large to hold; without it, it is read whole. With `read` instead,
//! quick-xml only reads the list's events, as `benches/transcode.rs`'s floor does: no
//! transcoder can do less.
//!
//! ```text
//! cargo run --release --example transcode_count -- 2 1000
//! cargo run --release --example transcode_count -- 1000 10 16384
//! cargo run --release --example transcode_count -- 1000 10 read
//! ```

use std::io::{self, BufRead};

use cupi_codec::{stream_xml_to_json, xml_to_json, JsonStyle};
use cupi_gateway::openapi::ApiSpec;
use cupi_simulator::generated_ports_xml;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = || args.next().map(|a| a.parse::<usize>());
    let (Some(Ok(ports)), Some(Ok(times))) = (number(), number()) else {
        eprintln!("usage: transcode_count PORTS TIMES [CHUNK | read]");
        std::process::exit(2);
    };
    let third = args.next();
    let spec = ApiSpec::embedded().expect("the embedded OpenAPI document");
    let xml = generated_ports_xml(ports).into_bytes();
    if third.as_deref() == Some("read") {
        let events: usize = (0..times)
            .map(|_| quick_xml_read(std::hint::black_box(&xml)))
            .sum();
        println!("{} bytes of XML, {events} events in all", xml.len());
        return;
    }
    let chunk = third.and_then(|chunk| chunk.parse().ok());
    let mut json_bytes = 0;
    for _ in 0..times {
        let xml = std::hint::black_box(&xml);
        json_bytes += match chunk {
            None => xml_to_json(xml, spec.schema()).expect("transcodes").len(),
            Some(chunk) => {
                let (mut out, mut written) = (Vec::new(), 0);
                let input = Chunks { rest: xml, chunk };
                let flush = |out: &mut Vec<u8>, _| {
                    written += out.len();
                    out.clear();
                    true
                };
                stream_xml_to_json(
                    input,
                    spec.schema(),
                    JsonStyle::Typed,
                    1 << 20,
                    &mut out,
                    flush,
                )
                .expect("transcodes");
                written
            }
        };
    }
    println!(
        "{} bytes of XML, {json_bytes} bytes of JSON in all",
        xml.len()
    );
}

/// quick-xml reading every event borrowed from `xml`, none of them used (the floor of
/// `benches/transcode.rs`): the events read.
fn quick_xml_read(xml: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return events,
            Ok(event) => {
                std::hint::black_box(event);
                events += 1;
            }
            Err(e) => panic!("quick-xml: {e}"),
        }
    }
}

/// A body in memory, handed on `chunk` bytes at a time with no copy, as the gateway hands on
/// the upstream's frames.
struct Chunks<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl BufRead for Chunks<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.rest[..self.rest.len().min(self.chunk)])
    }

    fn consume(&mut self, amount: usize) {
        self.rest = &self.rest[amount..];
    }
}

impl io::Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        cupi_codec::read_buffered(self, buf)
    }
}
