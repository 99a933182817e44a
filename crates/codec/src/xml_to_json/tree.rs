//! A reusable element tree: one object at a time (a document that is not a list, or one item
//! of a list), so memory follows the largest object and not the size of the response.
//!
//! All names and text live in one `String` and all nodes in one `Vec`; both are cleared and
//! reused for the next object, so a list of 100,000 ports is read with no allocation per port
//! once the buffers have grown to the size of one.

use std::borrow::Cow;
use std::ops::Range;

use super::source::Events;
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};

use super::{XmlError, MAX_DEPTH};
use crate::is_xml_name;
use crate::scan::Needles;
use crate::sniff::is_utf8_name;

/// Index of a node in [`Tree::nodes`].
pub(super) type NodeId = usize;

/// No node: the end of a chain of siblings.
pub(super) const NONE: NodeId = usize::MAX;

/// One element: spans into [`Tree::strings`], its attributes, its children as a linked list.
#[derive(Clone, Debug)]
pub(super) struct Element {
    name: Range<usize>,
    /// All text directly inside, entities resolved, up to its first child (or all of it, with
    /// no child). With children, whitespace before the first non-blank text is dropped, since
    /// it is indentation (the writer trims such text).
    text: Range<usize>,
    /// Text after a child (mixed content): the newest piece in [`Tree::text_pieces`], each
    /// linking to the one before. Pieces are joined only when written, so text on both sides
    /// of many children costs its length once, not once per child.
    more_text: usize,
    attrs: Range<usize>,
    first_child: NodeId,
    last_child: NodeId,
    next_sibling: NodeId,
}

#[derive(Debug, Default)]
pub(super) struct Tree {
    strings: String,
    nodes: Vec<Element>,
    /// (name, value) spans into `strings`.
    attrs: Vec<(Range<usize>, Range<usize>)>,
    /// Pieces of mixed-content text: (span into `strings`, the piece before or [`NONE`]).
    text_pieces: Vec<(Range<usize>, usize)>,
    /// Open elements while reading.
    open: Vec<NodeId>,
}

impl Tree {
    /// Room for one CUPI object (a port has about 30 fields and 1.2 kB of names and text), so
    /// reading the first item of an answer does not grow the tree a piece at a time; later
    /// items reuse it ([`Tree::clear`]).
    pub(super) fn sized_for_an_object() -> Tree {
        Tree {
            strings: String::with_capacity(2048),
            nodes: Vec::with_capacity(64),
            open: Vec::with_capacity(8),
            ..Tree::default()
        }
    }

    pub(super) fn clear(&mut self) {
        self.strings.clear();
        self.nodes.clear();
        self.attrs.clear();
        self.text_pieces.clear();
        self.open.clear();
    }

    /// How many nodes the tree holds: every [`NodeId`] is below it.
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn name(&self, id: NodeId) -> &str {
        &self.strings[self.nodes[id].name.clone()]
    }

    /// An element's own text, its pieces joined when it is mixed content.
    pub(super) fn text(&self, id: NodeId) -> Cow<'_, str> {
        let node = &self.nodes[id];
        let first = &self.strings[node.text.clone()];
        if node.more_text == NONE {
            return Cow::Borrowed(first);
        }
        let mut pieces = Vec::new();
        let mut piece = node.more_text;
        while piece != NONE {
            let (span, before) = &self.text_pieces[piece];
            pieces.push(&self.strings[span.clone()]);
            piece = *before;
        }
        let mut joined = String::from(first);
        pieces.iter().rev().for_each(|piece| joined.push_str(piece));
        Cow::Owned(joined)
    }

    pub(super) fn attrs(&self, id: NodeId) -> impl Iterator<Item = (&str, &str)> {
        self.attrs[self.nodes[id].attrs.clone()]
            .iter()
            .map(|(name, value)| (&self.strings[name.clone()], &self.strings[value.clone()]))
    }

    pub(super) fn has_attrs(&self, id: NodeId) -> bool {
        !self.nodes[id].attrs.is_empty()
    }

    pub(super) fn has_children(&self, id: NodeId) -> bool {
        self.nodes[id].first_child != NONE
    }

    /// A list element is one with a `total` attribute (CUPI's `<Ports total="2">`).
    pub(super) fn is_list(&self, id: NodeId) -> bool {
        self.attrs(id).any(|(name, _)| name == "total")
    }

    pub(super) fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let mut next = self.nodes[id].first_child;
        std::iter::from_fn(move || {
            let current = next;
            (current != NONE).then(|| {
                next = self.nodes[current].next_sibling;
                current
            })
        })
    }

    /// Adds an element (name and attributes) under `parent`, or as a root, each charged to
    /// `budget` before it is stored. quick-xml takes any bytes as a name; the XML `Name`
    /// production is checked here, since a name like `@a`, `#text` or an empty one would
    /// collide with the JSON keys of attributes and text, or could not be written back.
    /// `position` is where its start tag begins, for [`XmlError::Malformed`].
    pub(super) fn open(
        &mut self,
        start: &BytesStart<'_>,
        parent: Option<NodeId>,
        budget: &mut NodeBudget,
        position: u64,
    ) -> Result<NodeId, XmlError> {
        let malformed = |message| XmlError::Malformed { position, message };
        budget.charge()?;
        let element = start.name();
        let element: &str = element.as_ref();
        if !is_xml_name(element) {
            return Err(malformed(format!("<{element}> is not an XML element name")));
        }
        let name = self.push_str(element);
        let first_attr = self.attrs.len();
        for attr in start.attributes() {
            budget.charge()?;
            let attr = attr.map_err(|e| malformed(quick_xml::Error::from(e).to_string()))?;
            let key: &str = attr.key.as_ref();
            if !is_xml_name(key) {
                return Err(malformed(format!(
                    "{key:?} in <{element}> is not an XML attribute name"
                )));
            }
            let name = self.push_str(key);
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| malformed(e.to_string()))?;
            let value = self.push_str(&checked(value)?);
            self.attrs.push((name, value));
        }
        Ok(self.link_under(parent, name, first_attr..self.attrs.len()))
    }

    /// Adds an element named by the span `name`, with the attributes `attrs`, after the last
    /// child of `parent` (or as a root).
    fn link_under(
        &mut self,
        parent: Option<NodeId>,
        name: Range<usize>,
        attrs: Range<usize>,
    ) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Element {
            name,
            text: 0..0,
            more_text: NONE,
            attrs,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        if let Some(parent) = parent {
            let node = &mut self.nodes[parent];
            if node.first_child == NONE {
                node.first_child = id;
                // Text before the first child: whitespace is indentation, anything else stays.
                if self.strings[node.text.clone()].trim().is_empty() {
                    node.text = 0..0;
                }
            } else {
                let last = node.last_child;
                self.nodes[last].next_sibling = id;
            }
            self.nodes[parent].last_child = id;
        }
        id
    }

    /// Appends text to an element's own text.
    pub(super) fn push_text(&mut self, id: NodeId, text: &str) {
        let node = &self.nodes[id];
        if node.text.is_empty() && node.first_child != NONE && text.trim().is_empty() {
            return; // indentation between children
        }
        let end = self.strings.len();
        let added = self.push_str(text);
        let node = &mut self.nodes[id];
        if node.text.is_empty() {
            node.text = added;
        } else if node.more_text == NONE && node.text.end == end {
            node.text.end = added.end;
        } else if node.more_text != NONE && self.text_pieces[node.more_text].0.end == end {
            self.text_pieces[node.more_text].0.end = added.end;
        } else {
            // Text on both sides of a child (mixed content): one more piece.
            self.text_pieces.push((added, node.more_text));
            node.more_text = self.text_pieces.len() - 1;
        }
    }

    fn push_str(&mut self, text: &str) -> Range<usize> {
        push_str(&mut self.strings, text)
    }

    /// Reads the content of `root` (already opened from its start tag) up to its end tag.
    /// `depth` is how deep `root` is in the document (1 for the document's root).
    pub(super) fn read_content(
        &mut self,
        events: &mut impl Events,
        root: NodeId,
        depth: usize,
        budget: &mut NodeBudget,
    ) -> Result<(), XmlError> {
        self.open.clear();
        self.open.push(root);
        self.read_open(events, depth, budget)
    }

    /// Reads on until every element open (the root first) is closed.
    pub(super) fn read_open(
        &mut self,
        events: &mut impl Events,
        depth: usize,
        budget: &mut NodeBudget,
    ) -> Result<(), XmlError> {
        loop {
            let position = events.position();
            let event = events.next_event()?;
            if self.take(event, position, depth, budget)? {
                return Ok(());
            }
        }
    }

    /// Takes one event, which began at `position`, into the open elements; true when it
    /// closed the last of them.
    #[inline]
    pub(super) fn take(
        &mut self,
        event: Event<'_>,
        position: u64,
        depth: usize,
        budget: &mut NodeBudget,
    ) -> Result<bool, XmlError> {
        let top = *self.open.last().expect("an open element");
        match event {
            // A child element, `<empty/>` ones counted as deep as the others.
            Event::Start(ref start) | Event::Empty(ref start) => {
                if depth + self.open.len() > MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let id = self.open(start, Some(top), budget, position)?;
                if matches!(event, Event::Start(_)) {
                    self.open.push(id);
                }
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the start tag.
                self.open.pop();
                return Ok(self.open.is_empty());
            }
            Event::Text(t) => self.push_text(top, &event_text(&t, || t.xml10_content())?),
            Event::CData(c) => self.push_text(top, &event_text(&c, || c.xml10_content())?),
            Event::GeneralRef(r) => self.push_text(top, &resolve_reference(&r)?),
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return Err(XmlError::Truncated(self.name(top).to_owned())),
        }
        Ok(false)
    }

    /// Adds a child with no attribute and only `text` under `parent`, already checked and
    /// charged to the budget (by [`super::flat`], handing over an item it began).
    pub(super) fn add_leaf(&mut self, parent: NodeId, name: &str, text: &str) -> NodeId {
        let name = self.push_str(name);
        let attrs = self.attrs.len()..self.attrs.len();
        let id = self.link_under(Some(parent), name, attrs);
        self.push_text(id, text);
        id
    }

    /// Makes `open` the open elements, outermost first, for [`Tree::read_open`].
    pub(super) fn reopen(&mut self, open: &[NodeId]) {
        self.open.clear();
        self.open.extend_from_slice(open);
    }
}

/// Appends `text` to `strings`, giving its span there.
pub(super) fn push_str(strings: &mut String, text: &str) -> Range<usize> {
    let start = strings.len();
    strings.push_str(text);
    start..strings.len()
}

/// What one tree may cost: [`super::MAX_NODES`] elements plus attributes. (Its bytes are
/// bounded as they are read, by [`super::fence`].)
#[derive(Debug)]
pub(super) struct NodeBudget {
    left: usize,
    max_nodes: usize,
}

impl NodeBudget {
    pub(super) fn new(max_nodes: usize) -> Self {
        NodeBudget {
            left: max_nodes,
            max_nodes,
        }
    }

    /// A fresh budget for the next tree.
    pub(super) fn reset(&mut self) {
        self.left = self.max_nodes;
    }

    /// Charges one element or attribute, before it is stored.
    pub(super) fn charge(&mut self) -> Result<(), XmlError> {
        self.left = self
            .left
            .checked_sub(1)
            .ok_or(XmlError::TooManyNodes(self.max_nodes))?;
        Ok(())
    }
}

/// Resolves `&amp;`-style predefined entities and `&#NN;` character references; nothing else.
/// A reference to a character XML 1.0 does not allow (`&#1;`, `&#xFFFE;`, a surrogate, `&#0;`)
/// is refused as the raw character would be.
pub(super) fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, XmlError> {
    let name: &str = reference.as_ref();
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => checked(Cow::Owned(c.to_string())).map(Cow::into_owned),
            _ => Err(char_ref_code(name)
                .map(XmlError::ForbiddenChar)
                .unwrap_or_else(|| XmlError::UnknownEntity(name.to_owned()))),
        };
    }
    quick_xml::escape::resolve_predefined_entity(name)
        .map(str::to_owned)
        .ok_or_else(|| XmlError::UnknownEntity(name.to_owned()))
}

/// The code point a `#NN` or `#xHH` reference names, if it is a number at all.
fn char_ref_code(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('#')?;
    match digits.strip_prefix('x') {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => digits.parse().ok(),
    }
}

/// The text of a text or CDATA event, `raw`, as XML 1.0 reads it (line ends normalised, by
/// `normalized`), if it has only characters XML 1.0 allows ([`checked`]). Text with no byte
/// below 0x20 and no 0xEF (so no `\r` either), nearly all of CUPI's, is both already: one
/// search, and it is taken as it is.
pub(super) fn event_text<'a>(
    raw: &'a str,
    normalized: impl FnOnce() -> Cow<'a, str>,
) -> Result<Cow<'a, str>, XmlError> {
    if NOT_XML_CHAR_STARTS.find(raw.as_bytes(), 0).is_none() {
        return Ok(Cow::Borrowed(raw));
    }
    checked(normalized())
}

/// The bytes [`checked`] looks at closer: C0 controls, and the first byte of U+F000..U+FFFF.
const NOT_XML_CHAR_STARTS: Needles = Needles::new(0x20, [0xEF, 0xEF]);

/// `text`, if it has only characters XML 1.0 allows: no C0 controls other than tab, LF and
/// CR, no U+FFFE or U+FFFF (surrogates cannot be in a `str`). Such a character is not text
/// a CUPI value can hold, and JSON would carry it on as if it were.
///
/// One pass over the bytes, looking only for the bytes those characters start with
/// (`< 0x20`, and `0xEF` of U+Fxxx), which ordinary text rarely has.
pub(super) fn checked(text: Cow<'_, str>) -> Result<Cow<'_, str>, XmlError> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = NOT_XML_CHAR_STARTS.find(bytes, from) {
        match bytes[at] {
            b'\t' | b'\n' | b'\r' => {}
            0xEF => {
                if let [0xBF, last @ (0xBE | 0xBF), ..] = bytes[at + 1..] {
                    return Err(XmlError::ForbiddenChar(0xFFC0 | u32::from(last & 0x3F)));
                }
            }
            control => return Err(XmlError::ForbiddenChar(u32::from(control))),
        }
        from = at + 1;
    }
    Ok(text)
}

/// An XML declaration naming an encoding other than UTF-8 is refused: the gateway reads UTF-8
/// only, and reading such a document as UTF-8 would change its text without a word.
pub(super) fn check_declaration(decl: &BytesDecl<'_>) -> Result<(), XmlError> {
    match decl.encoding() {
        None => Ok(()),
        Some(Ok(name)) if is_utf8_name(&name) => Ok(()),
        Some(Ok(name)) => Err(XmlError::UnsupportedEncoding(name.into_owned())),
        Some(Err(e)) => Err(XmlError::UnsupportedEncoding(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{convert, schema};
    use super::*;
    use crate::xml_to_json;
    use serde_json::json;

    #[test]
    fn characters_xml_forbids_are_refused_raw_and_as_references() {
        for (text, code) in [
            ("a\u{0}b", 0),
            ("\u{1}", 1),
            ("x\u{1f}", 0x1f),
            ("\u{fffe}", 0xfffe),
            ("ok \u{ffff}", 0xffff),
        ] {
            assert_eq!(
                checked(Cow::Borrowed(text)),
                Err(XmlError::ForbiddenChar(code))
            );
        }
        for allowed in ["\t\n\r", "\u{fffd}\u{f000}\u{7f}\u{efff}", "é ü 日本"] {
            assert_eq!(checked(Cow::Borrowed(allowed)), Ok(Cow::Borrowed(allowed)));
        }
        for (name, code) in [
            ("#1", 1),
            ("#x0", 0),
            ("#xFFFE", 0xfffe),
            ("#xD800", 0xd800),
        ] {
            let reference = BytesRef::new(name);
            assert_eq!(
                resolve_reference(&reference),
                Err(XmlError::ForbiddenChar(code))
            );
        }
        assert_eq!(resolve_reference(&BytesRef::new("#x41")), Ok("A".into()));
    }

    /// Line ends are normalised as XML 1.0 says, in text and CDATA, in an object and directly
    /// inside a list; text with no control character is taken as it is.
    #[test]
    fn line_ends_are_normalised_and_plain_text_kept() {
        assert_eq!(
            convert("<User><A>a\r\nb\rc\n</A><B><![CDATA[x\r\ny]]></B><C>plain é</C></User>"),
            json!({"A": "a\nb\nc\n", "B": "x\ny", "C": "plain é"})
        );
        assert_eq!(
            convert("<Ports total=\"1\">a\r\nb<Port/></Ports>"),
            json!({"@total": 1, "Port": [""], "#text": "a\nb"})
        );
        assert_eq!(
            event_text("no controls", || unreachable!("not normalised")),
            Ok(Cow::Borrowed("no controls"))
        );
    }

    #[test]
    fn elements_and_attributes_count_against_one_budget() {
        let mut reader = quick_xml::Reader::from_str(r#"<a x="1"/><b/><c y="1" z="2"/>"#);
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
}
