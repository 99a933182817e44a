//! Whether a body is, or may be, XML, and whether the gateway can read it, from its bytes.
//!
//! A `Content-Type` is the client's claim, not a fact: Unity Connection's XML readers take
//! bodies under other labels, or none, and detect UTF-16 and UTF-32 by themselves (XML 1.0,
//! appendix F). So a body is judged by its first bytes as well. A body that is XML in an
//! encoding the gateway does not read (it reads UTF-8 only) cannot be checked for a DOCTYPE,
//! and is refused rather than forwarded unread.

/// What the first bytes of a body say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// After an optional UTF-8 BOM and whitespace, a `<`: XML the gateway can read.
    Xml,
    /// XML in an encoding the gateway does not read (named): UTF-16 or UTF-32, by BOM or by
    /// how `<` is spelled, or EBCDIC's `<?xm`.
    ForeignXml(&'static str),
    /// Anything else: JSON, audio, plain text.
    NotXml,
    /// Only a BOM and whitespace so far: more bytes are needed to tell.
    Undecided,
}

/// The 16- and 32-bit encodings an XML parser detects without being told, longest first, so
/// that UTF-32LE's `3C 00 00 00` is not taken for UTF-16LE's `3C 00`.
const WIDE_ENCODINGS: [(&str, usize, bool, &[u8]); 4] = [
    ("UTF-32BE", 4, true, b"\x00\x00\xFE\xFF"),
    ("UTF-32LE", 4, false, b"\xFF\xFE\x00\x00"),
    ("UTF-16BE", 2, true, b"\xFE\xFF"),
    ("UTF-16LE", 2, false, b"\xFF\xFE"),
];

/// EBCDIC's `<?xm`, the one way an XML parser recognises an EBCDIC document unprompted.
const EBCDIC_DECL: &[u8] = b"\x4C\x6F\xA7\x94";

/// Judges the first bytes of a body; `complete` says whether they are the whole body.
///
/// Linear in the leading whitespace; a caller reading a body frame by frame should call it
/// again only once the prefix has grown by a constant factor, so that a body of whitespace
/// sent a byte at a time costs linear time too.
pub fn sniff(prefix: &[u8], complete: bool) -> Sniffed {
    let mut undecided = false;
    for (name, width, big_endian, bom) in WIDE_ENCODINGS {
        let units = prefix.strip_prefix(bom).unwrap_or(prefix);
        match first_unit_after_whitespace(units, width, big_endian) {
            Some(Some(unit)) if unit == u32::from(b'<') => return Sniffed::ForeignXml(name),
            Some(_) => {}
            None => undecided = true,
        }
    }
    if prefix.starts_with(EBCDIC_DECL) {
        return Sniffed::ForeignXml("EBCDIC");
    }
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    match text.iter().find(|b| !is_xml_space(**b)) {
        Some(b'<') => Sniffed::Xml,
        Some(_) if !undecided || complete => Sniffed::NotXml,
        None if complete => Sniffed::NotXml,
        _ => Sniffed::Undecided,
    }
}

/// The first code unit of `bytes` in the given width and byte order that is not XML
/// whitespace: `Some(None)` if a unit cannot be whitespace in that encoding (its other bytes
/// are not zero), `None` if the bytes end first.
fn first_unit_after_whitespace(
    bytes: &[u8],
    width: usize,
    big_endian: bool,
) -> Option<Option<u32>> {
    for unit in bytes.chunks(width) {
        if unit.len() < width {
            return None;
        }
        let value = unit
            .iter()
            .fold(0u32, |value, &b| (value << 8) | u32::from(b));
        let value = if big_endian {
            value
        } else {
            value.swap_bytes() >> (32 - 8 * width as u32)
        };
        match u8::try_from(value) {
            Ok(b) if is_xml_space(b) => continue,
            Ok(_) => return Some(Some(value)),
            Err(_) => return Some(None),
        }
    }
    None
}

/// XML's `S`: space, tab, CR, LF.
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether an encoding's name (a `charset` parameter, an XML declaration's `encoding`) is one
/// the gateway reads as it is meant: UTF-8, or its subset US-ASCII.
pub fn is_utf8_name(name: &str) -> bool {
    ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|known| name.trim().eq_ignore_ascii_case(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    fn utf32(text: &str, big_endian: bool) -> Vec<u8> {
        text.chars()
            .flat_map(|c| {
                if big_endian {
                    u32::from(c).to_be_bytes()
                } else {
                    u32::from(c).to_le_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn utf8_xml_after_a_bom_and_whitespace() {
        assert_eq!(sniff(b"<a/>", true), Sniffed::Xml);
        assert_eq!(sniff(b"\xEF\xBB\xBF \r\n\t<?xml", false), Sniffed::Xml);
        assert_eq!(sniff(b"   ", false), Sniffed::Undecided);
        assert_eq!(sniff(b"   ", true), Sniffed::NotXml);
        assert_eq!(sniff(b"", true), Sniffed::NotXml);
    }

    #[test]
    fn wide_encodings_with_or_without_a_bom() {
        let doc = " <!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>";
        for big_endian in [true, false] {
            let name16 = if big_endian { "UTF-16BE" } else { "UTF-16LE" };
            let name32 = if big_endian { "UTF-32BE" } else { "UTF-32LE" };
            let plain = utf16(doc, big_endian);
            assert_eq!(sniff(&plain, true), Sniffed::ForeignXml(name16));
            let with_bom = utf16(&format!("\u{feff}{doc}"), big_endian);
            assert_eq!(sniff(&with_bom, true), Sniffed::ForeignXml(name16));
            assert_eq!(
                sniff(&utf32(doc, big_endian), true),
                Sniffed::ForeignXml(name32)
            );
            let with_bom = utf32(&format!("\u{feff}{doc}"), big_endian);
            assert_eq!(sniff(&with_bom, true), Sniffed::ForeignXml(name32));
        }
        assert_eq!(
            sniff(b"\x4C\x6F\xA7\x94\x40", true),
            Sniffed::ForeignXml("EBCDIC")
        );
        // A whitespace unit split across frames waits for the rest.
        assert_eq!(sniff(b"\x00", false), Sniffed::Undecided);
    }

    #[test]
    fn other_bodies_are_not_xml() {
        assert_eq!(
            sniff(b"RIFF\x24\x08\x00\x00WAVEfmt ", false),
            Sniffed::NotXml
        );
        assert_eq!(sniff(br#"{"a":"<b/>"}"#, true), Sniffed::NotXml);
        assert_eq!(sniff(b"hello <b/>", true), Sniffed::NotXml);
        // An MPEG audio frame starts like a UTF-16LE BOM; what follows is not `<`.
        assert_eq!(sniff(b"\xFF\xFE\x90\x44\x00\x00", true), Sniffed::NotXml);
        assert_eq!(sniff(&utf16("hello", false), true), Sniffed::NotXml);
        assert_eq!(sniff(b"\x1F\x8B\x08\x00", true), Sniffed::NotXml);
    }

    #[test]
    fn encoding_names() {
        assert!(is_utf8_name("UTF-8"));
        assert!(is_utf8_name("utf8"));
        assert!(is_utf8_name("US-ASCII"));
        assert!(!is_utf8_name("UTF-16"));
        assert!(!is_utf8_name("ISO-8859-1"));
        assert!(!is_utf8_name("utf-8é"));
    }
}
