//! The XML being written and what stops it: the output buffer and its bound, the JSON
//! Pointer to where the reader is, and the problems found so far, of which the client hears
//! one. The serde side (`visitor`) calls in here once per JSON event.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use super::escape::{escape, Escape};
use super::names::is_xml_name;
use super::role::Role;
use super::{JsonError, DECLARATION};
use crate::number_text::NumberTexts;
use crate::MAX_DEPTH;

/// What the document as a whole turned out to be, when that stops it from becoming XML.
pub(super) enum RootProblem {
    NotAnObject(&'static str),
    NoRoot,
    ReadAgainUnwrapped,
}

/// One step of the JSON Pointer to where the reader is; rendered only for an error.
pub(super) enum Segment<'de> {
    Key(Cow<'de, str>),
    Index(usize),
}

/// The state of one reading of a body: the XML written so far and what the reading found.
pub(super) struct XmlWriter<'de> {
    pub(super) out: Vec<u8>,
    pub(super) max_xml: usize,
    /// Whether `{"Root": {...}}` may be read as the root itself (the first reading).
    pub(super) may_wrap: bool,
    /// Set when the document's single key was read as its root element.
    pub(super) wrapped: bool,
    pub(super) path: Vec<Segment<'de>>,
    /// The keys of each open object, for duplicates; kept between objects for their capacity.
    /// Hashed with std's seeded SipHash: the keys are the client's, and with an unseeded hash
    /// a client could send keys that all collide and make each insert cost the whole object.
    pub(super) keys: Vec<HashSet<Cow<'de, str>>>,
    pub(super) open_objects: usize,
    /// An attribute, written here while its element's start tag may already be closed.
    pub(super) attribute: Vec<u8>,
    /// Bytes of late attributes waiting for their elements to end, counted toward `max_xml`.
    pub(super) late_bytes: usize,
    pub(super) duplicate: Option<JsonError>,
    pub(super) root_problem: Option<RootProblem>,
    pub(super) problem: Option<JsonError>,
    /// Where each number's own text is found again in the body.
    pub(super) numbers: NumberTexts<'de>,
}

impl<'de> XmlWriter<'de> {
    pub(super) fn new(json: &'de [u8], max_xml: usize, may_wrap: bool) -> Self {
        let json_len = json.len();
        let capacity = (json_len + json_len / 2 + 64).min(max_xml);
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(DECLARATION.as_bytes());
        XmlWriter {
            out,
            max_xml,
            may_wrap,
            wrapped: false,
            path: Vec::new(),
            keys: Vec::new(),
            open_objects: 0,
            attribute: Vec::new(),
            late_bytes: 0,
            duplicate: None,
            root_problem: None,
            problem: None,
            numbers: NumberTexts::new(json),
        }
    }

    pub(super) fn finish(mut self) -> Result<Option<Vec<u8>>, JsonError> {
        self.check_size();
        if let Some(duplicate) = self.duplicate {
            return Err(duplicate);
        }
        match self.root_problem {
            Some(RootProblem::NotAnObject(kind)) => return Err(JsonError::NotAnObject(kind)),
            Some(RootProblem::NoRoot) => return Err(JsonError::NoRoot),
            Some(RootProblem::ReadAgainUnwrapped) => return Ok(None),
            None => {}
        }
        match self.problem {
            Some(problem) => Err(problem),
            None => Ok(Some(self.out)),
        }
    }

    /// Whether output is still wanted: after the first problem the rest is only read, for
    /// syntax errors and duplicate keys, which take precedence.
    pub(super) fn writing(&self) -> bool {
        self.problem.is_none() && self.root_problem.is_none() && self.duplicate.is_none()
    }

    pub(super) fn pointer(&self) -> String {
        let mut pointer = String::new();
        for segment in &self.path {
            pointer.push('/');
            match segment {
                // RFC 6901: `~` → `~0`, `/` → `~1`.
                Segment::Key(key) => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
                Segment::Index(i) => {
                    let _ = write!(pointer, "{i}");
                }
            }
        }
        pointer
    }

    pub(super) fn fail(&mut self, problem: impl FnOnce(String) -> JsonError) {
        if self.problem.is_none() {
            self.problem = Some(problem(self.pointer()));
        }
    }

    /// Called after each value: output stops once past the limit, overshooting it by at most
    /// one value's escaped text.
    pub(super) fn check_size(&mut self) {
        if self.out.len() + self.late_bytes > self.max_xml && self.writing() {
            let limit = self.max_xml;
            self.fail(|_| JsonError::TooLarge { limit });
        }
    }

    pub(super) fn fail_root(&mut self, problem: RootProblem) {
        self.root_problem.get_or_insert(problem);
    }

    /// Whether an element may be written at `depth` (the root is 1), recording the problem if
    /// not. Deeper than [`MAX_DEPTH`] is refused, as the gateway would refuse to read such a
    /// document back.
    pub(super) fn check_element(&mut self, name: &str, depth: usize) -> bool {
        self.writing() && self.check_name(name) && self.check_depth(depth)
    }

    /// Whether `name` (an element's or an attribute's) is an XML name, recording the problem
    /// if not.
    pub(super) fn check_name(&mut self, name: &str) -> bool {
        if !is_xml_name(name) {
            self.fail(|pointer| JsonError::InvalidName {
                key: name.into(),
                pointer,
            });
            return false;
        }
        true
    }

    /// Whether an element may be written at `depth`, recording the problem if not. Array
    /// items check only this: their name was checked once, at the array.
    pub(super) fn check_depth(&mut self, depth: usize) -> bool {
        if !self.writing() {
            return false;
        }
        if depth > MAX_DEPTH {
            self.fail(|pointer| JsonError::TooDeep { pointer });
            return false;
        }
        true
    }

    /// `<name>text</name>`, or `<name/>` for an empty string or `null`.
    pub(super) fn leaf_element(&mut self, name: &str, text: &str) {
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        if text.is_empty() {
            self.out.extend_from_slice(b"/>");
            return;
        }
        self.out.push(b'>');
        if let Err(code) = escape(text, Escape::Text, &mut self.out) {
            self.fail(|pointer| JsonError::InvalidChar { pointer, code });
        }
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    /// Reads one object: an element's attributes and children, the document's top level, or
    /// An integer serde_json read, written as the client's text of it (`-0` stays `-0`).
    pub(super) fn integer(&mut self, role: Role<'_>, value: i128) {
        let raw = self
            .numbers
            .take_if(|raw| raw.parse::<i128>().is_ok_and(|raw| raw == value));
        match raw {
            Some(raw) => self.scalar(role, Scalar::Number(raw)),
            None => self.scalar(role, Scalar::Number(itoa::Buffer::new().format(value))),
        }
    }

    pub(super) fn scalar(&mut self, role: Role<'_>, value: Scalar<'_>) {
        match role {
            Role::Document { .. } => self.fail_root(RootProblem::NotAnObject(value.kind())),
            Role::UnknownRoot { .. } => self.fail_root(RootProblem::NoRoot),
            Role::Wrapper { name } => self.scalar(Role::Element { name, depth: 2 }, value),
            Role::Element { name, depth } => {
                if self.check_element(name, depth) {
                    self.leaf_element(name, value.text());
                }
            }
            Role::Item { name, depth } => {
                if self.check_depth(depth) {
                    self.leaf_element(name, value.text());
                }
            }
            Role::Attribute { name } if self.writing() => {
                self.attribute.push(b' ');
                self.attribute.extend_from_slice(name.as_bytes());
                self.attribute.extend_from_slice(b"=\"");
                if let Err(code) = escape(value.text(), Escape::Attribute, &mut self.attribute) {
                    self.fail(|pointer| JsonError::InvalidChar { pointer, code });
                }
                self.attribute.push(b'"');
            }
            Role::Text if self.writing() => {
                if let Err(code) = escape(value.text(), Escape::Text, &mut self.out) {
                    self.fail(|pointer| JsonError::InvalidChar { pointer, code });
                }
            }
            Role::Attribute { .. } | Role::Text | Role::Skip => {}
        }
    }
}

/// A JSON value that is neither an object nor an array.
#[derive(Clone, Copy)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    /// The number's text as the client sent it (`1e400`, `1.5E3`, `-0`).
    Number(&'a str),
    String(&'a str),
}

impl Scalar<'_> {
    /// What it is written as: booleans and numbers as their JSON text, `null` as nothing.
    fn text(&self) -> &str {
        match self {
            Scalar::Null => "",
            Scalar::Bool(true) => "true",
            Scalar::Bool(false) => "false",
            Scalar::Number(text) | Scalar::String(text) => text,
        }
    }

    /// What it is, for the error that says the body must be an object.
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Number(_) => "a number",
            Scalar::String(_) => "a string",
        }
    }
}
