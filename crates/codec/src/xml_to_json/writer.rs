//! Writes JSON for one [`Tree`], consulting the schema for types and arrays. The JSON goes
//! straight into a byte buffer, never through a `serde_json::Value`.
//!
//! One writer serves both JSON styles ([`JsonStyle`]): the typed contract, and CUPI's own JSON
//! mode, where every value is a string and only repetition makes an array. The difference is
//! one boolean test per value and per child group, so the typed hot path keeps its speed.

use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Write as _;
use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use super::tree::{NodeId, Tree, NONE};
use super::JsonStyle;
use crate::scan::Needles;
use crate::{FieldType, Schema};

/// Distinct child names of one element past which they are indexed rather than searched.
const MANY_NAMES: usize = 64;

pub(super) struct JsonWriter<'a> {
    pub schema: &'a Schema,
    /// CUPI's own JSON mode ([`JsonStyle::Cupi`]): strings only, lists not always arrays.
    pub cupi: bool,
    /// Typed fields whose text was not of their type and was kept as a string.
    pub fallbacks: usize,
    /// Reused for grouping children by name.
    groups: Vec<Group>,
    /// For each node of the tree, the next sibling of the same name ([`NONE`] for the last):
    /// each group's members are walked through it, in document order, so writing a group
    /// costs its own members and not a search of all its siblings.
    next_of_name: Vec<NodeId>,
}

/// The children of one element that share a name.
#[derive(Clone, Copy)]
struct Group {
    /// The name's hash, to compare names cheaply while grouping.
    hash: u64,
    first: NodeId,
    last: NodeId,
    count: usize,
}

impl Group {
    /// Adds `child`, the group's newest member, to the end of its chain.
    fn join(&mut self, child: NodeId, next_of_name: &mut [NodeId]) {
        next_of_name[self.last] = child;
        next_of_name[child] = NONE;
        self.last = child;
        self.count += 1;
    }
}

impl<'a> JsonWriter<'a> {
    pub(super) fn new(schema: &'a Schema, style: JsonStyle) -> Self {
        JsonWriter {
            schema,
            cupi: style == JsonStyle::Cupi,
            fallbacks: 0,
            groups: Vec::new(),
            next_of_name: Vec::new(),
        }
    }

    /// An element as a JSON value: a scalar when it has only text, an object otherwise.
    pub(super) fn value(
        &mut self,
        out: &mut Vec<u8>,
        tree: &Tree,
        id: NodeId,
        ty: Option<FieldType>,
    ) {
        if !tree.has_attrs(id) && !tree.has_children(id) {
            self.scalar(out, &tree.text(id), ty);
        } else {
            self.object(out, tree, id);
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, tree: &Tree, id: NodeId) {
        let is_list = tree.is_list(id);
        let name = tree.name(id);
        let fields = self.schema.fields_of(name);
        let arrays = self.schema.arrays_of(name);
        let mut first = true;
        out.push(b'{');
        self.attributes(out, &mut first, tree, id);
        let own_text = tree.text(id);
        let text = if !tree.has_children(id) && !is_list {
            &own_text[..]
        } else {
            // Between child elements (or inside an empty list), whitespace is indentation.
            own_text.trim()
        };
        if !text.is_empty() {
            key(out, &mut first, "", "#text");
            string(out, text);
        }
        let groups = self.group_children(tree, id);
        for &Group {
            first: head, count, ..
        } in &groups
        {
            let child = tree.name(head);
            key(out, &mut first, "", child);
            let child_type = fields.and_then(|f| f.get(child).copied());
            let declared = || arrays.is_some_and(|a| a.contains(child));
            // CUPI's mode: a list's items are an array only when they repeat; arrays the
            // document declares elsewhere (the error shape's `errors`) stay arrays.
            let is_array = count > 1
                || if self.cupi {
                    !is_list && declared()
                } else {
                    is_list || declared()
                };
            if is_array {
                out.push(b'[');
                let mut member = head;
                while member != NONE {
                    if member != head {
                        out.push(b',');
                    }
                    self.value(out, tree, member, child_type);
                    member = self.next_of_name[member];
                }
                out.push(b']');
            } else {
                self.value(out, tree, head, child_type);
            }
        }
        self.groups = groups;
        if is_list && !tree.has_children(id) && !self.cupi {
            // Zero items still give the item key, when the list is known (not in CUPI's mode).
            if let Some(item) = self.schema.item_of_list(name) {
                schema_key(out, &mut first, item);
                out.extend_from_slice(b"[]");
            }
        }
        out.push(b'}');
    }

    /// `"@name": value` for each attribute; a list's `total` is an integer (a string in CUPI's
    /// mode, as every value is). An element with a `total` attribute is a list by definition
    /// ([`Tree::is_list`]), so the name alone decides.
    pub(super) fn attributes(
        &mut self,
        out: &mut Vec<u8>,
        first: &mut bool,
        tree: &Tree,
        id: NodeId,
    ) {
        for (name, value) in tree.attrs(id) {
            key(out, first, "@", name);
            let ty = (name == "total").then_some(FieldType::Integer);
            self.scalar(out, value, ty);
        }
    }

    /// Children grouped by name, in order of each name's first appearance, each group's
    /// members chained through [`Self::next_of_name`]. Repeated names are almost always
    /// adjacent (list items); others are found by comparing name hashes, which costs no
    /// allocation (this runs for every object of a list). Past [`MANY_NAMES`] distinct names,
    /// a seeded index takes over: the search is linear, and the names may be a client's (an
    /// XML request body is read to validate it), who could send thousands.
    fn group_children<'t>(&mut self, tree: &'t Tree, id: NodeId) -> Vec<Group> {
        let mut groups = std::mem::take(&mut self.groups);
        groups.clear();
        if self.next_of_name.len() < tree.len() {
            self.next_of_name.resize(tree.len(), NONE);
        }
        let next_of_name = &mut self.next_of_name;
        // One bit per name hash seen: a clear bit means a new name, with no search.
        let mut seen = 0u128;
        let mut index: Option<HashMap<&'t str, usize>> = None;
        for child in tree.children(id) {
            let name = tree.name(child);
            if let Some(last) = groups.last_mut() {
                if tree.name(last.first) == name {
                    last.join(child, next_of_name);
                    continue;
                }
            }
            let hash = match &index {
                Some(_) => 0,
                None => FxBuildHasher.hash_one(name),
            };
            let earlier = match &mut index {
                Some(index) => match index.entry(name) {
                    Entry::Occupied(group) => Some(*group.get()),
                    Entry::Vacant(slot) => {
                        slot.insert(groups.len());
                        None
                    }
                },
                None => {
                    let bit = 1u128 << (hash >> 57);
                    if seen & bit == 0 {
                        seen |= bit;
                        None
                    } else {
                        groups
                            .iter()
                            .position(|g| g.hash == hash && tree.name(g.first) == name)
                    }
                }
            };
            match earlier {
                Some(group) => groups[group].join(child, next_of_name),
                None => {
                    next_of_name[child] = NONE;
                    groups.push(Group {
                        hash,
                        first: child,
                        last: child,
                        count: 1,
                    });
                }
            }
            if index.is_none() && groups.len() > MANY_NAMES {
                let by_name = groups.iter().enumerate();
                index = Some(by_name.map(|(i, g)| (tree.name(g.first), i)).collect());
            }
        }
        groups
    }

    /// A typed value is written as a JSON boolean or number only when the text is exactly the
    /// canonical form, so that writing it back gives the same text; anything else stays a string.
    /// In CUPI's mode every value is a string, `""` for an empty element.
    pub(super) fn scalar(&mut self, out: &mut Vec<u8>, text: &str, ty: Option<FieldType>) {
        self.scalar_text(out, Text::Any(text), ty);
    }

    /// [`JsonWriter::scalar`] of a text that may be known to need no escape.
    pub(super) fn scalar_text(&mut self, out: &mut Vec<u8>, text: Text<'_>, ty: Option<FieldType>) {
        let string = |out: &mut Vec<u8>| match text {
            Text::Plain(plain) => {
                out.push(b'"');
                out.extend_from_slice(plain.as_bytes());
                out.push(b'"');
            }
            Text::Any(text) => string(out, text),
        };
        if self.cupi {
            return string(out);
        }
        let text = text.as_str();
        match ty {
            Some(FieldType::Boolean | FieldType::Integer | FieldType::Number)
                if text.is_empty() =>
            {
                out.extend_from_slice(b"null")
            }
            Some(FieldType::Boolean) if text == "true" || text == "false" => {
                out.extend_from_slice(text.as_bytes())
            }
            Some(FieldType::Integer) if is_canonical_i64(text) => {
                out.extend_from_slice(text.as_bytes())
            }
            // Written as sent, so JSON → XML gives the same digits back.
            Some(FieldType::Number) if is_json_number(text) => {
                out.extend_from_slice(text.as_bytes())
            }
            Some(FieldType::Boolean | FieldType::Integer | FieldType::Number) => {
                self.fallbacks += 1;
                string(out)
            }
            _ => string(out),
        }
    }
}

/// A value's text, and whether it is known to hold nothing a JSON string escapes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Text<'t> {
    /// No `"`, `\\` or control character: copied into the string as it is.
    Plain(&'t str),
    Any(&'t str),
}

impl<'t> Text<'t> {
    fn as_str(self) -> &'t str {
        match self {
            Text::Plain(text) | Text::Any(text) => text,
        }
    }
}

/// `"prefix+name":`, after a comma unless it is the object's first key. `name` is one the
/// tree read, so an XML name (checked as it was read), or `#text`: neither holds a character
/// JSON escapes, so it is copied as it is.
pub(super) fn key(out: &mut Vec<u8>, first: &mut bool, prefix: &str, name: &str) {
    debug_assert!(name == "#text" || crate::is_xml_name(name), "{name:?}");
    comma(out, first);
    out.push(b'"');
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `"name":` for a name the schema gives (a known list's item, when it has none): escaped,
/// since an operator's OpenAPI document may name anything.
pub(super) fn schema_key(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    comma(out, first);
    string(out, name);
    out.push(b':');
}

fn comma(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

pub(super) fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    escape_json_into(text, out);
    out.push(b'"');
}
/// `-12`, `0`, `42`: no sign on zero, no `+`, no leading zeros, within `i64`.
pub(super) fn is_canonical_i64(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical_digits = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    canonical_digits && text.parse::<i64>().is_ok()
}

/// RFC 8259's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(super) fn is_json_number(text: &str) -> bool {
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
    // Most CUPI text needs no escape: find the next byte that does, copy runs whole.
    while let Some(i) = JSON_ESCAPES.find(bytes, start) {
        out.extend_from_slice(&bytes[start..i]);
        match bytes[i] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            control => {
                let mut buf = String::with_capacity(6);
                let _ = write!(buf, "\\u{control:04x}");
                out.extend_from_slice(buf.as_bytes());
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Bytes JSON strings cannot hold as they are: `"`, `\\` and the C0 controls.
const JSON_ESCAPES: Needles = Needles::new(0x20, [b'"', b'\\']);

#[cfg(test)]
mod tests {
    use super::super::tests::{convert, convert_cupi};
    use super::*;
    use serde_json::{json, Value};

    /// Past 64 distinct child names the grouping switches from a search to an index; the
    /// result is the same: each name once, where it first appeared, repeats as one array.
    #[test]
    fn many_distinct_children_group_like_few() {
        let names: Vec<String> = (0..80).map(|i| format!("a{i}")).collect();
        let mut xml = String::from("<X>");
        for name in &names {
            xml.push_str(&format!("<{name}>{name}</{name}>"));
        }
        xml.push_str("<a3>again</a3><a79>again</a79><a0>again</a0></X>");
        let mut want = serde_json::Map::new();
        for name in &names {
            want.insert(name.clone(), json!(name));
        }
        for name in ["a3", "a79", "a0"] {
            want.insert(name.into(), json!([name, "again"]));
        }
        let got = convert(&xml);
        assert_eq!(got, Value::Object(want));
        let order: Vec<&String> = got.as_object().unwrap().keys().collect();
        assert_eq!(
            order,
            names.iter().collect::<Vec<_>>(),
            "first-appearance order"
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
        // A name that comes back after others joins its first group, in document order.
        let many: String = (0..40).map(|i| format!("<F{i}>{i}</F{i}>")).collect();
        let json = convert(&format!("<A><E>1</E>{many}<E>2</E></A>"));
        assert_eq!(json["E"], json!(["1", "2"]));
        assert_eq!(json["F39"], "39");
        assert_eq!(json.as_object().unwrap().len(), 41);
    }

    #[test]
    fn cupi_style_values_are_strings_and_repeats_alone_make_arrays() {
        assert_eq!(
            convert_cupi(
                "<PortGroup><EnableMWI>true</EnableMWI><PortCount>2</PortCount>\
                 <SipTLSModeEnum/><MwiOnCode/><N><C>c</C></N><E>1</E><E>2</E></PortGroup>"
            ),
            r#"{"EnableMWI":"true","PortCount":"2","SipTLSModeEnum":"","MwiOnCode":"","N":{"C":"c"},"E":["1","2"]}"#
        );
        // A list inside an object follows the same rule as a list at the top.
        assert_eq!(
            convert_cupi(r#"<A><Ports total="1"><Port>p</Port></Ports><Ports2 total="0"/></A>"#),
            r#"{"Ports":{"@total":"1","Port":"p"},"Ports2":{"@total":"0"}}"#
        );
        // Errors keep the one error shape in both styles.
        assert_eq!(
            convert_cupi(
                "<ErrorDetails><errors><code>NOT_FOUND</code><message>no</message></errors></ErrorDetails>"
            ),
            r#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#
        );
    }

    /// Names the tree read are XML names and go out as they are; a name from the schema (an
    /// operator's OpenAPI document) may be anything, and is escaped.
    #[test]
    fn a_schema_item_name_is_escaped_when_it_is_a_key() {
        let mut schema = crate::Schema::new();
        schema.add_list("L", "it\"em");
        let json = crate::xml_to_json(br#"<L total="0"/>"#, &schema).unwrap();
        assert_eq!(json, br#"{"@total":0,"it\"em":[]}"#);
        let inner = crate::xml_to_json(br#"<A><L total="0"/></A>"#, &schema).unwrap();
        assert_eq!(inner, br#"{"L":{"@total":0,"it\"em":[]}}"#);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            convert("<User><A>\"q\" \\ \t&#13;</A></User>"),
            json!({"A": "\"q\" \\ \t\r"})
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
