//! libFuzzer target: any bytes as a client's JSON request body, with and without a known root.
//! The properties (well-formed XML, no DOCTYPE, the expected root, readable back, a fixed
//! point of the round trip) are `cupi_codec::fuzzing::check_json_to_xml`, shared with
//! `tests/integration/fuzz_properties.rs`.
#![no_main]
#![forbid(unsafe_code)]

use cupi_codec::fuzzing::{check_json_to_xml, sample_schema};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = check_json_to_xml(data, sample_schema()) {
        panic!("{failure}");
    }
});
