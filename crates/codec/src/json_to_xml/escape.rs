//! Escaping text and attribute values for XML, refusing what XML 1.0 cannot carry.

/// Where escaped text goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    /// Element content.
    Text,
    /// An attribute value, between double quotes.
    ///
    /// Whitespace is written as references too, or XML parsers would normalise it to spaces.
    Attribute,
}

/// Escapes `text` into `out`, copying runs that need nothing in one go. `\r` is always written
/// as a reference, or XML parsers would turn it into `\n`. A character XML 1.0 cannot carry
/// (a control character, U+FFFE, U+FFFF) is refused with its code point.
pub(super) fn escape(text: &str, context: Escape, out: &mut Vec<u8>) -> Result<(), u32> {
    let bytes = text.as_bytes();
    let attribute = context == Escape::Attribute;
    let mut copied = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let reference: &[u8] = match byte {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            b'"' if attribute => b"&quot;",
            b'\t' if attribute => b"&#9;",
            b'\n' if attribute => b"&#10;",
            b'\t' | b'\n' => continue,
            0..=0x1f => return Err(byte.into()),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
            0xef if matches!(bytes.get(i + 1..i + 3), Some([0xbf, 0xbe | 0xbf])) => {
                return Err(0xfffe + u32::from(bytes[i + 2] & 1))
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[copied..i]);
        out.extend_from_slice(reference);
        copied = i + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    Ok(())
}
