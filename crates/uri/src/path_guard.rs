//! The path guard: request paths that a server behind the gateway could resolve to somewhere
//! outside `/vmrest` are refused before anything else reads them; [`is_vmrest`] says which
//! paths are CUPI's at all.

/// Whether a path belongs to CUPI: `/vmrest` itself and everything below it.
pub fn is_vmrest(path: &str) -> bool {
    path == "/vmrest" || path.starts_with("/vmrest/")
}

/// Refuses paths that a server behind us could resolve to somewhere outside `/vmrest`:
/// Tomcat normalises `/vmrest/../x` (also spelled `%2e%2e`, or `..;` with a path parameter)
/// to `/x`, and decodes `%2F` and `%5C` to separators. CUPI paths are ids and names, so none
/// of these occur in a legitimate request.
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if path.contains("//") {
        return Err("empty path segments ('//') are not allowed");
    }
    for segment in path.split('/') {
        if is_dot_segment(segment) {
            return Err("dot segments ('.', '..') are not allowed in the path");
        }
        // Encoded too: a server or proxy that decodes before it splits off parameters would
        // read `..%3b` as `..;`.
        if segment.contains(';') || encodes(segment, b"3b") {
            return Err("path parameters (';', also as '%3B') are not allowed in the path");
        }
        if encodes(segment, b"2f") || encodes(segment, b"5c") || segment.contains('\\') {
            return Err("encoded slashes and backslashes are not allowed in the path");
        }
        if encodes_unreserved(segment) {
            // `%70orts` is `ports` to Tomcat; refusing it keeps one spelling per path, so
            // validation sees the path the server will route.
            return Err("percent-encoded letters, digits or '-._~' are not allowed in the path");
        }
    }
    Ok(())
}

/// `.` or `..`, each dot also as `%2e` or `%2E`.
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return false,
        };
        dots += 1;
    }
    matches!(dots, 1 | 2)
}

/// Whether a segment holds `%` followed by `hex` (lower case), in either case.
fn encodes(segment: &str, hex: &[u8; 2]) -> bool {
    segment
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1..].eq_ignore_ascii_case(hex))
}

/// Whether a segment percent-encodes a character that needs no encoding (RFC 3986 unreserved).
fn encodes_unreserved(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmrest_is_the_prefix_and_its_subtree() {
        for cupi in ["/vmrest", "/vmrest/", "/vmrest/ports"] {
            assert!(is_vmrest(cupi), "{cupi}");
        }
        for other in ["/", "/vmrestx", "/docs", "/VMREST"] {
            assert!(!is_vmrest(other), "{other}");
        }
    }

    #[test]
    fn paths_that_could_leave_vmrest_are_refused() {
        for ok in [
            "/vmrest",
            "/vmrest/",
            "/vmrest/ports/abc-1",
            "/vmrest/users/a%20b",
            "/vmrest/x.y",
            "/vmrest/...",
            "/vmrest/.hidden",
            "/vmrest/a%2",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/vmrest/../cuadmin",
            "/vmrest/%2e%2e/cuadmin",
            "/vmrest/%2E./x",
            "/vmrest/./ports",
            "/vmrest/.%2E/x",
            "/vmrest/%2e",
            "/vmrest/..;/cuadmin",
            "/vmrest/ports;jsessionid=1",
            "/vmrest/a%2fb",
            "/vmrest/a%5Cb",
            "/vmrest/a\\b",
            "/vmrest//evil.example.com/x",
            "/vmrest/%70orts/x",
            "/vmrest/portgroup%73/x",
            "/vmrest/ports/%41",
            // Found by the path_guard fuzz target: accepted, and ';' once decoded.
            "/vmrest/%3b",
            "/vmrest/..%3b/cuadmin",
            "/vmrest/ports%3Bjsessionid=1",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
