//! XML → JSON, following the contract in `docs/json-mapping.md`, as the bytes arrive.
//!
//! The JSON shape of an element depends on its whole content: whether a child name repeats
//! (→ array), whether there is text beside attributes (→ `"#text"`). So each *object* is read
//! into a small reusable [`tree::Tree`] and then written. The response as a whole is not: a
//! CUPI list (`<Ports total="…">`, the only kind of response that grows large) is written item
//! by item ([`list`]), each item's JSON handed on before the next is read. Memory follows the largest
//! item, not the list. An item whose shape is known as it is read (leaves named once, no
//! attributes: CUPI's items) needs no tree, and is written as it is read ([`flat`]).
//!
//! Two styles ([`JsonStyle`]): the typed contract, and CUPI's own JSON mode for existing CUPI
//! scripts. In CUPI's mode a list of one is the bare item, which a stream cannot know until
//! the next item or the list's end arrives: the first item's JSON waits in a side buffer
//! ([`list::ListWriter`]) until then, so that mode costs at most one more item of memory.
//!
//! No DTD is ever processed: a `<!DOCTYPE` is an error, and only the five predefined entities
//! and character references are resolved, so no entity expansion can blow up or reach a file.

mod fence;
mod flat;
mod list;
mod source;
mod tree;
mod writer;

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use crate::Schema;
pub use fence::read_buffered;
use source::{Events, Streamed, Whole};
use tree::{check_declaration, resolve_reference, NodeBudget, NodeId, Tree};
use writer::JsonWriter;

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
    /// The body is not UTF-8, the only encoding read.
    #[error("the body is not valid UTF-8")]
    InvalidUtf8,
    /// Not well-formed XML, or a name that is not an XML `Name`.
    #[error("malformed XML at byte {position}: {message}")]
    Malformed {
        /// Where, in bytes from the start of the body.
        position: u64,
        /// What is wrong.
        message: String,
    },
    /// The body ends inside the element named.
    #[error("the document ends before element <{0}> is closed")]
    Truncated(String),
    /// No element at all: an empty body, or a prolog only.
    #[error("the document has no root element")]
    NoRoot,
    /// Something other than whitespace, comments and processing instructions outside the root
    /// element.
    #[error("the document has content after its root element")]
    TrailingContent,
    /// Refused rather than processed, so that no entity can expand or reach a file.
    #[error("DOCTYPE and entity declarations are not accepted")]
    Doctype,
    /// A reference to the entity named, which is none of the five predefined ones.
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    /// A code point outside XML 1.0's `Char`, raw or as a character reference.
    #[error("the document has the character U+{0:04X}, which XML 1.0 does not allow")]
    ForbiddenChar(u32),
    /// A declaration of the encoding named, not UTF-8.
    #[error("the document declares the encoding {0:?}: the gateway reads UTF-8 only")]
    UnsupportedEncoding(String),
    /// Deeper than [`MAX_DEPTH`].
    #[error("elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// One object past its node budget (given; at most [`MAX_NODES`]), which bounds the
    /// tree's memory where the byte limit alone does not.
    #[error("an object has more than {0} elements and attributes")]
    TooManyNodes(usize),
    /// One object, or the text directly inside a list, past the caller's byte limit (given).
    #[error("an object is larger than {0} bytes")]
    ObjectTooLarge(u64),
    /// Items of the name given split by items of another: one array of them would need the
    /// whole list in memory.
    #[error(
        "items named <{0}> are not adjacent in the list, so they cannot be streamed as one array"
    )]
    ScatteredItems(String),
    /// The body's reader failed, with its error.
    #[error("reading the body failed: {0}")]
    Read(String),
    /// The `flush` callback returned false: whoever reads the JSON has gone.
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
    let fallbacks = whole_xml_to_json(xml, schema, style, u64::MAX, &mut out)?;
    Ok((out, fallbacks))
}

/// [`stream_xml_to_json`] for a document already whole in memory, its JSON all in `out`:
/// the same JSON and the same errors, read without copying each token into a buffer. A body
/// that is refused is read again as a stream (see [`source::Whole`]), so that errors are the
/// stream's to the byte; only bodies in error pay for it.
pub fn whole_xml_to_json(
    xml: &[u8],
    schema: &Schema,
    style: JsonStyle,
    max_object_bytes: u64,
    out: &mut Vec<u8>,
) -> Result<usize, XmlError> {
    let written = out.len();
    let events = Whole::new(xml, max_object_bytes);
    let whole = transcode(events, schema, style, max_object_bytes, out, |_, _| true);
    if whole.is_ok() {
        return whole;
    }
    out.truncate(written);
    stream_xml_to_json(xml, schema, style, max_object_bytes, out, |_, _| true)
}

/// The JSON and the count of values kept as strings that [`stream_xml_to_json`] gives with
/// every list item read into a tree, none flat: what the flat reading of items ([`flat`])
/// must give, for the fuzzing properties to compare.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn xml_to_json_by_tree(
    xml: &[u8],
    schema: &Schema,
    style: JsonStyle,
    max_object_bytes: u64,
) -> Result<(Vec<u8>, usize), XmlError> {
    let mut out = Vec::new();
    let events = Streamed::new(xml, max_object_bytes);
    let mut doc = Document::new(events, schema, style, max_object_bytes);
    doc.flat_items = false;
    let fallbacks = doc.transcode(&mut out, |_, _| true)?;
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
    flush: impl FnMut(&mut Vec<u8>, u64) -> bool,
) -> Result<usize, XmlError> {
    let events = Streamed::new(input, max_object_bytes);
    transcode(events, schema, style, max_object_bytes, out, flush)
}

fn transcode<E: Events>(
    events: E,
    schema: &Schema,
    style: JsonStyle,
    max_object_bytes: u64,
    out: &mut Vec<u8>,
    flush: impl FnMut(&mut Vec<u8>, u64) -> bool,
) -> Result<usize, XmlError> {
    Document::new(events, schema, style, max_object_bytes).transcode(out, flush)
}

/// Starts `tree` afresh at `start`, which began at `position`: the document's root, or one
/// list item.
fn open_root(
    tree: &mut Tree,
    budget: &mut NodeBudget,
    start: &BytesStart<'_>,
    position: u64,
) -> Result<NodeId, XmlError> {
    tree.clear();
    budget.reset();
    tree.open(start, None, budget, position)
}

/// The reading state of one document.
struct Document<'s, E> {
    events: E,
    tree: Tree,
    budget: NodeBudget,
    /// What one object may take of the input, and the text directly inside a list.
    max_object_bytes: u64,
    writer: JsonWriter<'s>,
    /// Where the last event read began, for errors in it.
    event_start: u64,
    /// Whether list items are read flat where they can be ([`flat`]); else into a tree.
    flat_items: bool,
}

impl<'s, E: Events> Document<'s, E> {
    fn new(events: E, schema: &'s Schema, style: JsonStyle, max_object_bytes: u64) -> Self {
        Document {
            events,
            tree: Tree::sized_for_an_object(),
            budget: NodeBudget::new(node_cap(max_object_bytes)),
            max_object_bytes,
            writer: JsonWriter::new(schema, style),
            event_start: 0,
            flat_items: true,
        }
    }

    fn transcode(
        mut self,
        out: &mut Vec<u8>,
        mut flush: impl FnMut(&mut Vec<u8>, u64) -> bool,
    ) -> Result<usize, XmlError> {
        let (root, is_empty) = self.root()?;
        if self.tree.is_list(root) && !is_empty {
            self.list(root, out, &mut flush)?;
        } else {
            if !is_empty {
                self.read_content(root, 1)?;
            }
            self.writer.value(out, &self.tree, root, None);
        }
        self.epilogue()?;
        if !flush(out, self.events.position()) {
            return Err(XmlError::Abandoned);
        }
        Ok(self.writer.fallbacks)
    }

    fn next_event(&mut self) -> Result<Event<'_>, XmlError> {
        self.event_start = self.events.position();
        self.events.next_event()
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
            let root = open_root(&mut self.tree, &mut self.budget, &start, self.event_start)?;
            return Ok((root, is_empty));
        }
    }

    fn read_content(&mut self, id: NodeId, depth: usize) -> Result<(), XmlError> {
        let Document {
            events,
            tree,
            budget,
            ..
        } = self;
        tree.read_content(events, id, depth, budget)
    }

    /// After the root: only whitespace, comments and processing instructions.
    fn epilogue(&mut self) -> Result<(), XmlError> {
        self.events.restart();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldType;
    use serde_json::{json, Value};
    use std::collections::HashMap;

    /// A hand-made table, so these tests do not depend on the OpenAPI document.
    pub(super) fn schema() -> Schema {
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

    pub(super) fn convert(xml: &str) -> Value {
        let bytes = xml_to_json(xml.as_bytes(), &schema()).expect("transcodes");
        serde_json::from_slice(&bytes).expect("valid JSON")
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

    pub(super) fn convert_cupi(xml: &str) -> String {
        let bytes = xml_to_cupi_json(xml.as_bytes(), &schema()).expect("transcodes");
        String::from_utf8(bytes).unwrap()
    }
}
