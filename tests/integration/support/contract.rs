//! The contract check: every JSON body the tests get from the gateway for a resource the
//! OpenAPI document describes must match the schema the document gives for that path and
//! status. `json()` in the harness runs every body through it, so the whole suite is the
//! contract test.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use cupi_gateway::openapi::ApiSpec;
use cupi_uri::PathTemplate;
use serde_json::Value;

struct Contract {
    document: Value,
    templates: Vec<(PathTemplate, String)>,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let document = ApiSpec::embedded().unwrap().document().clone();
        let templates = document["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(|path| (PathTemplate::parse(path), path.clone()))
            .collect();
        Contract {
            document,
            templates,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// Checks `body`, received with `status` from `path`, against the document. Paths the
/// document does not describe are not checked. Returns whether a check was made.
pub(crate) fn check(path: &str, status: u16, body: &Value) -> bool {
    let contract = contract();
    let Some((_, template)) = contract.templates.iter().find(|(t, _)| t.matches(path)) else {
        return false;
    };
    let operations = contract.document["paths"][template].as_object().unwrap();
    // A 2xx body comes from a GET (writes answer 204); error bodies may come from any method.
    let documented = operations
        .iter()
        .filter(|(method, _)| status >= 300 || method.as_str() == "get")
        .find_map(|(_, op)| op["responses"].get(status.to_string()));
    let Some(response) = documented else {
        panic!("status {status} is not documented for {template}; body: {body}");
    };
    let response = resolve(&contract.document, response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        panic!("{template} {status} has no application/json schema, yet a JSON body came: {body}");
    };
    let reference = schema["$ref"]
        .as_str()
        .expect("response schemas are $refs")
        .to_owned();
    let validator = contract
        .validators
        .lock()
        .unwrap()
        .entry(reference.clone())
        .or_insert_with(|| {
            // The whole document is the root, so `#/components/...` references resolve.
            let mut root = contract.document.clone();
            root["$ref"] = Value::String(reference.clone());
            std::sync::Arc::new(jsonschema::draft202012::new(&root).expect("schema compiles"))
        })
        .clone();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{path} ({status}) breaks the contract {reference}:\n  {}\nbody: {body}",
        errors.join("\n  ")
    );
    true
}

fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(&reference[1..]).expect("local $ref"),
        None => value,
    }
}
