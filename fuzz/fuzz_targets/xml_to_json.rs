//! libFuzzer target: any bytes as an upstream XML body. The properties (valid JSON without
//! duplicate keys, keys of the mapping, a fixed point of the round trip) are
//! `cupi_codec::fuzzing::check_xml_to_json`, shared with `tests/integration/fuzz_properties.rs`.
#![no_main]
#![forbid(unsafe_code)]

use cupi_codec::fuzzing::{check_xml_to_json, sample_schema};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = check_xml_to_json(data, sample_schema()) {
        panic!("{failure}");
    }
});
