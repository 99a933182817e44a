//! Where a JSON value is, which decides what it becomes: an element, an array's items, an
//! attribute, text, the root, or nothing (read only for syntax and duplicate keys).

use super::writer::{RootProblem, XmlWriter};
use super::{JsonError, DECLARATION};

/// Where a JSON value is, which decides what it becomes.
#[derive(Clone, Copy)]
pub(super) enum Role<'k> {
    /// The whole body.
    Document { root: Option<&'k str> },
    /// The value of an element's key: one element, or one per item of an array.
    Element { name: &'k str, depth: usize },
    /// One item of an array under `name`.
    Item { name: &'k str, depth: usize },
    /// The value of an `@name` key.
    Attribute { name: &'k str },
    /// The value of a `#text` key.
    Text,
    /// The first key of a body for a known root, named like the root: if it holds an object,
    /// the body is wrapped and this is the root element.
    Wrapper { name: &'k str },
    /// The first key of a body for an unknown root, which must hold an object.
    UnknownRoot { name: &'k str },
    /// Read only for syntax and duplicate keys.
    Skip,
}

/// What an object is read as.
#[derive(Clone, Copy)]
pub(super) enum ObjectRole<'k> {
    Element {
        name: &'k str,
        depth: usize,
    },
    /// The top level, for a known root: its content, unless it turns out to be wrapped.
    Root {
        name: &'k str,
    },
    /// The top level, for an unknown root: it must be `{"Root": {...}}`.
    Unknown,
    Skip,
}

impl XmlWriter<'_> {
    /// What role an array's items have, having checked that this place may hold an array.
    pub(super) fn array_items<'k>(&mut self, role: Role<'k>) -> Role<'k> {
        match role {
            Role::Document { .. } => self.fail_root(RootProblem::NotAnObject("an array")),
            Role::UnknownRoot { .. } => self.fail_root(RootProblem::NoRoot),
            Role::Wrapper { name } => return self.array_items(Role::Element { name, depth: 2 }),
            // The key is checked once, here, also for an empty array (`{"1bad": []}`); a bad
            // one is recorded by the check and the items are skipped.
            Role::Element { name, depth } if self.writing() && self.check_name(name) => {
                return Role::Item { name, depth };
            }
            Role::Item { .. } if self.writing() => {
                self.fail(|pointer| JsonError::NestedArray { pointer })
            }
            Role::Attribute { .. } | Role::Text if self.writing() => {
                self.fail(|pointer| JsonError::AttributeNotScalar { pointer })
            }
            _ => {}
        }
        Role::Skip
    }

    /// What role an object has, having checked that this place may hold one.
    pub(super) fn object_role<'k>(&mut self, role: Role<'k>) -> ObjectRole<'k> {
        match role {
            Role::Document { root: Some(name) } => return ObjectRole::Root { name },
            Role::Document { root: None } => return ObjectRole::Unknown,
            Role::Wrapper { name } | Role::UnknownRoot { name } => {
                if self.writing() {
                    // Drop the `<Root>` already written for the unwrapped reading.
                    self.out.truncate(DECLARATION.len());
                }
                self.wrapped = true;
                if self.check_element(name, 1) {
                    return ObjectRole::Element { name, depth: 1 };
                }
            }
            Role::Element { name, depth } => {
                if self.check_element(name, depth) {
                    return ObjectRole::Element { name, depth };
                }
            }
            Role::Item { name, depth } => {
                if self.check_depth(depth) {
                    return ObjectRole::Element { name, depth };
                }
            }
            Role::Attribute { .. } | Role::Text if self.writing() => {
                self.fail(|pointer| JsonError::AttributeNotScalar { pointer })
            }
            Role::Attribute { .. } | Role::Text | Role::Skip => {}
        }
        ObjectRole::Skip
    }
}
