//! Transcodes the simulator's generated list of N ports K times, for counting instructions
//! rather than timing them (`benches/instructions.sh` runs it under cachegrind twice and takes
//! the difference, so start-up, the OpenAPI document's parse above all, cancels out).
//!
//! ```text
//! cargo run --release --example transcode_count -- 2 1000
//! ```

use cupi_codec::xml_to_json;
use cupi_gateway::openapi::ApiSpec;
use cupi_simulator::generated_ports_xml;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let (Some(Ok(ports)), Some(Ok(times))) = (args.next(), args.next()) else {
        eprintln!("usage: transcode_count PORTS TIMES");
        std::process::exit(2);
    };
    let spec = ApiSpec::embedded().expect("the embedded OpenAPI document");
    let xml = generated_ports_xml(ports).into_bytes();
    let mut json_bytes = 0;
    for _ in 0..times {
        let json = xml_to_json(std::hint::black_box(&xml), spec.schema()).expect("transcodes");
        json_bytes += json.len();
    }
    println!(
        "{} bytes of XML, {json_bytes} bytes of JSON in all",
        xml.len()
    );
}
