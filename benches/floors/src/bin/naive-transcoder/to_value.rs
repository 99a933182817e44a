//! XML to an untyped `serde_json::Value`, the common quick way: an element is an object of
//! its attributes and child elements, or a string when it has neither; a name that repeats
//! becomes an array; every value is a string, whatever it spells.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use cupi_floors::Error;

/// An element being read: its name, its attributes and children so far, its text.
#[derive(Default)]
struct Open {
    name: String,
    fields: Map<String, Value>,
    text: String,
}

impl Open {
    fn new(start: &BytesStart<'_>) -> Result<Self, Error> {
        let mut fields = Map::new();
        for attribute in start.attributes() {
            let attribute = attribute?;
            let value = attribute.normalized_value(XmlVersion::Implicit1_0)?;
            fields.insert(attribute.key.as_ref().to_owned(), value.into_owned().into());
        }
        let name = start.name().as_ref().to_owned();
        Ok(Open {
            name,
            fields,
            text: String::new(),
        })
    }

    /// What the element becomes in its parent: its text alone, or an object (with the text,
    /// if any is more than white space, under `#text`).
    fn into_value(mut self) -> Value {
        if self.fields.is_empty() {
            return Value::String(self.text);
        }
        if !self.text.trim().is_empty() {
            self.fields
                .insert("#text".to_owned(), Value::String(self.text));
        }
        Value::Object(self.fields)
    }

    fn add(&mut self, child: Open) {
        let name = child.name.clone();
        let value = child.into_value();
        match self.fields.entry(name) {
            Entry::Vacant(entry) => {
                entry.insert(value);
            }
            Entry::Occupied(mut entry) => match entry.get_mut() {
                Value::Array(items) => items.push(value),
                first => *first = Value::Array(vec![first.take(), value]),
            },
        }
    }
}

/// The document as `{"RootName": …}`.
pub(crate) fn to_value(xml: &[u8]) -> Result<Value, Error> {
    let mut reader = Reader::from_reader(xml);
    let mut open = vec![Open::default()]; // holds the document element
    loop {
        let top = open.len() - 1;
        match reader.read_event()? {
            Event::Start(start) => open.push(Open::new(&start)?),
            Event::Empty(start) => open[top].add(Open::new(&start)?),
            Event::End(_) if top > 0 => {
                let done = open.pop().ok_or("unbalanced")?;
                open[top - 1].add(done);
            }
            Event::Text(text) => open[top].text.push_str(&text.xml10_content()),
            Event::CData(text) => open[top].text.push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                let name: &str = reference.as_ref();
                let resolved = match reference.resolve_char_ref()? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(name)
                        .ok_or("unknown entity")?
                        .to_owned(),
                };
                open[top].text.push_str(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let document = open
        .pop()
        .filter(|_| open.is_empty())
        .ok_or("truncated XML")?;
    Ok(Value::Object(document.fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_attributes_repeats_and_text_are_strings() {
        let xml = br#"<?xml version="1.0"?><Ports total="2"><Port><Id>1</Id><On>true</On></Port><Port><Id>&#50;&amp;</Id><Empty/></Port></Ports>"#;
        let expected = serde_json::json!({"Ports": {"total": "2", "Port": [
            {"Id": "1", "On": "true"},
            {"Id": "2&", "Empty": ""},
        ]}});
        assert_eq!(to_value(xml).unwrap(), expected);
    }

    #[test]
    fn text_beside_children_is_kept_and_broken_xml_refused() {
        let value = to_value(b"<a>x<b>y</b></a>").unwrap();
        assert_eq!(value, serde_json::json!({"a": {"b": "y", "#text": "x"}}));
        assert!(to_value(b"<a><b></a>").is_err());
        assert!(to_value(b"<a>").is_err());
    }
}
