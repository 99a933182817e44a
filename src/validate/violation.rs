//! What a refused request is told: one [`Violation`] per offending field or parameter, each
//! naming its [`Subject`], and how it becomes an entry of the JSON error shape.

use crate::error::ErrorEntry;

/// The most violations one answer lists.
pub(super) const MAX_VIOLATIONS: usize = 50;

/// One problem with a request, reported with the field or parameter it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// `unknown_field`, `read_only_field`, `invalid_type` or `invalid_parameter`.
    pub code: &'static str,
    pub subject: Subject,
    pub message: String,
}

/// What a [`Violation`] is about, so a client can show the message next to the input that
/// caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A request body field, named `field` in the error.
    Field(String),
    /// A query parameter, named `parameter` in the error.
    Parameter(String),
}

impl Violation {
    /// This violation as an entry of the JSON error shape, naming its subject.
    pub fn into_entry(self) -> ErrorEntry {
        ErrorEntry {
            code: self.code,
            message: self.message,
            about: (self.subject.json_key(), self.subject.name().to_owned()),
        }
    }
}

impl Subject {
    /// The key of the error entry that names the subject.
    pub fn json_key(&self) -> &'static str {
        match self {
            Subject::Field(_) => "field",
            Subject::Parameter(_) => "parameter",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Subject::Field(name) | Subject::Parameter(name) => name,
        }
    }
}
