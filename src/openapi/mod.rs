//! The OpenAPI document as the single source of truth.
//!
//! `openapi/cupi-gateway.yaml` is embedded in the binary at build time. At start-up it is
//! parsed, merged with any extra documents given by `--schema` (which add resources, e.g. a
//! `User` schema for `/vmrest/users`, with no code change), and turned into:
//!
//! - the transcoder's [`Schema`]: field types, lists, arrays, XML roots;
//! - the validator's [`Rules`]: allowed methods, writable fields and their types;
//! - the document served at `/openapi.json` and `/openapi.yaml` ([`serve`]).
//!
//! So the published contract and the gateway's behaviour come from the same bytes.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::openapi::ApiSpec;
//! use cupi_codec::FieldType;
//!
//! let spec = ApiSpec::embedded().unwrap();
//! let port = spec.schema().fields_of("Port").unwrap();
//! assert_eq!(port["CapAnswer"], FieldType::Boolean);
//! assert_eq!(spec.schema().root_for_path("/vmrest/portgroups/abc"), Some("PortGroup"));
//! ```

pub mod serve;
mod tables;

use std::path::{Path, PathBuf};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::validate::Rules;
use cupi_codec::Schema;
use cupi_uri::PathTemplate;

/// The document embedded at build time.
pub const EMBEDDED_YAML: &str = include_str!("../../openapi/cupi-gateway.yaml");

/// Why a document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name} is not valid YAML or JSON: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("{0} is not an OpenAPI 3 document (no `openapi: 3.x` field)")]
    NotOpenApi3(String),
    #[error("$ref {0} points at nothing in the document")]
    DanglingRef(String),
    #[error("$ref {0} points outside the document; only local references (#/...) are read")]
    ExternalRef(String),
    #[error("the request body of {0} has neither an xml.name nor a $ref naming its XML root")]
    NoRoot(String),
    #[error(transparent)]
    Pattern(#[from] crate::validate::PatternError),
}

/// The parsed, merged document and the tables made from it.
#[derive(Clone, Debug)]
pub struct ApiSpec {
    document: Value,
    schema: Schema,
    rules: Rules,
}

impl ApiSpec {
    /// The embedded document alone.
    pub fn embedded() -> Result<Self, SpecError> {
        Self::load(&[])
    }

    /// The embedded document plus the extra files, in order (later entries win).
    pub fn load(extra_files: &[PathBuf]) -> Result<Self, SpecError> {
        let mut document = parse(EMBEDDED_YAML, "the embedded openapi/cupi-gateway.yaml")?;
        for path in extra_files {
            let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
                path: path.clone(),
                source,
            })?;
            let extra = parse(&text, &path.display().to_string())?;
            merge(&mut document, extra, path);
        }
        Self::from_document(document)
    }

    /// A document given as YAML (or JSON) text, on its own.
    pub fn from_yaml(text: &str) -> Result<Self, SpecError> {
        Self::from_document(parse(text, "the given document")?)
    }

    /// Builds the tables from an already-parsed document.
    pub(crate) fn from_document(document: Value) -> Result<Self, SpecError> {
        let (schema, rules) = tables::build(&document)?;
        Ok(ApiSpec {
            document,
            schema,
            rules,
        })
    }

    /// The transcoder's table.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The validator's rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The path templates the document describes.
    pub fn path_templates(&self) -> Vec<PathTemplate> {
        self.document
            .get("paths")
            .and_then(Value::as_object)
            .map(|paths| paths.keys().map(|p| PathTemplate::parse(p)).collect())
            .unwrap_or_default()
    }

    /// The merged document, as JSON.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The document with `servers` pointing at `server_url`, where a client reached us.
    pub(crate) fn document_for(&self, server_url: &str) -> Value {
        let mut document = self.document.clone();
        document["servers"] = serde_json::json!([{ "url": server_url }]);
        document
    }
}

/// Parses YAML (JSON is YAML too) and checks it claims to be OpenAPI 3.
fn parse(text: &str, source_name: &str) -> Result<Value, SpecError> {
    let value: Value = serde_saphyr::from_str(text).map_err(|e| SpecError::Parse {
        source_name: source_name.to_owned(),
        message: e.to_string(),
    })?;
    let is_openapi3 = value
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3."));
    if !is_openapi3 {
        return Err(SpecError::NotOpenApi3(source_name.to_owned()));
    }
    Ok(value)
}

/// Adds an extra document's paths and components to the base; an entry it redefines replaces
/// the base's, with a warning.
fn merge(base: &mut Value, extra: Value, source: &Path) {
    let Value::Object(extra) = extra else { return };
    if let Some(Value::Object(paths)) = extra.get("paths") {
        // `/x/{id}` in an extra document replaces `/x/{objectId}`: the same paths must not be
        // described twice, which OpenAPI forbids and which would leave two sets of rules.
        if let Some(Value::Object(base_paths)) = base.get_mut("paths") {
            for new_path in paths.keys() {
                let shape = PathTemplate::parse(new_path);
                base_paths.retain(|old, _| {
                    let replaced = old != new_path && PathTemplate::parse(old).same_shape(&shape);
                    if replaced {
                        tracing::warn!(source = %source.display(), %old, new = %new_path, "extra OpenAPI document replaces a path");
                    }
                    !replaced
                });
            }
        }
        merge_map(base, "paths", paths, source);
    }
    if let Some(Value::Object(components)) = extra.get("components") {
        for (kind, entries) in components {
            if let Value::Object(entries) = entries {
                let base_components = ensure_object(base, "components");
                merge_map(base_components, kind, entries, source);
            }
        }
    }
}

fn merge_map(base: &mut Value, key: &str, entries: &Map<String, Value>, source: &Path) {
    let target = ensure_object(base, key);
    let Value::Object(target) = target else {
        return;
    };
    for (name, value) in entries {
        if target.insert(name.clone(), value.clone()).is_some() {
            tracing::warn!(source = %source.display(), %key, %name, "extra OpenAPI document replaces an entry");
        }
    }
}

fn ensure_object<'v>(value: &'v mut Value, key: &str) -> &'v mut Value {
    if !value[key].is_object() {
        value[key] = Value::Object(Map::new());
    }
    &mut value[key]
}

/// Serializes a `serde_json::Value` to formats other than JSON. serde_json's
/// `arbitrary_precision` (which keeps request numbers exact) makes a `Number` serialize as a
/// private map that only serde_json's own serializer understands; this writes plain numbers.
#[derive(Debug)]
pub(crate) struct PlainJson<'a>(pub &'a Value);

impl Serialize for PlainJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    serializer.serialize_u64(u)
                } else if let Some(i) = n.as_i64() {
                    serializer.serialize_i64(i)
                } else {
                    serializer.serialize_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&PlainJson(item))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, &PlainJson(value))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cupi_codec::FieldType;
    use http::Method;

    #[test]
    fn embedded_document_gives_the_port_group_and_port_tables() {
        let spec = ApiSpec::embedded().unwrap();
        let schema = spec.schema();
        assert_eq!(schema.item_of_list("PortGroups"), Some("PortGroup"));
        assert_eq!(schema.item_of_list("Ports"), Some("Port"));
        assert!(schema.is_array("ErrorDetails", "errors"));
        let group = schema.fields_of("PortGroup").unwrap();
        assert_eq!(group["EnableMWI"], FieldType::Boolean);
        assert_eq!(group["PortCount"], FieldType::Integer);
        assert!(!group.contains_key("MwiOnCode"), "strings are not listed");
        assert_eq!(
            schema.fields_of("Port").unwrap()["PimgPortNumber"],
            FieldType::Integer
        );
        assert_eq!(
            schema.root_for_path("/vmrest/portgroups/x"),
            Some("PortGroup")
        );
        assert_eq!(schema.root_for_path("/vmrest/ports/x"), Some("Port"));

        let rules = spec.rules();
        let port = rules.route("/vmrest/ports/x").unwrap();
        assert_eq!(port.methods, [Method::GET]);
        let group = rules.route("/vmrest/portgroups/x").unwrap();
        let put = &group.bodies[&Method::PUT];
        assert_eq!(put.root, "PortGroup");
        assert!(!put.fields["MwiOnCode"].read_only);
        assert!(put.fields["DisplayName"].read_only);
        assert!(rules.route("/vmrest/users/x").is_none());
    }

    #[test]
    fn extra_documents_add_resources_and_must_be_openapi() {
        let mut document = parse(EMBEDDED_YAML, "embedded").unwrap();
        let extra = parse(
            r##"{"openapi": "3.1.0", "paths": {"/vmrest/things": {"get": {"responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Things"}}}}}}}},
               "components": {"schemas": {"Things": {"type": "object", "xml": {"name": "Things"}, "properties": {
                 "@total": {"type": "integer", "xml": {"attribute": true, "name": "total"}},
                 "Thing": {"type": "array", "items": {"type": "object", "properties": {"On": {"type": "boolean"}}}}}}}}}"##,
            "extra",
        )
        .unwrap();
        merge(&mut document, extra, Path::new("extra.json"));
        let spec = ApiSpec::from_document(document).unwrap();
        assert_eq!(spec.schema().item_of_list("Things"), Some("Thing"));
        assert_eq!(
            spec.schema().fields_of("Thing").unwrap()["On"],
            FieldType::Boolean
        );
        assert!(spec.rules().route("/vmrest/things").is_some());
        assert!(
            spec.rules().route("/vmrest/portgroups").is_some(),
            "base paths kept"
        );

        assert!(matches!(
            parse("swagger: '2.0'", "old"),
            Err(SpecError::NotOpenApi3(_))
        ));
        assert!(matches!(
            parse("a: [", "broken"),
            Err(SpecError::Parse { .. })
        ));
        let dangling = parse(
            r##"{"openapi": "3.1.0", "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}}}}"##,
            "dangling",
        )
        .unwrap();
        assert!(matches!(
            ApiSpec::from_document(dangling),
            Err(SpecError::DanglingRef(_))
        ));
    }

    #[test]
    fn plain_json_serializes_numbers_as_numbers() {
        let value: Value =
            serde_json::from_str(r#"{"n": 2, "f": 1.5, "a": [true, null]}"#).unwrap();
        let yaml = serde_saphyr::to_string(&PlainJson(&value)).unwrap();
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, value);
        assert!(yaml.contains("f: 1.5"), "numbers are plain numbers: {yaml}");
    }
}
