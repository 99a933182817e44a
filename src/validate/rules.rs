//! The validation rules, as data read from the OpenAPI document: for each described path,
//! the methods it allows and, per method, what a request body may contain.

use std::collections::HashMap;

use http::Method;
use serde_json::{Map, Value};

use super::params::QueryRules;
use super::violation::{Subject, Violation, MAX_VIOLATIONS};
use cupi_uri::{PathTemplate, PathToMatch};

/// Every described path's rules.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    routes: Vec<RouteRules>,
}

/// What one path template allows.
#[derive(Clone, Debug)]
pub struct RouteRules {
    pub template: PathTemplate,
    /// Methods the document describes for the path (`HEAD` goes with `GET`).
    pub methods: Vec<Method>,
    /// Request-body rules of the methods that take a body.
    pub bodies: HashMap<Method, BodyRules>,
    /// Query parameter rules of each described method (none described: none allowed).
    pub queries: HashMap<Method, QueryRules>,
}

/// What a request body sent with one method to one path may contain.
#[derive(Clone, Debug)]
pub struct BodyRules {
    /// The XML root element; a JSON body may be wrapped in this one key.
    pub root: String,
    pub fields: HashMap<String, FieldRule>,
    /// Whether fields not listed are let through (the schema's `additionalProperties`).
    pub allow_unknown: bool,
}

/// One field of a request body.
#[derive(Clone, Debug)]
pub struct FieldRule {
    /// JSON Schema type names the value may have (`string`, `integer`, `null`, ...); empty
    /// means any.
    pub types: Vec<String>,
    pub read_only: bool,
}

impl Rules {
    pub fn add(&mut self, route: RouteRules) {
        self.routes
            .retain(|r| !r.template.same_shape(&route.template));
        self.routes.push(route);
    }

    /// The rules of the described path `path` matches, if any.
    pub fn route(&self, path: &str) -> Option<&RouteRules> {
        let path = PathToMatch::new(path);
        self.routes.iter().find(|r| r.template.matches_path(&path))
    }
}

impl RouteRules {
    pub fn allows(&self, method: &Method) -> bool {
        self.methods.contains(method)
            || (method == Method::HEAD && self.methods.contains(&Method::GET))
    }

    /// The query parameter rules of `method` (`HEAD` has `GET`'s).
    pub fn query_rules(&self, method: &Method) -> Option<&QueryRules> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.queries.get(method)
    }

    /// The `Allow` header value: the described methods, in the order the document has them.
    pub fn allow_header(&self) -> String {
        let mut names: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        if self.methods.contains(&Method::GET) {
            names.push("HEAD");
        }
        names.join(", ")
    }
}

impl BodyRules {
    /// Checks a JSON body; every violation is reported, not only the first.
    ///
    /// At most [`MAX_VIOLATIONS`] are listed: the answer to a body of thousands of bad fields
    /// stays small, and the first ones are enough to fix a form.
    pub fn check(&self, body: &Value) -> Vec<Violation> {
        let Some(object) = body.as_object() else {
            // The transcoder gives the precise error for non-objects.
            return Vec::new();
        };
        let fields = self.unwrap_root(object);
        let mut violations = Vec::new();
        for (name, value) in fields {
            if violations.len() == MAX_VIOLATIONS {
                break;
            }
            let Some(rule) = self.fields.get(name) else {
                if self.allow_unknown {
                    continue;
                }
                violations.push(Violation {
                    code: "unknown_field",
                    subject: Subject::Field(name.clone()),
                    message: format!("{name} is not a field of {} that can be written", self.root),
                });
                continue;
            };
            if rule.read_only {
                violations.push(Violation {
                    code: "read_only_field",
                    subject: Subject::Field(name.clone()),
                    message: format!("{name} is read-only"),
                });
            } else if !rule.accepts(value) {
                violations.push(Violation {
                    code: "invalid_type",
                    subject: Subject::Field(name.clone()),
                    message: format!(
                        "{name} must be {}, not {}",
                        rule.types.join(" or "),
                        json_type(value)
                    ),
                });
            }
        }
        violations
    }

    /// `{"PortGroup": {...}}` is the same body as `{...}`.
    fn unwrap_root<'a>(&self, object: &'a Map<String, Value>) -> &'a Map<String, Value> {
        match object.get(&self.root) {
            Some(Value::Object(inner)) if object.len() == 1 => inner,
            _ => object,
        }
    }
}

impl FieldRule {
    fn accepts(&self, value: &Value) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| is_of_type(value, t))
    }
}

fn is_of_type(value: &Value, type_name: &str) -> bool {
    match type_name {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn port_group_put() -> BodyRules {
        let rule = |types: &[&str], read_only| FieldRule {
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            read_only,
        };
        BodyRules {
            root: "PortGroup".into(),
            fields: HashMap::from([
                ("MwiOnCode".to_owned(), rule(&["string"], false)),
                (
                    "EnableMWI".to_owned(),
                    rule(&["boolean", "null", "string"], true),
                ),
                ("Count".to_owned(), rule(&["integer"], false)),
            ]),
            allow_unknown: false,
        }
    }

    #[test]
    fn writable_fields_of_the_right_type_pass() {
        let rules = port_group_put();
        assert_eq!(
            rules.check(&json!({"MwiOnCode": "678", "Count": 3})),
            vec![]
        );
        assert_eq!(
            rules.check(&json!({"PortGroup": {"MwiOnCode": "678"}})),
            vec![]
        );
    }

    #[test]
    fn every_violation_names_its_field() {
        let rules = port_group_put();
        let violations =
            rules.check(&json!({"EnableMWI": false, "Nope": 1, "MwiOnCode": 678, "Count": 1.5}));
        let found: Vec<(&str, &str)> = violations
            .iter()
            .map(|v| (v.code, v.subject.name()))
            .collect();
        assert_eq!(
            found,
            [
                ("read_only_field", "EnableMWI"),
                ("unknown_field", "Nope"),
                ("invalid_type", "MwiOnCode"),
                ("invalid_type", "Count")
            ]
        );
        assert_eq!(
            violations[2].message,
            "MwiOnCode must be string, not an integer"
        );
    }

    #[test]
    fn a_flood_of_bad_fields_lists_only_the_first_ones() {
        let flood: serde_json::Map<String, Value> =
            (0..6000).map(|i| (format!("Bogus{i}"), json!(i))).collect();
        let violations = port_group_put().check(&Value::Object(flood));
        assert_eq!(violations.len(), MAX_VIOLATIONS);
        assert_eq!(violations[0].subject, Subject::Field("Bogus0".into()));
    }

    #[test]
    fn allow_lists_described_methods_and_head() {
        let route = RouteRules {
            template: PathTemplate::parse("/vmrest/ports/{id}"),
            methods: vec![Method::GET],
            bodies: HashMap::new(),
            queries: HashMap::new(),
        };
        assert!(route.allows(&Method::GET));
        assert!(route.allows(&Method::HEAD));
        assert!(!route.allows(&Method::PUT));
        assert_eq!(route.allow_header(), "GET, HEAD");
    }
}
