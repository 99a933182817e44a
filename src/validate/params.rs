//! Query parameter rules, read from the OpenAPI document: what each described `in: query`
//! parameter of an operation may hold.
//!
//! The document is the contract the gateway enforces, so a `query` or `sort` that Unity
//! Connection would refuse is answered 400 here instead of taking one of its few request
//! slots. The rules are data: a parameter's schema `pattern` (ECMA-262 syntax, matched
//! anywhere in the value as JSON Schema says, so anchor it with `^…$`), its `type` (`integer`,
//! `number`, `boolean`; `string` takes any text) and `minimum` / `maximum`. Other keywords are
//! not enforced. Patterns are compiled by regex-lite, whose syntax is the common ground of
//! ECMA-262 and Rust for what such patterns need (classes, groups, alternation, anchors,
//! counted repetition); a pattern it cannot compile (a lookahead, a backreference) stops the
//! start-up, naming the parameter, rather than going unenforced. Its `\s` is ASCII-only, unlike
//! ECMA-262's: write the characters out (`[ ]`) when it matters.
//!
//! Values are decoded as Unity Connection decodes them ([`cupi_uri::query_string`]). Names are
//! exact, as OpenAPI has them, and a parameter the operation does not describe is refused
//! (`unknown_parameter`, as an unknown body field is): a misspelt `rowPerPage` would be
//! ignored upstream and the whole list fetched, and a `QUERY` would reach a server that reads
//! names in any case (the simulator does) without being checked.

use serde_json::Value;

use super::violation::{Subject, Violation, MAX_VIOLATIONS};
use cupi_uri::query_string::{raw_pairs, url_decode};

/// The longest piece of a client's value an error message quotes.
const QUOTED_VALUE_CHARS: usize = 80;

/// The query parameters one operation describes.
#[derive(Clone, Debug, Default)]
pub struct QueryRules {
    params: Vec<ParamRule>,
}

/// One described query parameter.
#[derive(Clone, Debug)]
pub struct ParamRule {
    /// The name as the document spells it (and as errors name it).
    pub name: String,
    pub required: bool,
    pub value: ValueRule,
}

/// What a parameter's value may be, from its schema.
#[derive(Clone, Debug)]
pub enum ValueRule {
    /// Any text, or text the pattern matches.
    Text { pattern: Option<regex_lite::Regex> },
    /// A decimal number (an integer when `integer`), within the bounds.
    Number {
        integer: bool,
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
}

/// Why a parameter's schema cannot be enforced.
#[derive(Debug, thiserror::Error)]
#[error("the pattern of query parameter {parameter} does not compile: {message}")]
pub struct PatternError {
    pub parameter: String,
    pub message: String,
}

impl ParamRule {
    /// The rule of a parameter named `name` with the (resolved) JSON Schema `schema`.
    pub fn from_schema(name: &str, required: bool, schema: &Value) -> Result<Self, PatternError> {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        let value = match schema.get("type").and_then(Value::as_str) {
            Some(kind @ ("integer" | "number")) => ValueRule::Number {
                integer: kind == "integer",
                minimum: bound("minimum"),
                maximum: bound("maximum"),
            },
            Some("boolean") => ValueRule::Boolean,
            _ => ValueRule::Text {
                pattern: schema
                    .get("pattern")
                    .and_then(Value::as_str)
                    .map(regex_lite::Regex::new)
                    .transpose()
                    .map_err(|e| PatternError {
                        parameter: name.to_owned(),
                        message: e.to_string(),
                    })?,
            },
        };
        Ok(ParamRule {
            name: name.to_owned(),
            required,
            value,
        })
    }

    /// Why `value` is not allowed, if it is not.
    fn why_refused(&self, value: &str) -> Option<String> {
        let name = &self.name;
        // Quoted only for a refusal: most values pass.
        let quoted = || quote(value);
        match &self.value {
            ValueRule::Text { pattern: None } => None,
            ValueRule::Text {
                pattern: Some(pattern),
            } => (!pattern.is_match(value)).then(|| {
                format!(
                    "{name} {} does not match the pattern of {name} in the API description",
                    quoted()
                )
            }),
            ValueRule::Boolean => (!matches!(value, "true" | "false"))
                .then(|| format!("{name} must be true or false, got {}", quoted())),
            ValueRule::Number {
                integer,
                minimum,
                maximum,
            } => {
                let number = parse_number(value, *integer);
                let in_range = number.is_some_and(|n| {
                    minimum.is_none_or(|min| n >= min) && maximum.is_none_or(|max| n <= max)
                });
                (!in_range).then(|| {
                    let kind = if *integer { "an integer" } else { "a number" };
                    let range = match (minimum, maximum) {
                        (Some(min), Some(max)) => format!(" from {min} to {max}"),
                        (Some(min), None) => format!(" of at least {min}"),
                        (None, Some(max)) => format!(" of at most {max}"),
                        (None, None) => String::new(),
                    };
                    format!("{name} must be {kind}{range}, got {}", quoted())
                })
            }
        }
    }
}

/// A JSON-style decimal (`-12`, `3.5`; no `+`, no spaces, no exponent for integers). Values too
/// long for an `f64` to tell apart are compared by their rounded value, which for the bounds
/// a parameter has (page sizes, counts) refuses them just the same.
fn parse_number(value: &str, integer: bool) -> Option<f64> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let well_formed = if integer {
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    } else {
        digits.starts_with(|c: char| c.is_ascii_digit())
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
    };
    if !well_formed {
        return None;
    }
    value.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `value` in quotes, cut short: an error message does not echo a client's whole URL.
fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTED_VALUE_CHARS) {
        Some((end, _)) => format!("{:?}…", &value[..end]),
        None => format!("{value:?}"),
    }
}

/// A client's parameter name for a message: as sent when short, else cut as [`quote`] cuts.
fn short_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().nth(QUOTED_VALUE_CHARS).is_some() {
        quote(name).into()
    } else {
        name.into()
    }
}

impl QueryRules {
    pub fn new(params: Vec<ParamRule>) -> Self {
        QueryRules { params }
    }

    /// Checks a raw (still percent-encoded) query string; every offending parameter is
    /// reported, at most [`MAX_VIOLATIONS`] of them.
    pub fn check(&self, raw_query: Option<&str>) -> Vec<Violation> {
        let mut seen = vec![false; self.params.len()];
        let mut violations = Vec::new();
        for (raw_name, raw_value) in raw_pairs(raw_query.unwrap_or("")) {
            let name = match url_decode(raw_name, true) {
                Ok(name) => name,
                Err(why) => {
                    let message = format!("a query parameter name cannot be decoded: {why}");
                    push(&mut violations, INVALID, raw_name, message);
                    continue;
                }
            };
            let Some(at) = self.params.iter().position(|p| p.name == name) else {
                let shown = short_name(&name);
                let message = match self.params.iter().find(|p| p.name.eq_ignore_ascii_case(&name)) {
                    Some(p) => format!("{shown} is not a parameter of this operation (names are case-sensitive: {})", p.name),
                    None => format!("{shown} is not a parameter of this operation"),
                };
                push(&mut violations, "unknown_parameter", &name, message);
                continue;
            };
            let rule = &self.params[at];
            let refusal = if std::mem::replace(&mut seen[at], true) {
                Some(format!("{} is given more than once", rule.name))
            } else {
                match url_decode(raw_value, true) {
                    Ok(value) => rule.why_refused(&value),
                    Err(why) => Some(format!("{} cannot be decoded: {why}", rule.name)),
                }
            };
            if let Some(message) = refusal {
                push(&mut violations, INVALID, &rule.name, message);
            }
        }
        for (rule, seen) in self.params.iter().zip(seen) {
            if rule.required && !seen {
                push(
                    &mut violations,
                    INVALID,
                    &rule.name,
                    format!("{} is required", rule.name),
                );
            }
        }
        violations
    }
}

/// The code of a described parameter with a value it may not have.
const INVALID: &str = "invalid_parameter";

/// Adds a violation about parameter `name` (cut short like a message's, so an invented 60 KB
/// name is not echoed whole), up to [`MAX_VIOLATIONS`].
fn push(violations: &mut Vec<Violation>, code: &'static str, name: &str, message: String) {
    if violations.len() < MAX_VIOLATIONS {
        violations.push(Violation {
            code,
            subject: Subject::Parameter(short_name(name).into_owned()),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> QueryRules {
        QueryRules::new(vec![
            ParamRule::from_schema(
                "query",
                false,
                &json!({"type": "string", "pattern": "^\\((?:[Aa]|[Bb]) [^ ]+\\)$"}),
            )
            .unwrap(),
            ParamRule::from_schema(
                "rowsPerPage",
                false,
                &json!({"type": "integer", "minimum": 0, "maximum": 2147483647}),
            )
            .unwrap(),
            ParamRule::from_schema("id", true, &json!({"type": "string"})).unwrap(),
        ])
    }

    fn refused(raw: &str) -> Vec<(String, String)> {
        rules()
            .check(Some(raw))
            .into_iter()
            .map(|v| (v.subject.name().to_owned(), v.message))
            .collect()
    }

    #[test]
    fn values_the_schemas_allow_pass() {
        for raw in [
            "id=x&query=(a+1)",
            "id=x&query=(B%201)&rowsPerPage=0&&",
            "id=&rowsPerPage=2147483647",
        ] {
            assert_eq!(refused(raw), [], "{raw}");
        }
    }

    #[test]
    fn each_refused_parameter_is_named() {
        let names = |raw| {
            refused(raw)
                .into_iter()
                .map(|(name, _)| name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("id=x&query=(c+1)"), ["query"]);
        assert_eq!(names("id=x&query=(a+1)+"), ["query"], "anchored");
        assert_eq!(names("id=x&rowsPerPage=-1"), ["rowsPerPage"]);
        assert_eq!(names("id=x&rowsPerPage=2147483648"), ["rowsPerPage"]);
        assert_eq!(names("id=x&rowsPerPage=1.0"), ["rowsPerPage"]);
        assert_eq!(names("id=x&rowsPerPage=+1"), ["rowsPerPage"]);
        assert_eq!(names("id=x&rowsPerPage="), ["rowsPerPage"]);
        assert_eq!(names("id=x&query=(a+%zz)"), ["query"]);
        assert_eq!(names("id=x&q%zz=1"), ["q%zz"]);
        assert_eq!(names("id=x&query=(a+1)&query=(a+1)"), ["query"]);
        assert_eq!(names("query=(c+1)"), ["query", "id"]);
        assert_eq!(names("id=x&QUERY=(a+1)&fresh=1"), ["QUERY", "fresh"]);
    }

    #[test]
    fn messages_say_what_is_wanted_and_quote_little() {
        let messages = refused("id=x&rowsPerPage=x&query=".to_owned().as_str());
        assert_eq!(
            messages[0].1,
            "rowsPerPage must be an integer from 0 to 2147483647, got \"x\""
        );
        let long = format!("id=x&query={}", "y".repeat(10_000));
        let message = &refused(&long)[0].1;
        assert!(message.len() < 200, "{message}");
        assert_eq!(
            refused("id=x&RowsPerPage=1")[0].1,
            "RowsPerPage is not a parameter of this operation (names are case-sensitive: rowsPerPage)"
        );
    }

    #[test]
    fn booleans_and_numbers_are_read_as_json_writes_them() {
        let flag = ParamRule::from_schema("flag", false, &json!({"type": "boolean"})).unwrap();
        assert_eq!(flag.why_refused("true"), None);
        assert!(flag.why_refused("1").is_some());
        let ratio =
            ParamRule::from_schema("ratio", false, &json!({"type": "number", "maximum": 1}))
                .unwrap();
        for ok in ["0.5", "-3", "1e-3", "1"] {
            assert_eq!(ratio.why_refused(ok), None, "{ok}");
        }
        for bad in ["1.5", "0x1", "NaN", "inf", "1-2", ".5", ""] {
            assert!(ratio.why_refused(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_pattern_regex_lite_cannot_compile_names_its_parameter() {
        let error =
            ParamRule::from_schema("q", false, &json!({"type": "string", "pattern": "(?=a)"}))
                .unwrap_err();
        assert_eq!(error.parameter, "q");
    }
}
