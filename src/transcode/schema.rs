//! What the transcoder knows about CUPI resources: which element is a list of which item,
//! which fields are booleans or integers, and which children are always arrays.
//!
//! The table is data, not code, so that a later source (the OpenAPI document) can fill it
//! the same way the built-in table below does. Anything the table does not describe is still
//! transcoded by the generic rules, with every value kept as a string.

use std::collections::{HashMap, HashSet};

/// The JSON type a field's text is converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Kept as a JSON string, whatever it looks like (`"007"` stays `"007"`).
    String,
    /// `true`/`false` become JSON booleans.
    Boolean,
    /// Canonical decimal integers that fit in an `i64` become JSON numbers.
    Integer,
}

/// One CUPI resource: a collection path, its list element and its item element.
#[derive(Clone, Debug)]
pub struct Resource {
    /// Collection path, e.g. `/vmrest/portgroups`.
    pub collection_path: String,
    /// List element, e.g. `PortGroups`.
    pub list_element: String,
    /// Item element, e.g. `PortGroup`: the XML root of a single object.
    pub item_element: String,
    /// Typed fields of the item; fields not listed are strings.
    pub fields: HashMap<String, FieldType>,
}

/// The lookup table the transcoder consults on its hot path.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    resources: Vec<Resource>,
    by_item: HashMap<String, usize>,
    by_list: HashMap<String, usize>,
    /// Parent element → child elements that are always a JSON array.
    arrays: HashMap<String, HashSet<String>>,
}

impl Schema {
    /// An empty table plus the rules every CUPI server shares (`ErrorDetails/errors` is a list).
    pub fn new() -> Self {
        let mut schema = Schema::default();
        schema.add_array("ErrorDetails", "errors");
        schema
    }

    /// The built-in table for port groups and ports, from the Cisco page and `cupi-notes.md`.
    pub fn builtin() -> Self {
        use FieldType::{Boolean as B, Integer as I};
        let mut schema = Schema::new();
        schema.add_resource(Resource {
            collection_path: "/vmrest/portgroups".into(),
            list_element: "PortGroups".into(),
            item_element: "PortGroup".into(),
            fields: typed(&[
                ("TelephonyIntegrationMethodEnum", I),
                ("EnableMWI", B),
                ("CcmDoAutoFailback", B),
                ("MwiRetryCountOnSuccess", I),
                ("MwiRetryIntervalOnSuccessMs", I),
                ("SipTransportProtocolEnum", I),
                ("SipRegisterWithProxyServer", B),
                ("SipDoAuthenticate", B),
                ("MwiMinRequestIntervalMs", I),
                ("MwiMaxConcurrentRequests", I),
                ("PortCount", I),
                ("SipDoSRTP", B),
                ("SipTLSModeEnum", I),
                ("ResetStatusEnum", I),
                ("DelayBeforeOpeningMs", I),
                ("DtmfDialInterDigitDelayMs", I),
                ("NoiseFreeEnable", B),
                ("OutgoingGuardTimeMs", I),
                ("OutgoingPostDialDelayMs", I),
                ("OutgoingPreDialDelayMs", I),
                ("PreferredCallControl", I),
                ("RecordingDTMFClipMs", I),
                ("RecordingToneExtraClipMs", I),
                ("SipDoDtmfRfc2833", B),
                ("SipDoDtmfKPML", B),
                ("SipPreferredMedia", I),
                ("WaitForCallInfoMs", I),
                ("EnableAGC", B),
            ]),
        });
        schema.add_resource(Resource {
            collection_path: "/vmrest/ports".into(),
            list_element: "Ports".into(),
            item_element: "Port".into(),
            fields: typed(&[
                ("TelephonyIntegrationMethodEnum", I),
                ("PortNumInGroup", I),
                ("SkinnySecurityModeEnum", I),
                ("SkinnyDoMediaEncryption", B),
                ("HuntOrder", I),
                ("PimgPortNumber", I),
                ("CapAnswer", B),
                ("CapNotification", B),
                ("CapMWI", B),
                ("CapEnabled", B),
                ("CapDeliverAmis", B),
                ("CapTrapConnection", B),
                ("MediaPortGroupEnableMWI", B),
                ("MediaPortGroupMwiReqPortSpecific", B),
                ("SipSendPort", I),
            ]),
        });
        schema
    }

    /// Adds (or replaces) a resource.
    pub fn add_resource(&mut self, resource: Resource) {
        let index = self.resources.len();
        self.by_item.insert(resource.item_element.clone(), index);
        self.by_list.insert(resource.list_element.clone(), index);
        self.resources.push(resource);
    }

    /// Declares that `child` elements of `parent` are always a JSON array.
    pub fn add_array(&mut self, parent: &str, child: &str) {
        self.arrays
            .entry(parent.to_owned())
            .or_default()
            .insert(child.to_owned());
    }

    /// The typed fields of an object element, if the element is a known item.
    pub fn fields_of(&self, element: &str) -> Option<&HashMap<String, FieldType>> {
        self.by_item
            .get(element)
            .map(|&i| &self.resources[i].fields)
    }

    /// The item element of a known list element (`Ports` → `Port`).
    pub fn item_of_list(&self, list_element: &str) -> Option<&str> {
        self.by_list
            .get(list_element)
            .map(|&i| self.resources[i].item_element.as_str())
    }

    /// Whether `child` under `parent` is declared an array.
    pub fn is_array(&self, parent: &str, child: &str) -> bool {
        self.arrays
            .get(parent)
            .is_some_and(|children| children.contains(child))
    }

    /// The XML root element for a JSON body sent to `path`: the item element when `path` is a
    /// known collection or one item of it (`/vmrest/portgroups/{id}` → `PortGroup`).
    pub fn root_for_path(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        self.resources.iter().find_map(|r| {
            let collection = r.collection_path.trim_end_matches('/');
            let rest = strip_prefix_ignore_case(path, collection)?;
            let is_item = rest.is_empty()
                || rest
                    .strip_prefix('/')
                    .is_some_and(|id| !id.is_empty() && !id.contains('/'));
            is_item.then_some(r.item_element.as_str())
        })
    }
}

fn typed(fields: &[(&str, FieldType)]) -> HashMap<String, FieldType> {
    fields.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect()
}

/// CUPI paths are case-insensitive, so `/vmrest/PortGroups` names the same resource.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_for_path_matches_collection_and_item_only() {
        let schema = Schema::builtin();
        assert_eq!(
            schema.root_for_path("/vmrest/portgroups/abc"),
            Some("PortGroup")
        );
        assert_eq!(
            schema.root_for_path("/vmrest/PortGroups/abc/"),
            Some("PortGroup")
        );
        assert_eq!(
            schema.root_for_path("/vmrest/portgroups"),
            Some("PortGroup")
        );
        assert_eq!(schema.root_for_path("/vmrest/ports/x?y=1"), Some("Port"));
        assert_eq!(
            schema.root_for_path("/vmrest/portgroups/abc/portgroupcodecs"),
            None
        );
        assert_eq!(schema.root_for_path("/vmrest/portgroupsx"), None);
        assert_eq!(schema.root_for_path("/vmrest/users/abc"), None);
    }

    #[test]
    fn tables_answer_for_known_elements_only() {
        let schema = Schema::builtin();
        assert_eq!(schema.item_of_list("Ports"), Some("Port"));
        assert_eq!(schema.item_of_list("Users"), None);
        assert_eq!(
            schema.fields_of("PortGroup").unwrap()["EnableMWI"],
            FieldType::Boolean
        );
        assert!(schema.fields_of("PortGroups").is_none());
        assert!(schema.is_array("ErrorDetails", "errors"));
        assert!(!schema.is_array("ErrorDetails", "code"));
    }
}
