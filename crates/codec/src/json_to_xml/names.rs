//! The `Name` production of XML 1.0: which JSON keys may become element and attribute names.
//!
//! Shared with the XML reader (`xml_to_json`), which refuses what this refuses, so that every
//! name it reads can be written back.

/// The `Name` production of XML 1.0 (fifth edition).
pub fn is_xml_name(name: &str) -> bool {
    // CUPI's names, and nearly everyone's, are ASCII: one table look-up a byte, the flags of
    // all bytes or-ed together (no branch a byte), no decoding; any other byte falls back to
    // the production itself.
    let Some((&first, rest)) = name.as_bytes().split_first() else {
        return false;
    };
    let flags = rest
        .iter()
        .fold(BYTE_FLAGS[usize::from(first)] & !NOT_FIRST, |flags, &b| {
            flags | BYTE_FLAGS[usize::from(b)]
        });
    if flags & NON_ASCII != 0 {
        let mut chars = name.chars();
        return chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char);
    }
    flags & NOT_NAME == 0 && BYTE_FLAGS[usize::from(first)] & NOT_FIRST == 0
}

/// An ASCII byte no name may hold.
const NOT_NAME: u8 = 1;
/// An ASCII byte a name may hold, but not first (a digit, `-`, `.`), or one it may not hold.
const NOT_FIRST: u8 = 2;
/// Not ASCII: for the production to decide.
const NON_ASCII: u8 = 4;

/// [`is_name_start_char`] and [`is_name_char`] for each byte, as flags.
const BYTE_FLAGS: [u8; 256] = {
    let mut table = [NON_ASCII; 256];
    let mut byte = 0;
    while byte < 128 {
        table[byte] = match byte as u8 {
            b'A'..=b'Z' | b'a'..=b'z' | b'_' | b':' => 0,
            b'0'..=b'9' | b'-' | b'.' => NOT_FIRST,
            _ => NOT_NAME | NOT_FIRST,
        };
        byte += 1;
    }
    table
};

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names() {
        for ok in ["A", "_a", "a-b.c", "ns:a", "é"] {
            assert!(is_xml_name(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a b", "a<", "#text", "a\u{0}"] {
            assert!(!is_xml_name(bad), "{bad}");
        }
        // The ASCII shortcut agrees with the production on every name of up to two characters.
        let ascii = (0u8..128).map(char::from);
        for first in ascii.clone() {
            for second in std::iter::once(None).chain(ascii.clone().map(Some)) {
                let name: String = std::iter::once(first).chain(second).collect();
                let by_chars = name.chars().next().is_some_and(is_name_start_char)
                    && name.chars().skip(1).all(is_name_char);
                assert_eq!(is_xml_name(&name), by_chars, "{name:?}");
            }
        }
    }
}
