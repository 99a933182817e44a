//! The property the `path_guard` fuzz target (`fuzz/`) and its proptest twin
//! (`tests/integration/fuzz_properties.rs`) check, written once; behind the `fuzzing` feature.
//!
//! The oracle shares nothing with [`check_path`]: it decodes the path once, as the servlet
//! container behind CUPI does, and looks at the segments that result.

use crate::check_path;

/// The path guard on any string: a path `check_path` accepts, percent-decoded once (as the
/// servlet container behind CUPI does), has
///
/// - no encoded `/` (decoding adds no segment);
/// - no `.` or `..` segment;
/// - no empty segment, other than before the leading `/` and after a trailing `/`;
/// - no `\` and no `;`.
pub fn check_path_guard(path: &str) -> Result<(), String> {
    if check_path(path).is_err() {
        return Ok(());
    }
    path_oracle(path).map_err(|e| format!("check_path accepted {path:?}, but {e}"))
}

/// The path oracle on its own, for paths accepted or not.
pub fn path_oracle(path: &str) -> Result<(), String> {
    let decoded = percent_decode(path.as_bytes());
    let raw_segments = path.split('/').count();
    let segments: Vec<&[u8]> = decoded.split(|&b| b == b'/').collect();
    if segments.len() != raw_segments {
        return Err("an encoded '/' decodes to a separator".into());
    }
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() && i != 0 && i != last {
            return Err(format!("segment {i} is empty"));
        }
        if *segment == b"." || *segment == b".." {
            return Err(format!("segment {i} is a dot segment"));
        }
        if segment.contains(&b'\\') {
            return Err(format!("segment {i} holds a backslash"));
        }
        if segment.contains(&b';') {
            return Err(format!("segment {i} holds a ';'"));
        }
    }
    Ok(())
}

/// `%XX` (either case) becomes the byte; a `%` not followed by two hex digits stays as it is.
fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(hi), Some(lo)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_single_and_forgiving() {
        assert_eq!(percent_decode(b"/a%2Fb%2e%zz%4"), b"/a/b.%zz%4");
        assert_eq!(percent_decode(b"%252e"), b"%2e");
        assert_eq!(percent_decode(b"%"), b"%");
    }

    #[test]
    fn the_path_oracle_sees_what_a_server_would() {
        for ok in [
            "/vmrest",
            "/vmrest/",
            "/vmrest/ports/a%20b",
            "",
            "/vmrest/%252e%252e",
        ] {
            assert_eq!(path_oracle(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/vmrest/%2e%2E/x",
            "/vmrest/./x",
            "/vmrest//x",
            "/vmrest/a%2fb",
            "/vmrest/a%5cb",
            "/vmrest/..%3b/x",
        ] {
            assert!(path_oracle(bad).is_err(), "{bad}");
        }
    }
}
