//! XML → JSON, following the contract in `docs/json-mapping.md`, as the bytes arrive.
//!
//! The JSON shape of an element depends on its whole content: whether a child name repeats
//! (→ array), whether there is text beside attributes (→ `"#text"`). So each *object* is read
//! into a small reusable [`tree::Tree`] and then written. The response as a whole is not: a
//! CUPI list (`<Ports total="…">`, the only kind of response that grows large) is written item
//! by item, each item's JSON handed on before the next is read. Memory follows the largest
//! item, not the list.
//!
//! Two styles ([`JsonStyle`]): the typed contract, and CUPI's own JSON mode for existing CUPI
//! scripts. In CUPI's mode a list of one is the bare item, which a stream cannot know until
//! the next item or the list's end arrives: the first item's JSON waits in a side buffer until
//! then, so that mode costs at most one more item of memory.
//!
//! No DTD is ever processed: a `<!DOCTYPE` is an error, and only the five predefined entities
//! and character references are resolved, so no entity expansion can blow up or reach a file.

mod fence;
mod tree;
mod writer;

use std::collections::HashSet;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::Schema;
pub use fence::read_buffered;
use fence::Fenced;
use tree::{check_declaration, checked, malformed, resolve_reference, NodeBudget, NodeId, Tree};
use writer::{key, string, JsonWriter};

/// Elements nested deeper than this are refused: CUPI objects are three levels deep at most.
pub const MAX_DEPTH: usize = 64;

/// Elements plus attributes in one object read whole (a document that is not a list, or one
/// item of a list). A tree costs about 100 bytes per node, far more than the 4 bytes of `<a/>`,
/// so the byte limit alone does not bound memory.
pub const MAX_NODES: usize = 4_000_000;

/// Below the object limit, at most one node per this many bytes of it: a tree node costs about
/// 80 bytes, so a flood of `<a/>` under a 1 MiB limit would otherwise build a tree twenty times
/// the limit. CUPI's XML spends 20 bytes or more per element or attribute, so its objects never
/// meet this cap before the byte limit; a flood's tree stays within about five times the limit.
pub(crate) const MIN_BYTES_PER_NODE: u64 = 16;

/// The node budget of one object of at most `max_object_bytes`.
fn node_cap(max_object_bytes: u64) -> usize {
    let by_size = max_object_bytes / MIN_BYTES_PER_NODE;
    usize::try_from(by_size).map_or(MAX_NODES, |nodes| nodes.min(MAX_NODES))
}

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
    #[error("the document has the character U+{0:04X}, which XML 1.0 does not allow")]
    ForbiddenChar(u32),
    #[error("the document declares the encoding {0:?}: the gateway reads UTF-8 only")]
    UnsupportedEncoding(String),
    #[error("elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("an object has more than {0} elements and attributes")]
    TooManyNodes(usize),
    #[error("an object is larger than {0} bytes")]
    ObjectTooLarge(u64),
    #[error(
        "items named <{0}> are not adjacent in the list, so they cannot be streamed as one array"
    )]
    ScatteredItems(String),
    #[error("reading the body failed: {0}")]
    Read(String),
    #[error("the reader of the JSON went away")]
    Abandoned,
}

/// Which JSON a client gets (see `docs/json-mapping.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JsonStyle {
    /// The gateway's contract: values typed by the schema, list items always an array.
    #[default]
    Typed,
    /// Unity Connection's own JSON mode, for scripts written against it: every value a string
    /// (`"@total":"2"`, `""` for an empty element), a list of one is the bare item, an empty
    /// list has no item key.
    Cupi,
}

/// Transcodes a whole XML document to typed JSON bytes.
pub fn xml_to_json(xml: &[u8], schema: &Schema) -> Result<Vec<u8>, XmlError> {
    xml_to_json_counted(xml, schema).map(|(json, _)| json)
}

/// Transcodes a whole XML document to JSON the way Unity Connection's own JSON mode gives it
/// ([`JsonStyle::Cupi`]).
pub fn xml_to_cupi_json(xml: &[u8], schema: &Schema) -> Result<Vec<u8>, XmlError> {
    whole_document(xml, schema, JsonStyle::Cupi).map(|(json, _)| json)
}

/// [`xml_to_json`], also counting the typed fields whose text was not of their type and was
/// kept as a string (for the `typed_fallbacks` metric).
pub fn xml_to_json_counted(xml: &[u8], schema: &Schema) -> Result<(Vec<u8>, usize), XmlError> {
    whole_document(xml, schema, JsonStyle::Typed)
}

/// A document already in memory, in one buffer, with no limit on an object's size.
fn whole_document(
    xml: &[u8],
    schema: &Schema,
    style: JsonStyle,
) -> Result<(Vec<u8>, usize), XmlError> {
    let mut out = Vec::with_capacity(xml.len());
    let fallbacks = stream_xml_to_json(xml, schema, style, u64::MAX, &mut out, |_, _| true)?;
    Ok((out, fallbacks))
}

/// Reads XML from `input` and writes JSON of `style` into `out`, calling
/// `flush(out, bytes_read)` after each list item (and at the end) so the caller can hand on
/// what `out` holds and clear it; a `false` from `flush` stops the work
/// ([`XmlError::Abandoned`]). One object (a non-list document or one list item) may take at
/// most `max_object_bytes` of input, counted as it is read: no token (a text node, a comment,
/// an attribute value) is buffered past it, so memory stays within a small multiple of it.
///
/// Returns the count of typed values kept as strings (always 0 for [`JsonStyle::Cupi`]).
pub fn stream_xml_to_json<R: BufRead>(
    input: R,
    schema: &Schema,
    style: JsonStyle,
    max_object_bytes: u64,
    out: &mut Vec<u8>,
    mut flush: impl FnMut(&mut Vec<u8>, u64) -> bool,
) -> Result<usize, XmlError> {
    let mut doc = Document {
        reader: Reader::from_reader(Fenced::new(input, max_object_bytes)),
        buf: Vec::with_capacity(4096),
        tree: Tree::default(),
        budget: NodeBudget::new(node_cap(max_object_bytes)),
        max_object_bytes,
        writer: JsonWriter::new(schema, style),
        held: Vec::new(),
    };
    let (root, is_empty) = doc.root()?;
    if doc.tree.is_list(root) && !is_empty {
        doc.list(root, out, &mut flush)?;
    } else {
        if !is_empty {
            doc.read_content(root, 1)?;
        }
        doc.writer.value(out, &doc.tree, root, None);
    }
    doc.epilogue()?;
    if !flush(out, doc.reader.buffer_position()) {
        return Err(XmlError::Abandoned);
    }
    Ok(doc.writer.fallbacks)
}

/// The reading state of one document.
struct Document<'s, R> {
    reader: Reader<Fenced<R>>,
    buf: Vec<u8>,
    tree: Tree,
    budget: NodeBudget,
    /// What one object may take of the input, and the text directly inside a list.
    max_object_bytes: u64,
    writer: JsonWriter<'s>,
    /// CUPI's mode: the JSON of a list's first item of a name, until a second one shows
    /// whether it is an array or the bare object.
    held: Vec<u8>,
}

impl<R: BufRead> Document<'_, R> {
    fn next_event(&mut self) -> Result<Event<'_>, XmlError> {
        self.buf.clear();
        let reader = &mut self.reader;
        reader
            .read_event_into(&mut self.buf)
            .map_err(|e| malformed(reader, &e))
    }

    /// Skips the prolog and opens the root element: (its node, whether it is `<empty/>`).
    fn root(&mut self) -> Result<(NodeId, bool), XmlError> {
        loop {
            let (start, is_empty) = match self.next_event()? {
                Event::Start(start) => (start.into_owned(), false),
                Event::Empty(start) => (start.into_owned(), true),
                Event::Text(t) if t.trim().is_empty() => continue,
                Event::Decl(decl) => {
                    check_declaration(&decl)?;
                    continue;
                }
                Event::PI(_) | Event::Comment(_) => continue,
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Eof => return Err(XmlError::NoRoot),
                Event::GeneralRef(r) => {
                    resolve_reference(&r)?;
                    return Err(XmlError::TrailingContent);
                }
                _ => return Err(XmlError::TrailingContent),
            };
            return Ok((self.open_root(&start)?, is_empty));
        }
    }

    fn open_root(&mut self, start: &BytesStart<'_>) -> Result<NodeId, XmlError> {
        self.tree.clear();
        self.budget.reset();
        let position = self.reader.buffer_position();
        self.tree.open(start, None, &mut self.budget, position)
    }

    fn read_content(&mut self, id: NodeId, depth: usize) -> Result<(), XmlError> {
        let Document {
            reader,
            buf,
            tree,
            budget,
            ..
        } = self;
        tree.read_content(reader, buf, id, depth, budget)
    }

    /// A list, item by item: `{"@total":N,"Item":[…]}` with each item flushed as it is done.
    /// In CUPI's mode a single item is written bare, `{"@total":"1","Item":{…}}`.
    fn list(
        &mut self,
        root: NodeId,
        out: &mut Vec<u8>,
        flush: &mut impl FnMut(&mut Vec<u8>, u64) -> bool,
    ) -> Result<(), XmlError> {
        // The list element stays in its own tree while item trees come and go.
        let mut list = std::mem::take(&mut self.tree);
        let list_name = list.name(root).to_owned();
        let fields = self.writer.schema.fields_of(&list_name);
        let mut first = true;
        out.push(b'{');
        self.writer.attributes(out, &mut first, &list, root);
        let mut text = String::new();
        let mut current: Option<String> = None;
        // Names whose items are done; hashed (seeded), since a list may have many names.
        let mut finished: HashSet<String> = HashSet::new();
        let cupi = self.writer.cupi;
        // CUPI's mode: whether `held` has the current name's only item so far.
        let mut holding = false;
        loop {
            // Each item, and each token between items, has an allowance of its own; the text
            // kept from between items is bounded here.
            self.reader.get_mut().restart();
            if text.len() as u64 > self.max_object_bytes {
                return Err(XmlError::ObjectTooLarge(self.max_object_bytes));
            }
            let (start, is_empty) = match self.next_event()? {
                Event::Start(start) => (start.into_owned(), false),
                Event::Empty(start) => (start.into_owned(), true),
                Event::End(_) => break,
                Event::Text(t) => {
                    push_list_text(&mut text, &checked(t.xml10_content())?);
                    continue;
                }
                Event::CData(c) => {
                    push_list_text(&mut text, &checked(c.xml10_content())?);
                    continue;
                }
                Event::GeneralRef(r) => {
                    push_list_text(&mut text, &resolve_reference(&r)?);
                    continue;
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
                Event::Eof => return Err(XmlError::Truncated(list_name)),
            };
            let item = self.open_root(&start)?;
            if !is_empty {
                self.read_content(item, 2)?;
            }
            let name = self.tree.name(item);
            let mut hold = false;
            if current.as_deref() == Some(name) {
                if holding {
                    // A second item: the held one opens an array after all.
                    out.push(b'[');
                    out.append(&mut self.held);
                    holding = false;
                }
                out.push(b',');
            } else {
                if finished.contains(name) {
                    return Err(XmlError::ScatteredItems(name.to_owned()));
                }
                if let Some(done) = current.take() {
                    close_items(out, &mut self.held, &mut holding);
                    finished.insert(done);
                }
                key(out, &mut first, "", name);
                if cupi {
                    hold = true;
                } else {
                    out.push(b'[');
                }
                current = Some(name.to_owned());
            }
            let ty = fields.and_then(|f| f.get(name).copied());
            if hold {
                self.writer.value(&mut self.held, &self.tree, item, ty);
                holding = true;
            } else {
                self.writer.value(out, &self.tree, item, ty);
            }
            if !flush(out, self.reader.buffer_position()) {
                return Err(XmlError::Abandoned);
            }
        }
        if current.is_some() {
            close_items(out, &mut self.held, &mut holding);
        } else if let Some(item) = self
            .writer
            .schema
            .item_of_list(&list_name)
            .filter(|_| !cupi)
        {
            // Zero items still give the item key, when the list is known (not in CUPI's mode).
            key(out, &mut first, "", item);
            out.extend_from_slice(b"[]");
        }
        let text = text.trim();
        if !text.is_empty() {
            // Written after the items, since it is only known once they are out.
            key(out, &mut first, "", "#text");
            string(out, text);
        }
        out.push(b'}');
        list.clear();
        Ok(())
    }

    /// After the root: only whitespace, comments and processing instructions.
    fn epilogue(&mut self) -> Result<(), XmlError> {
        self.reader.get_mut().restart();
        loop {
            match self.next_event()? {
                Event::Eof => return Ok(()),
                Event::Text(t) if t.trim().is_empty() => {}
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(XmlError::Doctype),
                _ => return Err(XmlError::TrailingContent),
            }
        }
    }
}

/// Ends a list's items of one name: the array, or in CUPI's mode the one held item, bare.
fn close_items(out: &mut Vec<u8>, held: &mut Vec<u8>, holding: &mut bool) {
    if *holding {
        out.append(held);
        *holding = false;
    } else {
        out.push(b']');
    }
}

/// Text directly inside a list: whitespace-only pieces before any text are indentation and are
/// not kept, so indentation between 100,000 items costs nothing; the rest is trimmed when
/// written, as an object's text between children is.
fn push_list_text(text: &mut String, piece: &str) {
    if !text.is_empty() || !piece.trim().is_empty() {
        text.push_str(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{is_canonical_i64, is_json_number};
    use super::*;
    use crate::FieldType;
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
        // A name that comes back after others joins its first group, in document order.
        let many: String = (0..40).map(|i| format!("<F{i}>{i}</F{i}>")).collect();
        let json = convert(&format!("<A><E>1</E>{many}<E>2</E></A>"));
        assert_eq!(json["E"], json!(["1", "2"]));
        assert_eq!(json["F39"], "39");
        assert_eq!(json.as_object().unwrap().len(), 41);
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
        // An empty element is as deep as any other; one level less is fine.
        let nested = |levels: usize, leaf: &str| {
            format!("{}{leaf}{}", "<a>".repeat(levels), "</a>".repeat(levels))
        };
        assert_eq!(err(&nested(MAX_DEPTH, "<b/>")), XmlError::TooDeep);
        assert!(xml_to_json(nested(MAX_DEPTH - 1, "<b/>").as_bytes(), &schema).is_ok());
    }

    #[test]
    fn the_node_budget_shrinks_with_the_object_limit() {
        let schema = schema();
        // 150 nodes in about 620 bytes: within a 1,600-byte limit, past its 100 nodes.
        let flood = format!("<Port>{}</Port>", "<a/>".repeat(149));
        let mut out = Vec::new();
        let result = stream_xml_to_json(
            flood.as_bytes(),
            &schema,
            JsonStyle::Typed,
            1600,
            &mut out,
            |_, _| true,
        );
        assert_eq!(result, Err(XmlError::TooManyNodes(100)));
        assert_eq!(node_cap(64 << 20), MAX_NODES);
        assert_eq!(node_cap(u64::MAX), MAX_NODES);
        assert!(xml_to_json(flood.as_bytes(), &schema).is_ok());
    }

    #[test]
    fn elements_and_attributes_count_against_one_budget() {
        let mut reader = Reader::from_str(r#"<a x="1"/><b/><c y="1" z="2"/>"#);
        let mut starts = Vec::new();
        while let Ok(Event::Empty(start)) = reader.read_event() {
            starts.push(start.into_owned());
        }
        let mut tree = Tree::default();
        let mut budget = NodeBudget::new(3);
        tree.open(&starts[0], None, &mut budget, 0).unwrap();
        tree.open(&starts[1], None, &mut budget, 0).unwrap();
        assert_eq!(
            tree.open(&starts[2], None, &mut budget, 0),
            Err(XmlError::TooManyNodes(3))
        );
        // Each list item starts afresh.
        budget.reset();
        tree.open(&starts[2], None, &mut budget, 0).unwrap();
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
        // One object may not exceed the byte limit.
        let big = format!("<Port><A>{}</A></Port>", "x".repeat(1000));
        let result = stream_xml_to_json(
            big.as_bytes(),
            &schema(),
            JsonStyle::Typed,
            100,
            &mut Vec::new(),
            |_, _| true,
        );
        assert_eq!(result, Err(XmlError::ObjectTooLarge(100)));
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
            r#"<Ports total="1"><@a/></Ports>"#,
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

    fn convert_cupi(xml: &str) -> String {
        let bytes = xml_to_cupi_json(xml.as_bytes(), &schema()).expect("transcodes");
        String::from_utf8(bytes).unwrap()
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
