//! A URL's query string read the way Unity Connection reads it: `&`-separated `name=value`
//! pairs, `+` as a space, `%XX` escapes, UTF-8.
//!
//! One decoder serves the validator and the embedded simulator, so the gateway checks the very
//! values the server behind it will read: a parameter spelled with escapes cannot slip past the
//! validator and still mean something upstream.

/// Decodes `%XX` escapes (and `+` as space when `plus` is set). Bad escapes and invalid
/// UTF-8 are errors.
pub fn url_decode(s: &str, plus: bool) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                // Two hex digits exactly: `from_str_radix` alone also takes a sign (`%+f`),
                // which Tomcat refuses and then ignores the whole parameter.
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        // The escape, not the whole text: errors quote little of a client's URL.
                        let escape = &bytes[i..bytes.len().min(i + 3)];
                        format!("bad percent-escape {:?}", String::from_utf8_lossy(escape))
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "the decoded bytes are not UTF-8".to_owned())
}

/// The still-encoded `(name, value)` pairs of a raw query string, in order; a pair without `=`
/// has the value `""`, empty pairs (`a=1&&b=2`) are skipped.
pub fn raw_pairs(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// [`raw_pairs`], decoded.
pub fn pairs(raw: &str) -> impl Iterator<Item = Result<(String, String), String>> + '_ {
    raw_pairs(raw).map(|(name, value)| Ok((url_decode(name, true)?, url_decode(value, true)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(url_decode("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(url_decode("a+b", false).unwrap(), "a+b");
        assert!(url_decode("%zz", true).is_err());
        assert!(url_decode("%ff", true).is_err());
        let long = format!("%zz{}", "c".repeat(10_000));
        assert_eq!(
            url_decode(&long, true).unwrap_err(),
            r#"bad percent-escape "%zz""#
        );
    }

    #[test]
    fn an_escape_is_two_hex_digits_not_a_signed_number() {
        assert_eq!(url_decode("%2B%2b", true).unwrap(), "++");
        for signed in ["%+4", "%+f", "a=%+0", "%-1", "%+", "%4"] {
            assert!(url_decode(signed, true).is_err(), "{signed}");
        }
    }

    #[test]
    fn splits_pairs_and_decodes_both_sides() {
        let decoded: Vec<_> = pairs("q%75ery=(a+is+b)&&flag&x=%3D")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            decoded,
            [
                ("query".to_owned(), "(a is b)".to_owned()),
                ("flag".to_owned(), String::new()),
                ("x".to_owned(), "=".to_owned()),
            ]
        );
        assert!(pairs("a=%e9").any(|p| p.is_err()));
    }
}
