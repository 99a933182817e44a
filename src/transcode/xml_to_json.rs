//! XML → JSON, following the contract in `docs/json-mapping.md`.
//!
//! The document is first read into a small element tree, because the JSON shape of an element
//! depends on its whole content: whether a child name repeats (→ array), whether there are
//! attributes beside text (→ `"#text"`). The tree holds only names, attributes and text; the
//! JSON is then written straight into a byte buffer, never through a `serde_json::Value`.
//!
//! No DTD is ever processed: a `<!DOCTYPE` is an error, and only the five predefined entities
//! and character references are resolved, so no entity expansion can blow up or reach a file.

use std::fmt::Write as _;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::json_to_xml::is_xml_name;
use super::schema::{FieldType, Schema};

/// Elements nested deeper than this are refused: CUPI objects are three levels deep at most.
pub const MAX_DEPTH: usize = 64;

/// Why an XML body could not be transcoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the body is not valid UTF-8")]
    InvalidUtf8,
    #[error("malformed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("the document ends before element <{0}> is closed")]
    Truncated(String),
    #[error("the document has no root element")]
    NoRoot,
    #[error("the document has content after its root element")]
    TrailingContent,
    #[error("DOCTYPE and entity declarations are not accepted")]
    Doctype,
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    #[error("elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Transcodes a whole XML document to JSON bytes.
pub fn xml_to_json(xml: &[u8], schema: &Schema) -> Result<Vec<u8>, XmlError> {
    xml_to_json_counted(xml, schema).map(|(json, _)| json)
}

/// [`xml_to_json`], also counting the typed fields whose text was not of their type and was
/// kept as a string (for the `typed_fallbacks` metric).
pub fn xml_to_json_counted(xml: &[u8], schema: &Schema) -> Result<(Vec<u8>, usize), XmlError> {
    let root = parse(xml)?;
    let mut out = Vec::with_capacity(xml.len());
    let mut writer = JsonWriter {
        schema,
        out: &mut out,
        fallbacks: 0,
    };
    writer.root(&root);
    let fallbacks = writer.fallbacks;
    Ok((out, fallbacks))
}

/// One element of the parsed document: names and text only, no positions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// All text directly inside the element (entities resolved), in document order.
    pub text: String,
}

impl Element {
    fn is_list(&self) -> bool {
        self.attrs.iter().any(|(name, _)| name == "total")
    }
}

/// Reads a complete document into an [`Element`] tree.
pub(crate) fn parse(xml: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(xml).map_err(|_| XmlError::InvalidUtf8)?;
    let mut reader = Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let malformed = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| XmlError::Malformed {
        position: reader.error_position(),
        message: e.to_string(),
    };
    loop {
        let event = reader.read_event().map_err(|e| malformed(&reader, &e))?;
        match event {
            Event::Start(start) => {
                if open.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                open.push(element(&start).map_err(|e| malformed(&reader, &e))?);
            }
            Event::Empty(start) => {
                let el = element(&start).map_err(|e| malformed(&reader, &e))?;
                attach(el, &mut open, &mut root)?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the start tag.
                let el = open.pop().ok_or(XmlError::TrailingContent)?;
                attach(el, &mut open, &mut root)?;
            }
            Event::Text(t) => push_text(&mut open, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut open, &c.xml10_content())?,
            Event::GeneralRef(r) => push_text(&mut open, &resolve_reference(&r)?)?,
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(unclosed) = open.pop() {
        return Err(XmlError::Truncated(unclosed.name));
    }
    root.ok_or(XmlError::NoRoot)
}

/// Reads a start tag. quick-xml takes any bytes as a name; the XML `Name` production is checked
/// here, since a name like `@a`, `#text` or `` (all read without complaint) would collide with
/// the JSON keys of attributes and text, or could not be written back.
fn element(start: &BytesStart<'_>) -> Result<Element, String> {
    let mut el = Element {
        name: start.name().as_ref().to_owned(),
        ..Element::default()
    };
    if !is_xml_name(&el.name) {
        return Err(format!("<{}> is not an XML element name", el.name));
    }
    for attr in start.attributes() {
        let attr = attr.map_err(|e| quick_xml::Error::from(e).to_string())?;
        let name = attr.key.as_ref().to_owned();
        if !is_xml_name(&name) {
            return Err(format!(
                "{name:?} in <{}> is not an XML attribute name",
                el.name
            ));
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        el.attrs.push((name, value.into_owned()));
    }
    Ok(el)
}

fn attach(el: Element, open: &mut [Element], root: &mut Option<Element>) -> Result<(), XmlError> {
    match open.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err(XmlError::TrailingContent),
    }
    Ok(())
}

fn push_text(open: &mut [Element], text: &str) -> Result<(), XmlError> {
    match open.last_mut() {
        Some(el) => el.text.push_str(text),
        // Whitespace around the root element is formatting; anything else is not XML.
        None if text.trim().is_empty() => {}
        None => return Err(XmlError::TrailingContent),
    }
    Ok(())
}

/// Resolves `&amp;`-style predefined entities and `&#NN;` character references; nothing else.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, XmlError> {
    let name: &str = reference.as_ref();
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            _ => Err(XmlError::UnknownEntity(name.to_owned())),
        };
    }
    quick_xml::escape::resolve_predefined_entity(name)
        .map(str::to_owned)
        .ok_or_else(|| XmlError::UnknownEntity(name.to_owned()))
}

/// Writes JSON for an element tree, consulting the schema for types and arrays.
struct JsonWriter<'a> {
    schema: &'a Schema,
    out: &'a mut Vec<u8>,
    fallbacks: usize,
}

impl JsonWriter<'_> {
    /// The root element itself is dropped: a list becomes `{"@total":…, "Item":[…]}`, a single
    /// object its bare fields, and `ErrorDetails` the gateway's `{"errors":[…]}` shape.
    fn root(&mut self, root: &Element) {
        self.value(root, None);
    }

    fn value(&mut self, el: &Element, field_type: Option<FieldType>) {
        if el.attrs.is_empty() && el.children.is_empty() && !el.is_list() {
            self.scalar(&el.text, field_type);
        } else {
            self.object(el);
        }
    }

    fn object(&mut self, el: &Element) {
        let is_list = el.is_list();
        let fields = self.schema.fields_of(&el.name);
        self.out.push(b'{');
        let mut first = true;
        for (name, value) in &el.attrs {
            self.key(&mut first, "@", name);
            let attr_type = (is_list && name == "total").then_some(FieldType::Integer);
            self.scalar(value, attr_type);
        }
        let text = if el.children.is_empty() && !is_list {
            el.text.as_str()
        } else {
            // Between child elements (or inside an empty list), whitespace is indentation.
            el.text.trim()
        };
        if !text.is_empty() {
            self.key(&mut first, "", "#text");
            self.string(text);
        }
        for (name, group) in group_by_name(&el.children) {
            self.key(&mut first, "", name);
            let child_type = fields.and_then(|f| f.get(name).copied());
            if is_list || group.len() > 1 || self.schema.is_array(&el.name, name) {
                self.out.push(b'[');
                for (i, child) in group.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.value(child, child_type);
                }
                self.out.push(b']');
            } else {
                self.value(group[0], child_type);
            }
        }
        if is_list && el.children.is_empty() {
            // Zero items still give the item key, when the list is known.
            if let Some(item) = self.schema.item_of_list(&el.name) {
                self.key(&mut first, "", item);
                self.out.extend_from_slice(b"[]");
            }
        }
        self.out.push(b'}');
    }

    fn key(&mut self, first: &mut bool, prefix: &str, name: &str) {
        if !*first {
            self.out.push(b',');
        }
        *first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(prefix.as_bytes());
        escape_json_into(name, self.out);
        self.out.extend_from_slice(b"\":");
    }

    /// A typed value is written as a JSON boolean or number only when the text is exactly the
    /// canonical form, so that writing it back gives the same text; anything else stays a string.
    fn scalar(&mut self, text: &str, field_type: Option<FieldType>) {
        match field_type {
            Some(FieldType::Boolean | FieldType::Integer | FieldType::Number)
                if text.is_empty() =>
            {
                self.out.extend_from_slice(b"null")
            }
            Some(FieldType::Boolean) if text == "true" || text == "false" => {
                self.out.extend_from_slice(text.as_bytes())
            }
            Some(FieldType::Integer) if is_canonical_i64(text) => {
                self.out.extend_from_slice(text.as_bytes())
            }
            // Written as sent, so JSON → XML gives the same digits back.
            Some(FieldType::Number) if is_json_number(text) => {
                self.out.extend_from_slice(text.as_bytes())
            }
            Some(FieldType::Boolean | FieldType::Integer | FieldType::Number) => {
                self.fallbacks += 1;
                self.string(text)
            }
            _ => self.string(text),
        }
    }

    fn string(&mut self, text: &str) {
        self.out.push(b'"');
        escape_json_into(text, self.out);
        self.out.push(b'"');
    }
}

/// Children grouped by name, in order of each name's first appearance.
fn group_by_name(children: &[Element]) -> Vec<(&str, Vec<&Element>)> {
    let mut groups: Vec<(&str, Vec<&Element>)> = Vec::new();
    for child in children {
        // Repeated names are usually adjacent (list items), so look at the last group first.
        let found = match groups.last_mut() {
            Some((name, group)) if *name == child.name => {
                group.push(child);
                true
            }
            _ => false,
        };
        if !found {
            match groups.iter_mut().find(|(name, _)| *name == child.name) {
                Some((_, group)) => group.push(child),
                None => groups.push((&child.name, vec![child])),
            }
        }
    }
    groups
}

/// `-12`, `0`, `42`: no sign on zero, no `+`, no leading zeros, within `i64`.
fn is_canonical_i64(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical_digits = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    canonical_digits && text.parse::<i64>().is_ok()
}

/// RFC 8259's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// JSON string escaping per RFC 8259 (quote, backslash, control characters).
fn escape_json_into(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                let mut buf = String::with_capacity(6);
                let _ = write!(buf, "\\u{:04x}", b);
                out.extend_from_slice(buf.as_bytes());
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::HashMap;

    /// A hand-made table, so these tests do not depend on the OpenAPI document.
    fn schema() -> Schema {
        use FieldType::{Boolean, Integer};
        let mut schema = Schema::new();
        schema.add_list("Ports", "Port");
        schema.add_list("PortGroups", "PortGroup");
        let fields = |list: &[(&str, FieldType)]| -> HashMap<String, FieldType> {
            list.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect()
        };
        schema.add_object(
            "PortGroup",
            fields(&[
                ("EnableMWI", Boolean),
                ("SipDoSRTP", Boolean),
                ("PortCount", Integer),
                ("MwiRetryCountOnSuccess", Integer),
                ("ResetStatusEnum", Integer),
                ("SipTLSModeEnum", Integer),
                ("MwiOnCode", FieldType::String),
            ]),
        );
        schema
    }

    fn convert(xml: &str) -> Value {
        let bytes = xml_to_json(xml.as_bytes(), &schema()).expect("transcodes");
        serde_json::from_slice(&bytes).expect("valid JSON")
    }

    #[test]
    fn list_items_are_arrays_even_when_one_or_zero() {
        assert_eq!(
            convert(r#"<Ports total="1"><Port><ObjectId>a</ObjectId></Port></Ports>"#),
            json!({"@total": 1, "Port": [{"ObjectId": "a"}]})
        );
        assert_eq!(
            convert(r#"<Ports total="0"/>"#),
            json!({"@total": 0, "Port": []})
        );
        // Unknown list with no items: the item name cannot be known, so no key is invented.
        assert_eq!(convert(r#"<Users total="0"/>"#), json!({"@total": 0}));
        assert_eq!(
            convert(r#"<Users total="1"><User><Alias>x</Alias></User></Users>"#),
            json!({"@total": 1, "User": [{"Alias": "x"}]})
        );
    }

    #[test]
    fn known_fields_are_typed_and_fall_back_to_strings() {
        let v = convert(
            "<PortGroup><EnableMWI>true</EnableMWI><SipDoSRTP>&gt;true</SipDoSRTP>\
             <PortCount>2</PortCount><MwiRetryCountOnSuccess>007</MwiRetryCountOnSuccess>\
             <ResetStatusEnum>99999999999999999999</ResetStatusEnum><MwiOnCode>007</MwiOnCode>\
             <MwiOffCode/><SipTLSModeEnum/><NewField>true</NewField></PortGroup>",
        );
        assert_eq!(
            v,
            json!({"EnableMWI": true, "SipDoSRTP": ">true", "PortCount": 2,
                   "MwiRetryCountOnSuccess": "007", "ResetStatusEnum": "99999999999999999999",
                   "MwiOnCode": "007", "MwiOffCode": "", "SipTLSModeEnum": null,
                   "NewField": "true"})
        );
    }

    #[test]
    fn attributes_text_nesting_and_repeats() {
        assert_eq!(
            convert(r#"<A x="1"><B y="2">hi</B><C><D>d</D></C><E>1</E><E>2</E></A>"#),
            json!({"@x": "1", "B": {"@y": "2", "#text": "hi"}, "C": {"D": "d"}, "E": ["1", "2"]})
        );
    }

    #[test]
    fn errors_become_the_gateway_error_shape() {
        assert_eq!(
            convert("<ErrorDetails><errors><code>NOT_FOUND</code><message>no</message></errors></ErrorDetails>"),
            json!({"errors": [{"code": "NOT_FOUND", "message": "no"}]})
        );
    }

    #[test]
    fn entities_and_cdata_are_resolved() {
        assert_eq!(
            convert("<User><A>a &amp; b &lt;c&gt; &#233;&#x41;</A><B><![CDATA[<raw>]]></B></User>"),
            json!({"A": "a & b <c> éA", "B": "<raw>"})
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        let schema = schema();
        let err = |xml: &str| xml_to_json(xml.as_bytes(), &schema).unwrap_err();
        assert_eq!(err("<A><B>x</B>"), XmlError::Truncated("A".into()));
        assert!(matches!(err("<A></B>"), XmlError::Malformed { .. }));
        assert_eq!(err(""), XmlError::NoRoot);
        assert_eq!(err("<A/><B/>"), XmlError::TrailingContent);
        assert_eq!(err("<A>&foo;</A>"), XmlError::UnknownEntity("foo".into()));
        assert_eq!(
            err(r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#),
            XmlError::Doctype
        );
        assert_eq!(
            xml_to_json(b"<A>\xff</A>", &schema).unwrap_err(),
            XmlError::InvalidUtf8
        );
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(err(&deep), XmlError::TooDeep);
    }

    /// Found by the `xml_to_json` fuzz target: quick-xml reads these names, and they gave JSON
    /// with a key twice (`{"@a":"1","@a":"2"}`) or a root that cannot be written back.
    #[test]
    fn names_that_are_not_xml_names_are_malformed() {
        let schema = schema();
        for xml in [
            r#"< o="0"/>"#,
            r#"<Qo&#x o="0"/>"#,
            r#"<A a="1"><@a>2</@a></A>"#,
            "<A>t<#text>u</#text></A>",
            "<1a/>",
            "<a\u{1}/>",
            r#"<A @b="1"/>"#,
            r#"<A><B 1a="x"/></A>"#,
        ] {
            let result = xml_to_json(xml.as_bytes(), &schema);
            assert!(
                matches!(result, Err(XmlError::Malformed { .. })),
                "{xml}: {result:?}"
            );
        }
        assert_eq!(
            convert(r#"<a:b x:y="1" _z="2"><é.-1/></a:b>"#),
            json!({"@x:y": "1", "@_z": "2", "é.-1": ""})
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            convert("<User><A>\"q\" \\ \t&#1;</A></User>"),
            json!({"A": "\"q\" \\ \t\u{1}"})
        );
    }

    #[test]
    fn json_numbers_only() {
        for ok in [
            "0",
            "-1",
            "1.5",
            "10e3",
            "-0.25E-2",
            "12345678901234567890.5",
        ] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "+1", "NaN", "1,5", " 1"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }

    #[test]
    fn canonical_integers_only() {
        for ok in ["0", "7", "-7", "9223372036854775807"] {
            assert!(is_canonical_i64(ok), "{ok}");
        }
        for bad in [
            "",
            "-",
            "+7",
            "07",
            "-0",
            "1.0",
            "9223372036854775808",
            " 7",
        ] {
            assert!(!is_canonical_i64(bad), "{bad}");
        }
    }
}
