//! libFuzzer target: any UTF-8 string as a request path. A path `check_path` accepts must pass
//! an independent oracle (decoded once: no dot or empty segment, no encoded '/', no '\' or
//! ';'): `cupi_uri::fuzzing::check_path_guard`, shared with `tests/integration/fuzz_properties.rs`.
#![no_main]
#![forbid(unsafe_code)]

use cupi_uri::fuzzing::check_path_guard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data) {
        if let Err(failure) = check_path_guard(path) {
            panic!("{failure}");
        }
    }
});
