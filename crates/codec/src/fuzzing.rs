//! The properties the fuzz targets (`fuzz/`) and their proptest twins
//! (`tests/integration/fuzz_properties.rs`) check, written once; behind the `fuzzing` feature.
//!
//! Each `check_*` function runs the code under test on one input and returns `Err` with a
//! readable message when a property fails; a panic inside the code under test propagates, so
//! "does not panic" is checked too. Rejecting an input is never a failure by itself.
//!
//! The oracles are written apart from the code they check: the XML checker and the key check
//! use quick-xml (as the transcoder does) and the crate's `is_xml_name` (the XML `Name`
//! production, tested on its own), nothing else of the transcoder.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use cupi_uri::PathTemplate;
use quick_xml::events::{BytesRef, BytesStart, Event};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::{
    is_xml_name, json_to_xml, stream_xml_to_json, whole_xml_to_json, xml_to_json, FieldType,
    JsonError, JsonStyle, Schema, XmlError,
};

/// A table with every kind of rule the gateway's has (lists, always-arrays, each field type,
/// roots by path), for fuzz targets that cannot load the gateway's OpenAPI document. The
/// proptest twins run with the gateway's own table as well.
pub fn sample_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = Schema::new();
        schema.add_list("PortGroups", "PortGroup");
        schema.add_list("Ports", "Port");
        let typed = |fields: &[(&str, FieldType)]| {
            fields
                .iter()
                .map(|&(name, t)| (name.to_owned(), t))
                .collect::<HashMap<_, _>>()
        };
        schema.add_object(
            "PortGroup",
            typed(&[
                ("EnableMWI", FieldType::Boolean),
                ("MwiRetryCountOnSuccess", FieldType::Integer),
                ("DelayBeforeOpeningMs", FieldType::Number),
                ("MwiOnCode", FieldType::String),
            ]),
        );
        schema.add_object("Port", typed(&[("PortNumInGroup", FieldType::Integer)]));
        schema.add_root(
            PathTemplate::parse("/vmrest/portgroups/{objectId}"),
            "PortGroup",
        );
        schema.add_root(PathTemplate::parse("/vmrest/ports/{objectId}"), "Port");
        schema
    })
}

/// The roots `json_to_xml` is tried with: a resource the gateway does not know (the body names
/// its root) and one it does (the body may or may not be wrapped in the root's key).
pub const JSON_ROOTS: [Option<&str>; 2] = [None, Some("PortGroup")];

/// XML → JSON on any bytes. When the transcoder accepts them, its output
///
/// - is JSON, with no key twice in one object (a client's parser would silently drop one);
/// - is an object (an element with attributes or children) or a string (a bare leaf root);
/// - has only keys of the mapping's three kinds: `#text`, `@` + an XML name, an XML name;
/// - survives the way back: JSON → XML with the same root gives XML that reads back to the very
///   same JSON (skipped for the wrapped-form look-alike `docs/json-mapping.md` names). The way
///   back may refuse a character the lenient reader let through (`&#1;`), nothing else.
pub fn check_xml_to_json(xml: &[u8], schema: &Schema) -> Result<(), String> {
    // The whole and the streamed reader agree, without a limit and within one that cuts
    // most documents (each object's allowance, kept alike to the byte).
    for limit in [u64::MAX, xml.len() as u64 / 2] {
        let mut whole = Vec::new();
        let whole =
            whole_xml_to_json(xml, schema, JsonStyle::Typed, limit, &mut whole).map(|_| whole);
        let streamed = streamed_xml_to_json(xml, schema, limit);
        if streamed != whole {
            let xml = lossy(xml);
            return Err(format!(
                "XML {xml:?} within {limit} bytes gave {whole:?} whole but {streamed:?} streamed"
            ));
        }
    }
    // List items read flat give what the tree gives them, in both styles, errors alike, and
    // count the same values kept as strings.
    for style in [JsonStyle::Typed, JsonStyle::Cupi] {
        for limit in [u64::MAX, xml.len() as u64 / 2] {
            let mut flat = Vec::new();
            let flat = whole_xml_to_json(xml, schema, style, limit, &mut flat).map(|n| (flat, n));
            let by_tree = crate::xml_to_json::xml_to_json_by_tree(xml, schema, style, limit);
            if flat != by_tree {
                let xml = lossy(xml);
                let show = |(json, n): &(Vec<u8>, usize)| (lossy(json).into_owned(), *n);
                let (flat, by_tree) = (flat.as_ref().map(show), by_tree.as_ref().map(show));
                return Err(format!(
                    "XML {xml:?} ({style:?}, within {limit} bytes) gave {flat:?}, but read \
                     into trees alone {by_tree:?} (JSON, values kept as strings)"
                ));
            }
        }
    }
    let whole = xml_to_json(xml, schema);
    let Ok(json) = whole else {
        return Ok(());
    };
    let show = || format!("XML {:?} gave JSON {:?}", lossy(xml), lossy(&json));
    let value = json_without_duplicate_keys(&json).map_err(|e| format!("{}: {e}", show()))?;
    match &value {
        Value::Object(_) => {}
        Value::String(_) => return Ok(()),
        other => return Err(format!("{}: top level is {other}", show())),
    }
    check_keys(&value, "").map_err(|e| format!("{}: {e}", show()))?;
    let root = first_element_name(xml).ok_or_else(|| format!("{}: no root element", show()))?;
    check_fixpoint(&json, &value, &root, schema, Strictness::Lenient)
        .map_err(|e| format!("{}: {e}", show()))
}

/// [`xml_to_json`] read as a stream in chunks of 7 bytes (so that tokens straddle them),
/// each object within `limit` bytes, the JSON of all the flushes together.
fn streamed_xml_to_json(xml: &[u8], schema: &Schema, limit: u64) -> Result<Vec<u8>, XmlError> {
    let input = std::io::BufReader::with_capacity(7, xml);
    let (mut json, mut all) = (Vec::new(), Vec::new());
    let typed = JsonStyle::Typed;
    stream_xml_to_json(input, schema, typed, limit, &mut json, |json, _| {
        all.append(json);
        true
    })?;
    Ok(all)
}

/// JSON → XML on any bytes, with each of [`JSON_ROOTS`].
///
/// - A body refused as a syntax error does not parse; one refused for a duplicate key parses
///   and has one (the client is told what is really wrong); an accepted one parses and has none.
/// - When accepted, the output is well-formed XML (see [`check_well_formed`]) with the expected
///   root, and reads back to JSON that is a fixed point of the round trip: JSON → XML → JSON
///   gives it again.
pub fn check_json_to_xml(json: &[u8], schema: &Schema) -> Result<(), String> {
    let parses = serde_json::from_slice::<Value>(json).is_ok();
    let unique_keys = json_without_duplicate_keys(json).is_ok();
    for root in JSON_ROOTS {
        let show_input = || format!("JSON {:?} with root {root:?}", lossy(json));
        let xml = match json_to_xml(json, root, usize::MAX) {
            Err(JsonError::Syntax(e)) if parses => {
                return Err(format!(
                    "{} parses, but is refused as not JSON: {e}",
                    show_input()
                ))
            }
            Err(e @ JsonError::DuplicateKey { .. }) if !parses || unique_keys => {
                return Err(format!("{}: wrongly refused: {e}", show_input()))
            }
            Err(_) => continue,
            Ok(xml) => xml,
        };
        let show = || format!("{} gave XML {:?}", show_input(), lossy(&xml));
        if !unique_keys {
            return Err(format!(
                "{}, but the input is not JSON with unique keys",
                show()
            ));
        }
        let root_name = check_well_formed(&xml).map_err(|e| format!("{}: {e}", show()))?;
        if let Some(root) = root {
            if root_name != root {
                return Err(format!("{}: root element is <{root_name}>", show()));
            }
        }
        let back = xml_to_json(&xml, schema)
            .map_err(|e| format!("{}: the gateway cannot read it back: {e}", show()))?;
        let value = json_without_duplicate_keys(&back).map_err(|e| format!("{}: {e}", show()))?;
        check_fixpoint(&back, &value, &root_name, schema, Strictness::Strict)
            .map_err(|e| format!("{}, read back as {:?}: {e}", show(), lossy(&back)))?;
    }
    Ok(())
}

/// Checks that `xml` is a well-formed XML 1.0 document as the gateway writes them, and returns
/// its root element's name: UTF-8; only XML `Char`s, also through character references; a
/// declaration at most at the start; no DOCTYPE, processing instruction or unknown entity;
/// element and attribute names that are XML names; no attribute twice; end tags matching start
/// tags; exactly one root element, with nothing but whitespace around it.
pub fn check_well_formed(xml: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("not UTF-8: {e}"))?;
    if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
        return Err(format!("U+{:04X} is not an XML character", c as u32));
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let mut first = true;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        let was_first = std::mem::replace(&mut first, false);
        match event {
            Event::Decl(_) if was_first => {}
            Event::Decl(_) => return Err("an XML declaration after the start".into()),
            Event::DocType(_) => return Err("a DOCTYPE".into()),
            Event::PI(_) => return Err("a processing instruction".into()),
            Event::Start(ref start) | Event::Empty(ref start) => {
                let name = check_start_tag(start)?;
                if open.is_empty() {
                    if root.is_some() {
                        return Err(format!("a second root element <{name}>"));
                    }
                    root = Some(name.clone());
                }
                if matches!(event, Event::Start(_)) {
                    open.push(name);
                }
            }
            Event::End(end) => {
                let name = end.name().as_ref().to_owned();
                if open.pop().as_deref() != Some(name.as_str()) {
                    return Err(format!("</{name}> closes nothing open"));
                }
            }
            Event::Text(t) => {
                if open.is_empty() && !t.xml10_content().trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::CData(_) if open.is_empty() => return Err("CDATA outside the root".into()),
            Event::CData(_) | Event::Comment(_) => {}
            Event::GeneralRef(_) if open.is_empty() => {
                return Err("a reference outside the root element".into())
            }
            Event::GeneralRef(r) => check_reference(&r)?,
            Event::Eof => break,
        }
    }
    if let Some(name) = open.pop() {
        return Err(format!("<{name}> is never closed"));
    }
    root.ok_or_else(|| "no root element".into())
}

/// An element's start tag: its name, and its attributes' names and values. Returns the name.
fn check_start_tag(start: &BytesStart<'_>) -> Result<String, String> {
    let name = start.name().as_ref().to_owned();
    if !is_xml_name(&name) {
        return Err(format!("<{name}> is not an XML name"));
    }
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("in <{name}>: {e}"))?;
        let key = attr.key.as_ref();
        if !is_xml_name(key) {
            return Err(format!("attribute {key:?} is not an XML name"));
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("attribute {key:?}: {e}"))?;
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(format!("attribute {key:?} holds U+{:04X}", c as u32));
        }
    }
    Ok(name)
}

/// A reference inside the root: a predefined entity, or a character reference to a `Char`.
fn check_reference(r: &BytesRef<'_>) -> Result<(), String> {
    let name: &str = r.as_ref();
    let resolved = match r.resolve_char_ref() {
        Ok(Some(c)) => is_xml_char(c),
        Ok(None) => quick_xml::escape::resolve_predefined_entity(name).is_some(),
        Err(_) => false,
    };
    if !resolved {
        return Err(format!(
            "&{name}; is not a predefined entity or XML character"
        ));
    }
    Ok(())
}

/// The `Char` production of XML 1.0.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// How much the way back may refuse.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// The XML came from anywhere: quick-xml reads characters XML forbids (`&#1;`), which the
    /// JSON → XML side then refuses, rightly.
    Lenient,
    /// The XML came from `json_to_xml`: everything in it can be written again.
    Strict,
}

/// JSON that `xml_to_json` wrote, as an object, goes back to XML under `root` and reads back
/// to the same bytes.
fn check_fixpoint(
    json: &[u8],
    value: &Value,
    root: &str,
    schema: &Schema,
    strictness: Strictness,
) -> Result<(), String> {
    let Value::Object(fields) = value else {
        return Ok(()); // a bare leaf root has no JSON object form to send back
    };
    if fields.len() == 1 && fields.get(root).is_some_and(Value::is_object) {
        return Ok(()); // read as the wrapped form, as docs/json-mapping.md says
    }
    let xml = match json_to_xml(json, Some(root), usize::MAX) {
        Ok(xml) => xml,
        Err(JsonError::InvalidChar { .. }) if strictness == Strictness::Lenient => return Ok(()),
        Err(e) => return Err(format!("JSON → XML under <{root}> refuses it: {e}")),
    };
    check_well_formed(&xml).map_err(|e| format!("JSON → XML gave {:?}: {e}", lossy(&xml)))?;
    let again = xml_to_json(&xml, schema)
        .map_err(|e| format!("JSON → XML gave {:?}, unreadable: {e}", lossy(&xml)))?;
    if again != json {
        return Err(format!(
            "JSON → XML → JSON is not a fixed point: {:?} → {:?}",
            lossy(&xml),
            lossy(&again)
        ));
    }
    Ok(())
}

/// Keys are `#text`, `@` + an XML name, or an XML name, all the way down.
fn check_keys(value: &Value, pointer: &str) -> Result<(), String> {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                let name = key.strip_prefix('@').unwrap_or(key);
                if key != "#text" && !is_xml_name(name) {
                    return Err(format!("key {key:?} at {pointer:?} is not of the mapping"));
                }
                check_keys(child, &format!("{pointer}/{key}"))?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.is_array() {
                    return Err(format!("an array inside an array at {pointer}/{i}"));
                }
                check_keys(item, &format!("{pointer}/{i}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The name of the first element of a document, by a plain quick-xml scan.
fn first_element_name(xml: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) => return Some(e.name().as_ref().to_owned()),
            Event::Eof => return None,
            _ => buf.clear(),
        }
    }
}

/// Parses JSON, refusing a key that occurs twice in one object (serde_json keeps the last).
pub fn json_without_duplicate_keys(json: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(json);
    NoDuplicates::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| format!("not JSON without duplicate keys: {e}"))?;
    serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))
}

/// A JSON value walked only to see that no object repeats a key.
struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<NoDuplicates>()?;
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(NoDuplicates)
    }
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xml_checker_refuses_what_is_not_well_formed() {
        let root = check_well_formed(br#"<?xml version="1.0"?><A b="&#9;">x&amp;&#65;</A>"#);
        assert_eq!(root.as_deref(), Ok("A"));
        for bad in [
            "",
            "<A>",
            "<A></B>",
            "<A/><B/>",
            "x<A/>",
            "<!DOCTYPE A><A/>",
            "<A>&foo;</A>",
            "<A>&#1;</A>",
            "<A>\u{1}</A>",
            "<@A/>",
            "<A a='1' a='2'/>",
            "<A/><?xml version='1.0'?>",
        ] {
            assert!(check_well_formed(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_are_seen_at_any_depth() {
        assert!(json_without_duplicate_keys(br#"{"a":[{"b":1,"c":2}],"d":1.5}"#).is_ok());
        assert!(json_without_duplicate_keys(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        assert!(json_without_duplicate_keys(br#"{"a":1} x"#).is_err());
    }
}
