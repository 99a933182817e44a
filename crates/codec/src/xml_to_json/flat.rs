//! List items written as they are read, with no tree: CUPI's items are flat (a `<Port>` holds
//! some thirty leaves, each named once, none with attributes), and the JSON of such an item
//! follows its events one by one. Building its tree and then grouping the tree's children
//! cost about as much again as quick-xml's reading of it.
//!
//! An item is read flat while it stays flat: no attribute on it or on a child, no child inside
//! a child, no name twice, no text beside its children but whitespace. At the first event that
//! breaks this, or that the tree would refuse, the children read so far are handed to the
//! [`Tree`], which takes that event and reads the rest of the item; so each item gives the JSON
//! and the errors the tree gives it, and only items that are not flat pay for both
//! (`cupi_codec::fuzzing::check_xml_to_json` compares every document with the tree alone).
//!
//! What the schema says of a child (its type, whether it is declared an array) is looked up
//! once per list, not once per item: the children of the last item read flat are kept as a
//! [`Shape`], and the next item's, nearly always the same names in the same order, are
//! matched against it name by name, which also spares checking each name again.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use rustc_hash::FxBuildHasher;

use super::source::Events;
use super::tree::{event_text, push_str, resolve_reference, NodeBudget, NodeId, Tree};
use super::writer::{key, JsonWriter, Text};
use super::{XmlError, MAX_DEPTH};
use crate::scan::Needles;
use crate::{is_xml_name, FieldType, Fields, Schema};

/// Children past which an item is left to the tree: that a name is not repeated is checked
/// by a search of the names before it.
const MAX_FLAT_CHILDREN: usize = 64;

/// How deep a list item is; its children are within the depth limit.
const ITEM_DEPTH: usize = 2;
const _: () = assert!(ITEM_DEPTH < MAX_DEPTH);

/// How reading an item ended.
pub(super) enum Read {
    /// Flat: its JSON is in [`FlatItems::json`].
    Flat,
    /// Not flat: the tree holds it, read up to its end tag.
    Tree,
}

/// What reading items flat keeps from one item to the next, buffers included.
pub(super) struct FlatItems<'s> {
    /// The JSON of the item last read flat.
    pub(super) json: Vec<u8>,
    /// The item's children so far. The names of the first [`FlatItems::shaped`] are the
    /// shape's; the others' names, and all text, are spans of `strings`.
    children: Vec<Child>,
    shaped: usize,
    strings: String,
    /// Whitespace directly inside the item before its first child: its value if it has none.
    lead: String,
    shape: Shape<'s>,
}

/// A child read flat, and what the schema says of it.
#[derive(Clone, Debug)]
struct Child {
    name: Range<usize>,
    text: Range<usize>,
    /// Whether the text is all [`PLAIN`] bytes, so XML allows it as it is and JSON needs no
    /// escape in it: one search of it, not two.
    plain: bool,
    ty: Option<FieldType>,
    is_array: bool,
}

/// What a [`Child::plain`] text has none of: control characters (which XML text may not hold
/// or has normalised, and JSON escapes), `"` and `\\` (which JSON escapes), and bytes of
/// characters past ASCII (among them U+FFFE and U+FFFF, which XML forbids).
const PLAIN: Needles = Needles::new(0x20, [b'"', b'\\']).or_not_ascii();

/// The last item read flat: its name, its children's names in order (spans of `strings`, the
/// item's name first), and the schema's word on each.
#[derive(Default)]
struct Shape<'s> {
    item: Range<usize>,
    fields: Option<&'s Fields>,
    arrays: Option<&'s HashSet<String, FxBuildHasher>>,
    children: Vec<ShapeChild>,
    strings: String,
}

#[derive(Clone, Debug)]
struct ShapeChild {
    name: Range<usize>,
    ty: Option<FieldType>,
    is_array: bool,
}

impl<'s> Shape<'s> {
    /// The shape for items named `item`: the last one if it is theirs, else an empty one.
    fn follow(&mut self, item: &str, schema: &'s Schema) {
        if &self.strings[self.item.clone()] != item {
            self.strings.clear();
            self.item = push_str(&mut self.strings, item);
            self.fields = schema.fields_of(item);
            self.arrays = schema.arrays_of(item);
            self.children.clear();
        }
    }

    /// The `at`th child, if it is named `name`.
    fn child(&self, at: usize, name: &str) -> Option<&ShapeChild> {
        self.children
            .get(at)
            .filter(|child| &self.strings[child.name.clone()] == name)
    }
}

/// Why an item stopped being read flat.
enum Stop<'e> {
    /// An event only the tree takes, and where it began.
    Event(Event<'e>, u64),
    /// Text directly inside the item that is not whitespace.
    Text(String),
}

impl<'s> FlatItems<'s> {
    /// Buffers sized for a CUPI item (some thirty children, about 1.2 kB of names and text,
    /// as much JSON, 600 bytes of names), so the first item does not grow them a piece at a
    /// time.
    pub(super) fn sized_for_an_item() -> Self {
        FlatItems {
            json: Vec::with_capacity(2048),
            children: Vec::with_capacity(32),
            shaped: 0,
            strings: String::with_capacity(2048),
            lead: String::new(),
            shape: Shape {
                children: Vec::with_capacity(32),
                strings: String::with_capacity(1024),
                ..Shape::default()
            },
        }
    }

    /// Reads the content of list item `item` (its start tag read) up to its end tag: flat
    /// when it is, else into `tree`, which already holds the item's element.
    pub(super) fn read<E: Events>(
        &mut self,
        item: NodeId,
        events: &mut E,
        tree: &mut Tree,
        budget: &mut NodeBudget,
        writer: &mut JsonWriter<'s>,
    ) -> Result<Read, XmlError> {
        if tree.has_attrs(item) {
            tree.read_content(events, item, ITEM_DEPTH, budget)?;
            return Ok(Read::Tree);
        }
        self.shape.follow(tree.name(item), writer.schema);
        self.json.clear();
        self.children.clear();
        self.shaped = 0;
        self.strings.clear();
        self.lead.clear();
        self.json.push(b'{');
        // Values the flat JSON counted as kept strings; the tree counts them again if it
        // takes over.
        let fallbacks = writer.fallbacks;
        let mut first = true;
        // Whether the last child's end tag is awaited.
        let mut in_child = false;
        loop {
            let position = events.position();
            let event = events.next_event()?;
            let stop = match event {
                Event::Start(ref start) | Event::Empty(ref start) if !in_child => {
                    if !self.begin_child(start, &mut first) {
                        Some(Stop::Event(event, position))
                    } else {
                        budget.charge()?;
                        in_child = matches!(event, Event::Start(_));
                        if !in_child {
                            self.write_last_child(writer);
                        }
                        None
                    }
                }
                Event::End(_) if in_child => {
                    self.write_last_child(writer);
                    in_child = false;
                    None
                }
                // With no child, the item is a scalar, for the tree to write.
                Event::End(_) if self.children.is_empty() => Some(Stop::Event(event, position)),
                Event::End(_) => {
                    self.json.push(b'}');
                    self.keep_shape();
                    return Ok(Read::Flat);
                }
                Event::Text(ref t) if in_child && self.plain(t) => None,
                Event::CData(ref c) if in_child && self.plain(c) => None,
                Event::Text(t) => self.text(event_text(&t, || t.xml10_content())?, in_child),
                Event::CData(c) => self.text(event_text(&c, || c.xml10_content())?, in_child),
                Event::GeneralRef(r) => self.text(resolve_reference(&r)?.into(), in_child),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => None,
                // A child in a child, a doctype, the end of the input: the tree's to take.
                _ => Some(Stop::Event(event, position)),
            };
            let Some(stop) = stop else {
                continue;
            };
            // The tree takes over where the flat reading stopped; the flat JSON is dropped.
            writer.fallbacks = fallbacks;
            let open = self.hand_over(item, in_child, tree);
            tree.reopen(&open);
            match stop {
                Stop::Text(text) => tree.push_text(item, &text),
                Stop::Event(event, position) => {
                    if tree.take(event, position, ITEM_DEPTH, budget)? {
                        return Ok(Read::Tree);
                    }
                }
            }
            tree.read_open(events, ITEM_DEPTH, budget)?;
            return Ok(Read::Tree);
        }
    }

    /// Begins a child at its start tag, if it keeps the item flat (no attribute, a name not
    /// used before in the item, and not past [`MAX_FLAT_CHILDREN`]), with its key.
    fn begin_child(&mut self, start: &BytesStart<'_>, first: &mut bool) -> bool {
        let at = self.children.len();
        let name = start.name();
        let name: &str = name.as_ref();
        let no_attributes = start
            .attributes_raw()
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if at == MAX_FLAT_CHILDREN || !no_attributes {
            return false;
        }
        // Named as the shape's child in the same place, after children that all were: a name
        // checked before, distinct from those before it, its schema word known.
        let shaped = self.shaped == at;
        let (span, ty, is_array) = match self.shape.child(at, name).filter(|_| shaped) {
            Some(known) => {
                self.shaped += 1;
                key(
                    &mut self.json,
                    first,
                    "",
                    &self.shape.strings[known.name.clone()],
                );
                (0..0, known.ty, known.is_array)
            }
            None => {
                if !is_xml_name(name) || (0..at).any(|earlier| self.name(earlier) == name) {
                    return false;
                }
                let ty = self.shape.fields.and_then(|f| f.get(name).copied());
                let is_array = self.shape.arrays.is_some_and(|a| a.contains(name));
                key(&mut self.json, first, "", name);
                (push_str(&mut self.strings, name), ty, is_array)
            }
        };
        let text = self.strings.len()..self.strings.len();
        self.children.push(Child {
            name: span,
            text,
            plain: true,
            ty,
            is_array,
        });
        true
    }

    /// The name of the `at`th child.
    fn name(&self, at: usize) -> &str {
        if at < self.shaped {
            &self.shape.strings[self.shape.children[at].name.clone()]
        } else {
            &self.strings[self.children[at].name.clone()]
        }
    }

    /// Makes the item just read the shape, unless it has the shape's children already.
    fn keep_shape(&mut self) {
        let shape = &mut self.shape;
        if self.shaped == self.children.len() && shape.children.len() == self.shaped {
            return;
        }
        // The names the item shares with the shape, in the same places, stay where they are.
        shape.children.truncate(self.shaped);
        let kept = shape.children.last().map_or(shape.item.end, |c| c.name.end);
        shape.strings.truncate(kept);
        for child in &self.children[self.shaped..] {
            let name = &self.strings[child.name.clone()];
            shape.children.push(ShapeChild {
                name: push_str(&mut shape.strings, name),
                ty: child.ty,
                is_array: child.is_array,
            });
        }
    }

    /// Adds `piece` to the open child's text if it is plain ([`Child::plain`]).
    fn plain(&mut self, piece: &str) -> bool {
        if PLAIN.find(piece.as_bytes(), 0).is_some() {
            return false;
        }
        let child = self.children.last_mut().expect("an open child");
        child.text.end = push_str(&mut self.strings, piece).end;
        true
    }

    /// A piece of text: the open child's, whitespace beside the children, or else the end
    /// of the flat reading.
    fn text(&mut self, piece: Cow<'_, str>, in_child: bool) -> Option<Stop<'static>> {
        if in_child {
            let child = self.children.last_mut().expect("an open child");
            child.text.end = push_str(&mut self.strings, &piece).end;
            child.plain = false;
        } else if !piece.trim().is_empty() {
            return Some(Stop::Text(piece.into_owned()));
        } else if self.children.is_empty() {
            // Before the first child it is the item's value, should no child come.
            self.lead.push_str(&piece);
        }
        // (Whitespace between children is indentation.)
        None
    }

    /// The last child's value, after its key.
    fn write_last_child(&mut self, writer: &mut JsonWriter<'s>) {
        let child = self.children.last().expect("a child");
        let text = &self.strings[child.text.clone()];
        let text = if child.plain {
            Text::Plain(text)
        } else {
            Text::Any(text)
        };
        if child.is_array {
            self.json.push(b'[');
            writer.scalar_text(&mut self.json, text, child.ty);
            self.json.push(b']');
        } else {
            writer.scalar_text(&mut self.json, text, child.ty);
        }
    }

    /// Puts what was read of the item into `tree` as the tree would have read it; returns
    /// the elements still open, the item first.
    fn hand_over(&self, item: NodeId, in_child: bool, tree: &mut Tree) -> Vec<NodeId> {
        if !self.lead.is_empty() {
            tree.push_text(item, &self.lead);
        }
        let mut open = vec![item];
        for (at, child) in self.children.iter().enumerate() {
            let id = tree.add_leaf(item, self.name(at), &self.strings[child.text.clone()]);
            open.truncate(1);
            open.push(id);
        }
        if !in_child {
            open.truncate(1);
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::xml_to_json::{whole_xml_to_json, xml_to_json_by_tree};
    use crate::{FieldType, JsonStyle, Schema};

    /// Found by a review: an item that stops being flat after a child whose text was kept as a
    /// string counted that value twice, once as written flat and once by the tree.
    #[test]
    fn an_item_handed_to_the_tree_counts_its_kept_strings_once() {
        let mut schema = Schema::new();
        schema.add_list("L", "P");
        let fields = [("I", FieldType::Integer), ("B", FieldType::Boolean)];
        let fields: HashMap<_, _> = fields.map(|(n, t)| (n.to_owned(), t)).into();
        schema.add_object("P", fields);
        for (xml, kept) in [
            (r#"<L total="1"><P><I>x</I><I>1</I></P></L>"#, 1),
            (r#"<L total="1"><P><I>x</I><Z a="1"/></P></L>"#, 1),
            (r#"<L total="1"><P><I>x</I><Z><Y/></Z></P></L>"#, 1),
            (r#"<L total="1"><P><B>yes</B><I>x</I>t</P></L>"#, 2),
        ] {
            let mut json = Vec::new();
            let typed = JsonStyle::Typed;
            let counted = whole_xml_to_json(xml.as_bytes(), &schema, typed, u64::MAX, &mut json);
            assert_eq!(counted, Ok(kept), "{xml}");
            let by_tree = xml_to_json_by_tree(xml.as_bytes(), &schema, typed, u64::MAX);
            assert_eq!(by_tree, Ok((json, kept)), "{xml}");
        }
    }
}
