//! The text of each JSON number exactly as the client sent it.
//!
//! serde_json (with `arbitrary_precision`) keeps a number's digits but re-spells it: `1E3`
//! comes as `1e+3`, `1e400` as `1e+400`, and `-0`, which fits an integer, as `0`. The mapping
//! promises the client's text, so the number's own bytes are found again in the body: numbers
//! arrive in document order, and a cursor that only moves forward finds each one in a single
//! pass over the body.

/// A forward-only cursor over a JSON body's number tokens.
pub(crate) struct NumberTexts<'de> {
    json: &'de [u8],
    at: usize,
}

impl<'de> NumberTexts<'de> {
    pub(crate) fn new(json: &'de [u8]) -> Self {
        NumberTexts { json, at: 0 }
    }

    /// The client's text of the number serde_json just read, if the next number token in the
    /// body is that number (`is_it` judges); the cursor then moves past it. When it is not (a
    /// hand-made `$serde_json::private::Number` object is a string in the body), the cursor
    /// stays and the caller keeps serde_json's spelling, which is the same number.
    pub(crate) fn take_if(&mut self, is_it: impl FnOnce(&str) -> bool) -> Option<&'de str> {
        let (start, end) = next_number(self.json, self.at)?;
        // A number token is ASCII, so the slice is UTF-8.
        let text = std::str::from_utf8(&self.json[start..end]).ok()?;
        is_it(text).then(|| {
            self.at = end;
            text
        })
    }
}

/// Whether `raw` (a JSON number as sent) is what serde_json spells as `read`: the same text
/// once the exponent's `E` is lower-cased and given a sign.
pub(crate) fn spells(raw: &str, read: &str) -> bool {
    let (raw_mantissa, raw_exponent) = split_exponent(raw);
    let (read_mantissa, read_exponent) = split_exponent(read);
    raw_mantissa == read_mantissa
        && match (raw_exponent, read_exponent) {
            (None, None) => true,
            (Some(raw), Some(read)) => {
                raw == read || (!raw.starts_with(['+', '-']) && read.strip_prefix('+') == Some(raw))
            }
            _ => false,
        }
}

/// A number's text before and after its `e`/`E`.
fn split_exponent(number: &str) -> (&str, Option<&str>) {
    match number.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (number, None),
    }
}

/// Where the next number token at or after `from` is: skips strings (keys included), whose
/// digits are not numbers; outside strings, `-` or a digit starts one.
fn next_number(json: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = json[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(json.len(), |n| i + n);
                return Some((i, end));
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_past_strings_in_order() {
        let json = br#"{"k1": "a\"2", "3": [1E3, -0, 1.5e-2]}"#;
        let mut numbers = NumberTexts::new(json);
        assert_eq!(numbers.take_if(|raw| spells(raw, "1e+3")), Some("1E3"));
        assert_eq!(numbers.take_if(|raw| raw == "-1"), None);
        assert_eq!(numbers.take_if(|raw| raw == "-0"), Some("-0"));
        assert_eq!(numbers.take_if(|raw| spells(raw, "1.5e-2")), Some("1.5e-2"));
        assert_eq!(numbers.take_if(|_| true), None);
    }

    #[test]
    fn serde_json_spellings() {
        assert!(spells("1e400", "1e+400"));
        assert!(spells("1.5E3", "1.5e+3"));
        assert!(spells("1E+3", "1e+3"));
        assert!(spells("2e-7", "2e-7"));
        assert!(spells("12345678901234567890123", "12345678901234567890123"));
        assert!(!spells("1e4", "1e+40"));
        assert!(!spells("1e40", "1e+4"));
        assert!(!spells("1e-4", "1e+4"));
        assert!(!spells("1.5", "1.50"));
    }
}
