//! One JSON object read into XML: its start tag, its entries as attributes, text and child
//! elements, and its end tag.
//!
//! The start tag is written before every key is seen, so an attribute that comes after
//! content is held back and put into the tag when the element ends.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::MapAccess;

use super::role::{ObjectRole, Role};
use super::visitor::{KeySeed, ValueSeed};
use super::writer::{RootProblem, Segment, XmlWriter};
use super::JsonError;

/// How far an element's start tag is written.
#[derive(Clone, Copy)]
enum StartTag {
    /// `<Name attr="v"`: attributes go at the end.
    Open,
    /// `<Name attr="v">…`: late attributes go in at `attributes_at`, where the `>` is, when
    /// the element ends.
    Closed { attributes_at: usize },
}

/// An object being read: what it is read as, and how far its element is written.
struct OpenObject<'o> {
    role: ObjectRole<'o>,
    /// Its index in [`XmlWriter::keys`].
    level: usize,
    /// The element it becomes, and its depth (the root is 1).
    element: Option<(&'o str, usize)>,
    /// `None` when no element is being written for it.
    tag: Option<StartTag>,
    /// Attributes that come after content: put into the start tag once, at the end, so that
    /// many of them cost one move of the element's content, not one each.
    late_attributes: Vec<u8>,
    entries: usize,
}

impl<'de> XmlWriter<'de> {
    /// Reads one object: an element's attributes and children, the document's top level, or
    /// (once output has stopped) an object only checked for duplicate keys.
    pub(super) fn object<A: MapAccess<'de>>(
        &mut self,
        first: Option<Cow<'de, str>>,
        map: &mut A,
        role: ObjectRole<'_>,
    ) -> Result<(), A::Error> {
        let mut object = self.open_object(role);
        let mut next = first;
        while let Some(key) = next {
            self.entry(&mut object, key, map)?;
            next = map.next_key_seed(KeySeed)?;
        }
        self.close_object(object);
        Ok(())
    }

    /// Makes room for the object's keys and writes `<Name` if it becomes an element.
    fn open_object<'o>(&mut self, role: ObjectRole<'o>) -> OpenObject<'o> {
        let level = self.open_objects;
        match self.keys.get_mut(level) {
            // Clearing costs the set's capacity: after one huge object, the many small ones
            // that may follow at its depth would each pay for it.
            Some(keys) if keys.capacity() > 256 => *keys = HashSet::new(),
            Some(keys) => keys.clear(),
            None => self.keys.push(HashSet::new()),
        }
        self.open_objects += 1;
        let element = match role {
            ObjectRole::Element { name, depth } => Some((name, depth)),
            ObjectRole::Root { name } => Some((name, 1)),
            ObjectRole::Unknown | ObjectRole::Skip => None,
        };
        let tag = match element {
            Some((name, _)) if self.writing() => {
                self.out.push(b'<');
                self.out.extend_from_slice(name.as_bytes());
                Some(StartTag::Open)
            }
            _ => None,
        };
        OpenObject {
            role,
            level,
            element,
            tag,
            late_attributes: Vec::new(),
            entries: 0,
        }
    }

    /// Reads the value of `key`, the object's next key.
    fn entry<A: MapAccess<'de>>(
        &mut self,
        object: &mut OpenObject<'_>,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let duplicate = !self.keys[object.level].insert(key.clone());
        self.path.push(Segment::Key(key.clone()));
        let value_role = self.value_role(&key, object);
        map.next_value_seed(ValueSeed {
            writer: self,
            role: value_role,
        })?;
        match value_role {
            Role::Attribute { .. } => self.place_attribute(object.tag, &mut object.late_attributes),
            // The wrapper's element stands in for the root's.
            Role::Wrapper { .. } if self.wrapped => object.tag = None,
            _ => {}
        }
        self.path.pop();
        if duplicate && self.duplicate.is_none() {
            self.duplicate = Some(JsonError::DuplicateKey {
                key: key.into_owned(),
                pointer: self.pointer(),
            });
        }
        self.check_size();
        object.entries += 1;
        Ok(())
    }

    /// How the value of `key` is read in `object`.
    fn value_role<'o: 'v, 'v>(&mut self, key: &'v str, object: &mut OpenObject<'o>) -> Role<'v> {
        // This object is the document's top level when it is the only one open.
        let beside_wrapped_root = object.entries > 0 && self.wrapped && self.open_objects == 1;
        match (object.role, object.element) {
            _ if beside_wrapped_root => {
                // A second key beside what was read as the wrapped root.
                self.fail_root(match object.role {
                    ObjectRole::Unknown => RootProblem::NoRoot,
                    _ => RootProblem::ReadAgainUnwrapped,
                });
                Role::Skip
            }
            (ObjectRole::Unknown, _) => self.top_level_key(key, object.entries),
            (_, Some((name, depth))) if object.tag.is_some() && self.writing() => {
                self.child_role(key, name, depth, object)
            }
            _ => Role::Skip,
        }
    }

    /// How the value of `key` is read inside element `name`, which is being written.
    fn child_role<'k>(
        &mut self,
        key: &'k str,
        name: &'k str,
        depth: usize,
        object: &mut OpenObject<'_>,
    ) -> Role<'k> {
        if let Some(attribute) = key.strip_prefix('@') {
            if !self.check_name(attribute) {
                return Role::Skip;
            }
            return Role::Attribute { name: attribute };
        }
        // Anything but an attribute is content: the start tag ends before it.
        if let Some(StartTag::Open) = object.tag {
            self.out.push(b'>');
            object.tag = Some(StartTag::Closed {
                attributes_at: self.out.len() - 1,
            });
        }
        if key == "#text" {
            Role::Text
        } else if object.entries == 0
            && key == name
            && self.may_wrap
            && matches!(object.role, ObjectRole::Root { .. })
        {
            Role::Wrapper { name }
        } else {
            Role::Element {
                name: key,
                depth: depth + 1,
            }
        }
    }

    /// The top level of a body for a resource whose root is unknown: its one key names it.
    fn top_level_key<'k>(&mut self, key: &'k str, entries: usize) -> Role<'k> {
        if entries > 0 || key.starts_with('@') || key == "#text" {
            self.fail_root(RootProblem::NoRoot);
            Role::Skip
        } else {
            Role::UnknownRoot { name: key }
        }
    }

    /// Puts the attribute just read into its element's start tag or, if content written
    /// before it has closed the tag already, with the `late` ones that go in when it ends.
    fn place_attribute(&mut self, tag: Option<StartTag>, late: &mut Vec<u8>) {
        match tag {
            _ if !self.writing() => {}
            Some(StartTag::Open) => self.out.extend_from_slice(&self.attribute),
            Some(StartTag::Closed { .. }) => {
                late.extend_from_slice(&self.attribute);
                self.late_bytes += self.attribute.len();
            }
            None => {}
        }
        self.attribute.clear();
    }

    /// Ends the object's element, with its late attributes put into the start tag.
    fn close_object(&mut self, object: OpenObject<'_>) {
        if matches!(object.role, ObjectRole::Unknown) && object.entries == 0 {
            self.fail_root(RootProblem::NoRoot);
        }
        if let (Some(tag), Some((name, _))) = (object.tag, object.element) {
            match tag {
                StartTag::Open => self.out.extend_from_slice(b"/>"),
                StartTag::Closed { attributes_at } => {
                    let late_attributes = object.late_attributes;
                    self.late_bytes -= late_attributes.len();
                    if self.writing() && !late_attributes.is_empty() {
                        self.out
                            .splice(attributes_at..attributes_at, late_attributes);
                    }
                    self.out.extend_from_slice(b"</");
                    self.out.extend_from_slice(name.as_bytes());
                    self.out.push(b'>');
                }
            }
        }
        self.open_objects -= 1;
    }
}
