//! XML in and out, in CUPI's style.
//!
//! Output is built straight into a `String` (no DOM, no indentation) because the generator must
//! produce hundreds of megabytes quickly. Input is only ever a flat PUT body
//! (`<PortGroup><Field>value</Field>…</PortGroup>`), so the parser accepts exactly that shape
//! and rejects DOCTYPEs, nesting and stray text instead of guessing.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::data::{Kind, Record};

/// Every XML response starts with this declaration, as CUPI's do.
pub(crate) const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// Appends `s` escaped for element text (`&`, `<`, `>`).
pub(crate) fn push_text(out: &mut String, s: &str) {
    push_escaped(out, s, false);
}

/// Appends `s` escaped for a double-quoted attribute value.
pub(crate) fn push_attr(out: &mut String, s: &str) {
    push_escaped(out, s, true);
}

fn push_escaped(out: &mut String, s: &str, attr: bool) {
    let mut rest = s;
    while let Some(pos) = rest.find(|c| matches!(c, '&' | '<' | '>') || (attr && c == '"')) {
        out.push_str(&rest[..pos]);
        out.push_str(match rest.as_bytes()[pos] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => "&quot;",
        });
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
}

/// Appends one item; `full` renders every field, otherwise only the list fields.
/// Empty values render as `<Field/>`.
pub(crate) fn push_record(out: &mut String, kind: Kind, record: &Record, full: bool) {
    let count = if full {
        kind.fields().len()
    } else {
        kind.list_len()
    };
    out.push('<');
    out.push_str(kind.item());
    out.push('>');
    for (name, value) in kind.fields().iter().zip(record).take(count) {
        out.push('<');
        out.push_str(name);
        if value.is_empty() {
            out.push_str("/>");
        } else {
            out.push('>');
            push_text(out, value);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
    out.push_str("</");
    out.push_str(kind.item());
    out.push('>');
}

/// Appends the declaration and the list's opening tag; an empty list is self-closing and
/// needs no [`push_list_close`].
pub(crate) fn push_list_open(out: &mut String, kind: Kind, total: usize, empty: bool) {
    out.push_str(XML_DECL);
    out.push('<');
    out.push_str(kind.collection());
    out.push_str(" total=\"");
    push_attr(out, &total.to_string());
    out.push_str(if empty { "\"/>" } else { "\">" });
}

/// Appends the list's closing tag.
pub(crate) fn push_list_close(out: &mut String, kind: Kind) {
    out.push_str("</");
    out.push_str(kind.collection());
    out.push('>');
}

/// A whole list document: `total` attribute plus the given items (list fields only).
pub(crate) fn render_list<'a>(
    kind: Kind,
    total: usize,
    items: impl ExactSizeIterator<Item = &'a Record>,
) -> String {
    let mut out = String::with_capacity(128 + items.len() * 1536);
    let empty = items.len() == 0;
    push_list_open(&mut out, kind, total, empty);
    if !empty {
        for record in items {
            push_record(&mut out, kind, record, false);
        }
        push_list_close(&mut out, kind);
    }
    out
}

/// A single full object.
pub(crate) fn render_object(kind: Kind, record: &Record) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str(XML_DECL);
    push_record(&mut out, kind, record, true);
    out
}

/// CUPI's error body: `<ErrorDetails><errors><code>…</code><message>…</message></errors></ErrorDetails>`.
pub(crate) fn error_details(code: &str, message: &str) -> String {
    let mut out = String::with_capacity(160 + message.len());
    out.push_str(XML_DECL);
    out.push_str("<ErrorDetails><errors><code>");
    push_text(&mut out, code);
    out.push_str("</code><message>");
    push_text(&mut out, message);
    out.push_str("</message></errors></ErrorDetails>");
    out
}

/// A parsed flat document: the root element's name and its child elements' text, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FlatDoc {
    pub(crate) root: String,
    pub(crate) fields: Vec<(String, String)>,
}

/// Parses `<Root><A>text</A><B/></Root>`. Entity and character references are resolved,
/// CDATA is text, comments and processing instructions are skipped. Anything else (DOCTYPE,
/// nested elements, text outside fields, unknown entities, a second root) is an error whose
/// message is meant for the client.
pub(crate) fn parse_flat(body: &str) -> Result<FlatDoc, String> {
    let mut reader = Reader::from_str(body);
    let mut parser = FlatParser::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        if let Event::Eof = event {
            return parser.finish();
        }
        parser.event(event)?;
    }
}

/// What [`parse_flat`] has read so far.
#[derive(Default)]
struct FlatParser {
    root: Option<String>,
    root_closed: bool,
    fields: Vec<(String, String)>,
    /// The field being read (name, text so far), when inside one.
    current: Option<(String, String)>,
}

impl FlatParser {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::DocType(_) => return Err("DOCTYPE is not allowed".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::Eof => {}
            Event::Start(e) | Event::Empty(e) if self.root_closed => {
                return Err(format!(
                    "unexpected element <{}> after the root element",
                    e.name().into_inner()
                ))
            }
            Event::Start(e) => self.open(e.name().into_inner().to_string(), false)?,
            Event::Empty(e) => self.open(e.name().into_inner().to_string(), true)?,
            Event::End(_) => match self.current.take() {
                Some(field) => self.fields.push(field),
                None => self.root_closed = true,
            },
            Event::Text(t) => {
                let text = t.xml10_content();
                // Whitespace between fields is indentation.
                if self.current.is_some() || !text.trim().is_empty() {
                    self.push_text(&text, "text")?;
                }
            }
            Event::CData(c) => self.push_text(&c.xml10_content(), "CDATA")?,
            Event::GeneralRef(r) => self.push_text(&resolve_reference(&r)?, "text")?,
        }
        Ok(())
    }

    /// A start tag (`empty` for `<Name/>`): the root's, or a field's inside it.
    fn open(&mut self, name: String, empty: bool) -> Result<(), String> {
        match (&self.root, &self.current) {
            (None, _) => {
                self.root = Some(name);
                self.root_closed = empty;
            }
            (Some(_), None) if empty => self.fields.push((name, String::new())),
            (Some(_), None) => self.current = Some((name, String::new())),
            (Some(_), Some((field, _))) => {
                return Err(format!("element <{name}> nested in <{field}>"))
            }
        }
        Ok(())
    }

    /// Text for the field being read; `what` names it in the error when there is none.
    fn push_text(&mut self, text: &str, what: &str) -> Result<(), String> {
        match &mut self.current {
            Some((_, value)) => value.push_str(text),
            None => return Err(format!("{what} outside a field element")),
        }
        Ok(())
    }

    fn finish(self) -> Result<FlatDoc, String> {
        match self.root {
            Some(root) if self.root_closed => Ok(FlatDoc {
                root,
                fields: self.fields,
            }),
            Some(_) => Err("unexpected end of document".into()),
            None => Err("empty document".into()),
        }
    }
}

/// A character reference or one of the five predefined entities, as its text.
fn resolve_reference(r: &BytesRef<'_>) -> Result<String, String> {
    match r.resolve_char_ref() {
        Ok(Some(ch)) if is_xml_char(ch) => Ok(ch.to_string()),
        Ok(Some(_)) | Err(_) => Err(format!("invalid character reference &{};", &**r)),
        Ok(None) => resolve_predefined_entity(r)
            .map(str::to_string)
            .ok_or_else(|| format!("unknown entity &{};", &**r)),
    }
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let mut s = String::new();
        push_text(&mut s, r#"a&b<c>"d"#);
        assert_eq!(s, r#"a&amp;b&lt;c&gt;"d"#);
        s.clear();
        push_attr(&mut s, r#"x"y&"#);
        assert_eq!(s, "x&quot;y&amp;");
    }

    #[test]
    fn parses_flat_documents_with_entities() {
        let doc = parse_flat(
            "<?xml version=\"1.0\"?>\n<PortGroup>\n  <MwiOnCode>6&amp;7&#56;</MwiOnCode>\n  <MwiOffCode/>\n</PortGroup>\n",
        )
        .unwrap();
        assert_eq!(doc.root, "PortGroup");
        assert_eq!(
            doc.fields,
            vec![
                ("MwiOnCode".to_string(), "6&78".to_string()),
                ("MwiOffCode".to_string(), String::new())
            ]
        );
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "<!DOCTYPE x [<!ENTITY a 'b'>]><PortGroup><MwiOnCode>&a;</MwiOnCode></PortGroup>",
            "<PortGroup><MwiOnCode><x/></MwiOnCode></PortGroup>",
            "<PortGroup>text</PortGroup>",
            "<PortGroup><MwiOnCode>1</MwiOffCode></PortGroup>",
            "<PortGroup><MwiOnCode>1</MwiOnCode>",
            "<PortGroup/><PortGroup/>",
            "<PortGroup><MwiOnCode>&bogus;</MwiOnCode></PortGroup>",
            "<PortGroup><MwiOnCode>&#0;</MwiOnCode></PortGroup>",
            "",
        ] {
            assert!(parse_flat(bad).is_err(), "accepted {bad:?}");
        }
    }
}
