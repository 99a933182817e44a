//! What the transcoder knows about CUPI resources: which element is a list of which item,
//! which fields are booleans or integers, which children are always arrays, and which XML root
//! a JSON body sent to a path gets.
//!
//! The table is plain data, filled from the OpenAPI document at start-up
//! (the gateway's `openapi::ApiSpec`), so the published contract and the transcoder cannot drift
//! apart. Anything the table does not describe is still transcoded by the generic rules, with
//! every value kept as a string.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxBuildHasher;

use cupi_uri::PathTemplate;

/// The JSON type a field's text is converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Kept as a JSON string, whatever it looks like (`"007"` stays `"007"`).
    String,
    /// `true`/`false` become JSON booleans.
    Boolean,
    /// Canonical decimal integers that fit in an `i64` become JSON numbers.
    Integer,
    /// Text in JSON's number syntax (`1.5`, `-2e3`) becomes that JSON number, digits as sent.
    Number,
}

/// An element's typed fields. Looked up once per field of every object transcoded, so it uses
/// a fast non-cryptographic hash: the keys come from the OpenAPI document, not from clients.
pub type Fields = HashMap<String, FieldType, FxBuildHasher>;

type FxMap<K, V> = HashMap<K, V, FxBuildHasher>;

/// The lookup table the transcoder consults on its hot path.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Object element → its typed fields (fields not listed are strings).
    objects: FxMap<String, Fields>,
    /// List element → item element (`Ports` → `Port`).
    lists: FxMap<String, String>,
    /// Parent element → child elements that are always a JSON array.
    arrays: FxMap<String, HashSet<String, FxBuildHasher>>,
    /// Request path → XML root element of a JSON body sent there.
    roots: Vec<(PathTemplate, String)>,
}

impl Schema {
    /// An empty table plus the rule every CUPI server shares: `ErrorDetails/errors` is a list.
    pub fn new() -> Self {
        let mut schema = Schema::default();
        schema.add_array("ErrorDetails", "errors");
        schema
    }

    /// Declares an object element and the types of its fields; merges with earlier entries.
    pub fn add_object(&mut self, element: &str, fields: HashMap<String, FieldType>) {
        self.objects
            .entry(element.to_owned())
            .or_default()
            .extend(fields);
    }

    /// Declares a list element and its item element; the items are always an array.
    pub fn add_list(&mut self, list_element: &str, item_element: &str) {
        self.lists
            .insert(list_element.to_owned(), item_element.to_owned());
        self.add_array(list_element, item_element);
    }

    /// Declares that `child` elements of `parent` are always a JSON array.
    pub fn add_array(&mut self, parent: &str, child: &str) {
        self.arrays
            .entry(parent.to_owned())
            .or_default()
            .insert(child.to_owned());
    }

    /// Declares the XML root of JSON bodies sent to paths matching `template`.
    pub fn add_root(&mut self, template: PathTemplate, element: &str) {
        self.roots.retain(|(t, _)| !t.same_shape(&template));
        self.roots.push((template, element.to_owned()));
    }

    /// The typed fields of an object element, if the element is known.
    pub fn fields_of(&self, element: &str) -> Option<&Fields> {
        self.objects.get(element)
    }

    /// The item element of a known list element (`Ports` → `Port`).
    pub fn item_of_list(&self, list_element: &str) -> Option<&str> {
        self.lists.get(list_element).map(String::as_str)
    }

    /// Whether `child` under `parent` is declared an array.
    pub fn is_array(&self, parent: &str, child: &str) -> bool {
        self.arrays_of(parent)
            .is_some_and(|children| children.contains(child))
    }

    /// The children of `parent` declared arrays, for looking several up at once.
    pub fn arrays_of(&self, parent: &str) -> Option<&HashSet<String, FxBuildHasher>> {
        self.arrays.get(parent)
    }

    /// The XML root element for a JSON body sent to `path`
    /// (`/vmrest/portgroups/{id}` → `PortGroup`), if the path is described.
    pub fn root_for_path(&self, path: &str) -> Option<&str> {
        self.roots
            .iter()
            .find(|(template, _)| template.matches(path))
            .map(|(_, root)| root.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_answer_for_declared_elements_only() {
        let mut schema = Schema::new();
        schema.add_object(
            "Port",
            HashMap::from([("CapAnswer".to_owned(), FieldType::Boolean)]),
        );
        schema.add_list("Ports", "Port");
        schema.add_root(PathTemplate::parse("/vmrest/ports/{id}"), "Port");
        assert_eq!(schema.item_of_list("Ports"), Some("Port"));
        assert_eq!(schema.item_of_list("Users"), None);
        assert_eq!(
            schema.fields_of("Port").unwrap()["CapAnswer"],
            FieldType::Boolean
        );
        assert!(schema.fields_of("Ports").is_none());
        assert!(schema.is_array("Ports", "Port"));
        assert!(schema.is_array("ErrorDetails", "errors"));
        assert!(!schema.is_array("ErrorDetails", "code"));
        assert_eq!(schema.root_for_path("/vmrest/ports/abc"), Some("Port"));
        assert_eq!(schema.root_for_path("/vmrest/users/abc"), None);
    }
}
