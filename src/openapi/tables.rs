//! Turning the OpenAPI document into the tables the gateway works from: the transcoder's
//! [`Schema`] (types, lists, arrays, XML roots) and the validator's [`Rules`].
//!
//! Conventions the document follows (see the comment at the top of
//! `openapi/cupi-gateway.yaml`):
//! - a JSON property name is the XML element name; a property marked `xml.attribute` (written
//!   `"@name"`) is an attribute;
//! - a field's type is the first non-`null` entry of its `type`;
//! - an object schema with a `total` attribute is a CUPI list, and its array property holds
//!   the items;
//! - the XML root of a request body is its schema's `xml.name`, or the component's name;
//! - a request body schema lists the writable fields; the resource's other fields (from the
//!   schema with the same `xml.name`) are read-only.

use std::collections::{HashMap, HashSet};

use http::Method;
use serde_json::Value;

use super::SpecError;
use crate::validate::{BodyRules, FieldRule, ParamRule, QueryRules, RouteRules, Rules};
use cupi_codec::{FieldType, Schema};
use cupi_uri::PathTemplate;

/// Methods an OpenAPI path item may describe, in the order `Allow` lists them.
const METHODS: [(&str, Method); 7] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("patch", Method::PATCH),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("trace", Method::TRACE),
];

/// Builds both tables from one (merged) document.
pub(super) fn build(doc: &Value) -> Result<(Schema, Rules), SpecError> {
    let mut walker = Walker {
        doc,
        schema: Schema::new(),
        visited: HashSet::new(),
    };
    if let Some(components) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in components {
            let schema = walker.resolve(schema)?;
            walker.walk(xml_name(schema).unwrap_or(name), schema)?;
        }
    }
    let mut rules = Rules::default();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let route = walker.route(path, walker.resolve(item)?)?;
            rules.add(route);
        }
    }
    Ok((walker.schema, rules))
}

struct Walker<'a> {
    doc: &'a Value,
    schema: Schema,
    /// Schemas already walked, by address: several schemas may share an element name (an
    /// update schema and its resource), and each contributes its fields.
    visited: HashSet<*const Value>,
}

impl<'a> Walker<'a> {
    /// Follows local `$ref`s (`#/components/...`) to the schema they name.
    fn resolve(&self, mut value: &'a Value) -> Result<&'a Value, SpecError> {
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return Ok(value);
            };
            let pointer = reference
                .strip_prefix('#')
                .ok_or_else(|| SpecError::ExternalRef(reference.to_owned()))?;
            value = self
                .doc
                .pointer(pointer)
                .ok_or_else(|| SpecError::DanglingRef(reference.to_owned()))?;
        }
        Err(SpecError::DanglingRef("a $ref chain longer than 32".into()))
    }

    /// Records an object schema under `element`: its typed fields, its always-array children,
    /// and, if it has a `total` attribute, that it is a list.
    fn walk(&mut self, element: &str, schema: &'a Value) -> Result<(), SpecError> {
        if !self.visited.insert(schema as *const Value) {
            return Ok(());
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Ok(());
        };
        let is_list = properties
            .iter()
            .any(|(key, p)| is_attribute(key, p) && attribute_name(key, p) == "total");
        let mut fields = HashMap::new();
        for (key, raw) in properties {
            if is_attribute(key, raw) {
                continue;
            }
            let property = self.resolve(raw)?;
            match primary_type(property) {
                Some("array") => {
                    if is_list {
                        self.schema.add_list(element, key);
                    } else {
                        self.schema.add_array(element, key);
                    }
                    if let Some(items) = property.get("items") {
                        let items = self.resolve(items)?;
                        match primary_type(items) {
                            Some("object") => self.walk(key, items)?,
                            other => insert_scalar(&mut fields, key, other),
                        }
                    }
                }
                Some("object") => self.walk(key, property)?,
                other => insert_scalar(&mut fields, key, other),
            }
        }
        self.schema.add_object(element, fields);
        Ok(())
    }

    /// The rules of one path, and the XML root of the JSON bodies sent to it.
    fn route(&mut self, path: &str, item: &'a Value) -> Result<RouteRules, SpecError> {
        let template = PathTemplate::parse(path);
        let mut methods = Vec::new();
        let mut bodies = HashMap::new();
        let mut queries = HashMap::new();
        let mut root = None;
        for (name, method) in METHODS {
            let Some(operation) = item.get(name) else {
                continue;
            };
            methods.push(method.clone());
            queries.insert(method.clone(), self.query_rules(item, operation)?);
            if let Some(body) = self.request_body(operation)? {
                root = Some(body.root.clone());
                bodies.insert(method, body);
            }
        }
        // Paths with no request body (read-only items) still get a root, from their GET
        // answer, for gateways running with validation off.
        if root.is_none() {
            root = self.object_answer_root(item)?;
        }
        if let Some(root) = root {
            self.schema.add_root(template.clone(), &root);
        }
        Ok(RouteRules {
            template,
            methods,
            bodies,
            queries,
        })
    }

    /// The `in: query` parameters of an operation: the path item's, then the operation's,
    /// which replace a path item parameter of the same name (as OpenAPI says).
    fn query_rules(&self, item: &'a Value, operation: &'a Value) -> Result<QueryRules, SpecError> {
        let mut params: Vec<ParamRule> = Vec::new();
        for holder in [item, operation] {
            let Some(list) = holder.get("parameters").and_then(Value::as_array) else {
                continue;
            };
            for raw in list {
                let parameter = self.resolve(raw)?;
                let (Some("query"), Some(name)) = (
                    parameter.get("in").and_then(Value::as_str),
                    parameter.get("name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let schema = match parameter.get("schema") {
                    Some(schema) => self.resolve(schema)?,
                    None => &Value::Null,
                };
                let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
                let rule = ParamRule::from_schema(name, required, schema)?;
                params.retain(|p| p.name != rule.name);
                params.push(rule);
            }
        }
        Ok(QueryRules::new(params))
    }

    fn request_body(&self, operation: &'a Value) -> Result<Option<BodyRules>, SpecError> {
        let Some(body) = operation.get("requestBody") else {
            return Ok(None);
        };
        let body = self.resolve(body)?;
        let Some(raw) = json_schema_of(body) else {
            return Ok(None);
        };
        let schema = self.resolve(raw)?;
        let root = xml_name(schema)
            .or_else(|| ref_name(raw))
            .ok_or_else(|| SpecError::NoRoot(operation_label(operation)))?
            .to_owned();
        let mut fields = HashMap::new();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, raw) in properties {
                let property = self.resolve(raw)?;
                let read_only = [raw, property]
                    .iter()
                    .any(|p| p.get("readOnly").and_then(Value::as_bool) == Some(true));
                fields.insert(
                    key.clone(),
                    FieldRule {
                        types: type_names(property),
                        read_only,
                    },
                );
            }
        }
        // An update schema that lists only the writable fields (`additionalProperties: false`)
        // makes the other fields of the resource with the same root read-only, so a client
        // is told "read-only", not "unknown", for a field the resource has.
        for resource in self.schemas_named(&root) {
            if std::ptr::eq(resource, schema) {
                continue;
            }
            let Some(properties) = resource.get("properties").and_then(Value::as_object) else {
                continue;
            };
            for (key, raw) in properties {
                if !fields.contains_key(key) && !is_attribute(key, raw) {
                    let types = type_names(self.resolve(raw)?);
                    fields.insert(
                        key.clone(),
                        FieldRule {
                            types,
                            read_only: true,
                        },
                    );
                }
            }
        }
        // JSON Schema's default: properties not listed are allowed.
        let allow_unknown = schema.get("additionalProperties") != Some(&Value::Bool(false));
        Ok(Some(BodyRules {
            root,
            fields,
            allow_unknown,
        }))
    }

    /// Component schemas whose XML element is `element`.
    fn schemas_named(&self, element: &str) -> Vec<&'a Value> {
        let Some(components) = self
            .doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        components
            .iter()
            .filter(|(name, schema)| xml_name(schema).unwrap_or(name) == element)
            .map(|(_, schema)| schema)
            .collect()
    }

    /// The element of a path's GET 200 answer, when it is a single object (not a list).
    fn object_answer_root(&self, item: &'a Value) -> Result<Option<String>, SpecError> {
        let Some(ok) = item.pointer("/get/responses/200") else {
            return Ok(None);
        };
        let ok = self.resolve(ok)?;
        let Some(raw) = json_schema_of(ok) else {
            return Ok(None);
        };
        let schema = self.resolve(raw)?;
        let is_list = schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.iter().any(|(k, v)| is_attribute(k, v)));
        if is_list || primary_type(schema) != Some("object") {
            return Ok(None);
        }
        Ok(xml_name(schema)
            .or_else(|| ref_name(raw))
            .map(str::to_owned))
    }
}

fn insert_scalar(fields: &mut HashMap<String, FieldType>, key: &str, type_name: Option<&str>) {
    let field_type = match type_name {
        Some("boolean") => FieldType::Boolean,
        Some("integer") => FieldType::Integer,
        Some("number") => FieldType::Number,
        _ => return,
    };
    fields.insert(key.to_owned(), field_type);
}

/// The schema of a body's or response's `application/json` content (else its first content).
fn json_schema_of(body: &Value) -> Option<&Value> {
    let content = body.get("content")?.as_object()?;
    content
        .get("application/json")
        .or_else(|| content.values().next())?
        .get("schema")
}

/// The declared type: the first non-`null` entry of `type`; `object`/`array` when only
/// `properties`/`items` say so.
fn primary_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ if schema.get("items").is_some() => Some("array"),
        _ => None,
    }
}

fn type_names(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn is_attribute(key: &str, property: &Value) -> bool {
    key.starts_with('@')
        || property.pointer("/xml/attribute").and_then(Value::as_bool) == Some(true)
}

fn attribute_name<'v>(key: &'v str, property: &'v Value) -> &'v str {
    property
        .pointer("/xml/name")
        .and_then(Value::as_str)
        .unwrap_or_else(|| key.trim_start_matches('@'))
}

fn xml_name(schema: &Value) -> Option<&str> {
    schema.pointer("/xml/name").and_then(Value::as_str)
}

/// `#/components/schemas/PortGroup` → `PortGroup`.
fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
}

fn operation_label(operation: &Value) -> String {
    operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("an operation")
        .to_owned()
}
