//! A CUPI list streamed item by item: `{"@total":N,"Item":[…]}`, each item's JSON handed on
//! before the next item is read.
//!
//! [`ListWriter`] owns what a stream must remember between items: which name's array is open,
//! the names already done (a name that comes back cannot rejoin its array without the whole
//! list in memory), the text directly inside the list (only known once the items are out),
//! and in CUPI's mode the first item of a name, held back until a second one shows whether it
//! is an array or the bare object.

use std::collections::HashSet;

use quick_xml::events::Event;

use super::flat::{FlatItems, Read};
use super::source::Events;
use super::tree::{event_text, resolve_reference, NodeId, Tree};
use super::writer::{key, schema_key, string, JsonWriter};
use super::{open_root, Document, XmlError};
use crate::{FieldType, Schema};

impl<E: Events> Document<'_, E> {
    /// A list, item by item: `{"@total":N,"Item":[…]}` with each item flushed as it is done.
    /// In CUPI's mode a single item is written bare, `{"@total":"1","Item":{…}}`.
    pub(super) fn list(
        &mut self,
        root: NodeId,
        out: &mut Vec<u8>,
        flush: &mut impl FnMut(&mut Vec<u8>, u64) -> bool,
    ) -> Result<(), XmlError> {
        // The list element stays in its own tree while item trees come and go. Items read
        // flat leave theirs holding just the item's element: it grows only for one that is not.
        let mut list = std::mem::take(&mut self.tree);
        let list_name = list.name(root).to_owned();
        let schema = self.writer.schema;
        let fields = schema.fields_of(&list_name);
        let mut items = ListWriter::open(out, &mut self.writer, &list, root);
        let mut flat = FlatItems::sized_for_an_item();
        while let Some((item, is_empty)) = self.next_item(&list_name, &mut items)? {
            let read = match (is_empty, self.flat_items) {
                (false, true) => {
                    let Document {
                        events,
                        tree,
                        budget,
                        writer,
                        ..
                    } = self;
                    flat.read(item, events, tree, budget, writer)?
                }
                (false, false) => {
                    self.read_content(item, 2)?;
                    Read::Tree
                }
                (true, _) => Read::Tree,
            };
            let name = self.tree.name(item);
            match read {
                Read::Flat => items.item_json(out, name, &flat.json)?,
                Read::Tree => {
                    let ty = fields.and_then(|f| f.get(name).copied());
                    items.item(out, &mut self.writer, &self.tree, item, ty)?;
                }
            }
            if !flush(out, self.events.position()) {
                return Err(XmlError::Abandoned);
            }
        }
        items.close(out, schema, &list_name);
        list.clear();
        Ok(())
    }

    /// Reads up to the next item's start tag, keeping the text on the way, and opens the
    /// item in a fresh tree: (its node, whether it is `<empty/>`); `None` at the list's end
    /// tag.
    fn next_item(
        &mut self,
        list_name: &str,
        items: &mut ListWriter,
    ) -> Result<Option<(NodeId, bool)>, XmlError> {
        loop {
            // Each item, and each token between items, has an allowance of its own; the text
            // kept from between items is bounded here.
            self.events.restart();
            items.check_text(self.max_object_bytes)?;
            let Document {
                events,
                tree,
                budget,
                event_start,
                ..
            } = self;
            *event_start = events.position();
            let (start, is_empty) = match events.next_event()? {
                Event::Start(start) => (start, false),
                Event::Empty(start) => (start, true),
                Event::End(_) => return Ok(None),
                Event::Text(t) => {
                    items.push_text(&event_text(&t, || t.xml10_content())?);
                    continue;
                }
                Event::CData(c) => {
                    items.push_text(&event_text(&c, || c.xml10_content())?);
                    continue;
                }
                Event::GeneralRef(r) => {
                    items.push_text(&resolve_reference(&r)?);
                    continue;
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
                Event::Eof => return Err(XmlError::Truncated(list_name.to_owned())),
            };
            return Ok(Some((
                open_root(tree, budget, &start, *event_start)?,
                is_empty,
            )));
        }
    }
}

/// The state of one list's JSON between its items.
pub(super) struct ListWriter {
    /// Whether the list's object has no key yet.
    first: bool,
    /// The name of the items whose array (or held item) is open.
    current: Option<String>,
    /// Names whose items are done; hashed (seeded), since a list may have many names.
    finished: HashSet<String>,
    cupi: bool,
    /// CUPI's mode: the JSON of the current name's first item, until a second one shows
    /// whether it is an array or the bare object.
    held: Vec<u8>,
    /// Whether `held` has the current name's only item so far.
    holding: bool,
    /// Text directly inside the list, written after the items.
    text: String,
}

impl ListWriter {
    /// Writes the list's `{` and its attributes.
    fn open(out: &mut Vec<u8>, writer: &mut JsonWriter<'_>, list: &Tree, root: NodeId) -> Self {
        let mut first = true;
        out.push(b'{');
        writer.attributes(out, &mut first, list, root);
        ListWriter {
            first,
            current: None,
            finished: HashSet::new(),
            cupi: writer.cupi,
            held: Vec::new(),
            holding: false,
            text: String::new(),
        }
    }

    /// Writes one item, `ty` its type in the list's schema, after the key or comma it needs.
    fn item(
        &mut self,
        out: &mut Vec<u8>,
        writer: &mut JsonWriter<'_>,
        tree: &Tree,
        item: NodeId,
        ty: Option<FieldType>,
    ) -> Result<(), XmlError> {
        if self.begin_item(out, tree.name(item))? {
            writer.value(&mut self.held, tree, item, ty);
            self.holding = true;
        } else {
            writer.value(out, tree, item, ty);
        }
        Ok(())
    }

    /// Writes one item read flat, its JSON `json`, after the key or comma it needs.
    fn item_json(&mut self, out: &mut Vec<u8>, name: &str, json: &[u8]) -> Result<(), XmlError> {
        if self.begin_item(out, name)? {
            self.held.extend_from_slice(json);
            self.holding = true;
        } else {
            out.extend_from_slice(json);
        }
        Ok(())
    }

    /// What goes before an item named `name`: a comma in its name's array, or the end of the
    /// previous name's items and this name's key. True when the item is to be held back.
    fn begin_item(&mut self, out: &mut Vec<u8>, name: &str) -> Result<bool, XmlError> {
        if self.current.as_deref() == Some(name) {
            if self.holding {
                // A second item: the held one opens an array after all.
                out.push(b'[');
                out.append(&mut self.held);
                self.holding = false;
            }
            out.push(b',');
            return Ok(false);
        }
        if self.finished.contains(name) {
            return Err(XmlError::ScatteredItems(name.to_owned()));
        }
        if let Some(done) = self.current.take() {
            self.close_items(out);
            self.finished.insert(done);
        }
        key(out, &mut self.first, "", name);
        if !self.cupi {
            out.push(b'[');
        }
        self.current = Some(name.to_owned());
        Ok(self.cupi)
    }

    /// Ends a list's items of one name: the array, or in CUPI's mode the one held item, bare.
    fn close_items(&mut self, out: &mut Vec<u8>) {
        if self.holding {
            out.append(&mut self.held);
            self.holding = false;
        } else {
            out.push(b']');
        }
    }

    /// Text directly inside a list: whitespace-only pieces before any text are indentation and
    /// are not kept, so indentation between 100,000 items costs nothing; the rest is trimmed
    /// when written, as an object's text between children is.
    fn push_text(&mut self, piece: &str) {
        if !self.text.is_empty() || !piece.trim().is_empty() {
            self.text.push_str(piece);
        }
    }

    fn check_text(&self, max_bytes: u64) -> Result<(), XmlError> {
        if self.text.len() as u64 > max_bytes {
            return Err(XmlError::ObjectTooLarge(max_bytes));
        }
        Ok(())
    }

    /// Ends the last name's items, or with none gives a known list's item key, then the
    /// list's text and its `}`.
    fn close(mut self, out: &mut Vec<u8>, schema: &Schema, list_name: &str) {
        if self.current.is_some() {
            self.close_items(out);
        } else if let Some(item) = schema.item_of_list(list_name).filter(|_| !self.cupi) {
            // Zero items still give the item key, when the list is known (not in CUPI's mode).
            schema_key(out, &mut self.first, item);
            out.extend_from_slice(b"[]");
        }
        let text = self.text.trim();
        if !text.is_empty() {
            // Written after the items, since it is only known once they are out.
            key(out, &mut self.first, "", "#text");
            string(out, text);
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{convert, convert_cupi, schema};
    use crate::{
        stream_xml_to_json, whole_xml_to_json, xml_to_cupi_json, xml_to_json, JsonStyle, XmlError,
    };
    use serde_json::{json, Value};

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
    fn lists_are_written_item_by_item_whatever_the_chunking() {
        let xml = "<?xml version=\"1.0\"?>\n<Ports total=\"3\">\n  <Port><ObjectId>a&amp;b</ObjectId></Port>\n  \
                   <Port><ObjectId><![CDATA[c]]></ObjectId></Port><Port/>\n</Ports>\n<!-- end -->";
        let whole = xml_to_json(xml.as_bytes(), &schema()).unwrap();
        // One byte at a time from a reader: the same JSON, handed on after each item.
        let input = std::io::BufReader::with_capacity(1, xml.as_bytes());
        let (mut out, mut chunks, mut positions) = (Vec::new(), Vec::new(), Vec::new());
        stream_xml_to_json(
            input,
            &schema(),
            JsonStyle::Typed,
            u64::MAX,
            &mut out,
            |out, read| {
                chunks.push(std::mem::take(out));
                positions.push(read);
                true
            },
        )
        .unwrap();
        assert_eq!(chunks.concat(), whole);
        assert_eq!(chunks.len(), 4, "three items, then the end");
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert_eq!(
            serde_json::from_slice::<Value>(&whole).unwrap(),
            json!({"@total": 3, "Port": [{"ObjectId": "a&b"}, {"ObjectId": "c"}, ""]})
        );
    }

    #[test]
    fn a_list_stops_when_its_reader_goes_away() {
        let xml = r#"<Ports total="2"><Port/><Port/></Ports>"#;
        let mut calls = 0;
        let result = stream_xml_to_json(
            xml.as_bytes(),
            &schema(),
            JsonStyle::Typed,
            u64::MAX,
            &mut Vec::new(),
            |_, _| {
                calls += 1;
                false
            },
        );
        assert_eq!(result, Err(XmlError::Abandoned));
        assert_eq!(calls, 1);
    }

    #[test]
    fn what_a_stream_cannot_hold_is_an_error_not_a_guess() {
        // Items of one name split by another: one array would need the whole list in memory.
        let scattered = r#"<Users total="3"><User/><Admin/><User/></Users>"#;
        assert_eq!(
            xml_to_json(scattered.as_bytes(), &schema()),
            Err(XmlError::ScatteredItems("User".into()))
        );
        // Text inside a list is kept, after the items.
        assert_eq!(
            convert(r#"<Ports total="1"> note <Port/> more </Ports>"#),
            json!({"@total": 1, "Port": [""], "#text": "note  more"})
        );
        // One object may not exceed the byte limit, read as a stream or whole; each list item
        // has an allowance of its own.
        let both = |xml: &str, limit: u64| {
            let (mut streamed, mut whole) = (Vec::new(), Vec::new());
            let typed = JsonStyle::Typed;
            let from_stream = stream_xml_to_json(
                xml.as_bytes(),
                &schema(),
                typed,
                limit,
                &mut streamed,
                |_, _| true,
            );
            let from_whole = whole_xml_to_json(xml.as_bytes(), &schema(), typed, limit, &mut whole);
            assert_eq!(from_stream, from_whole, "{xml}");
            assert_eq!(streamed, whole, "{xml}");
            from_whole
        };
        let big = format!("<Port><A>{}</A></Port>", "x".repeat(1000));
        assert_eq!(both(&big, 100), Err(XmlError::ObjectTooLarge(100)));
        let item = format!("<Port><A>{}</A></Port>", "x".repeat(60));
        let list = format!("<Ports total=\"3\">{}</Ports>", item.repeat(3));
        assert_eq!(both(&list, 100), Ok(0));
        let bigger = list.replacen(&item, &big, 1);
        assert_eq!(both(&bigger, 100), Err(XmlError::ObjectTooLarge(100)));
    }

    #[test]
    fn cupi_style_lists_are_bare_for_one_and_keyless_for_none() {
        assert_eq!(
            convert_cupi(r#"<Ports total="2"><Port><A>1</A></Port><Port><A/></Port></Ports>"#),
            r#"{"@total":"2","Port":[{"A":"1"},{"A":""}]}"#
        );
        assert_eq!(
            convert_cupi(r#"<Ports total="1"><Port><A>1</A></Port></Ports>"#),
            r#"{"@total":"1","Port":{"A":"1"}}"#
        );
        // Count-only and empty, of a known list too: no item key.
        assert_eq!(convert_cupi(r#"<Ports total="2"/>"#), r#"{"@total":"2"}"#);
        assert_eq!(
            convert_cupi(r#"<Ports total="0"></Ports>"#),
            r#"{"@total":"0"}"#
        );
        assert_eq!(
            convert_cupi(r#"<Users total="1"><User><Alias>x</Alias></User></Users>"#),
            r#"{"@total":"1","User":{"Alias":"x"}}"#
        );
        // Two names, one of each: each bare; three of one after one of another.
        assert_eq!(
            convert_cupi(r#"<L total="4"><A>a</A><B>1</B><B>2</B><B>3</B> note </L>"#),
            r##"{"@total":"4","A":"a","B":["1","2","3"],"#text":"note"}"##
        );
        assert_eq!(
            xml_to_cupi_json(br#"<L total="3"><A/><B/><A/></L>"#, &schema()),
            Err(XmlError::ScatteredItems("A".into()))
        );
    }

    #[test]
    fn cupi_style_holds_one_item_back_until_the_next_one_or_the_end() {
        let run = |xml: &str| {
            let input = std::io::BufReader::with_capacity(1, xml.as_bytes());
            let mut out = Vec::new();
            let mut chunks = Vec::new();
            stream_xml_to_json(
                input,
                &schema(),
                JsonStyle::Cupi,
                u64::MAX,
                &mut out,
                |out, _| {
                    chunks.push(String::from_utf8(std::mem::take(out)).unwrap());
                    true
                },
            )
            .unwrap();
            chunks
        };
        // The first item is not handed on with its own flush: it waits for the second.
        assert_eq!(
            run(r#"<Ports total="3"><Port>a</Port><Port>b</Port><Port>c</Port></Ports>"#),
            [r#"{"@total":"3","Port":"#, r#"["a","b""#, r#","c""#, "]}"]
        );
        assert_eq!(
            run(r#"<Ports total="1"><Port>a</Port></Ports>"#),
            [r#"{"@total":"1","Port":"#, r#""a"}"#]
        );
        // The same bytes as the whole document, item sizes and chunking aside.
        let xml = format!(
            "<Ports total=\"9\">{}</Ports>",
            "<Port><A>x</A><B/></Port>".repeat(9)
        );
        assert_eq!(run(&xml).concat(), convert_cupi(&xml));
    }
}
