//! Transcoding middleware: JSON for the client, XML for Unity Connection.
//!
//! [`TranscodeLayer`] sits between the client and the [`crate::proxy`] service. On the way in it
//! turns a JSON request body into CUPI XML; on the way out it turns the upstream's XML into
//! JSON when the client wants JSON (see [`negotiate`]). Bodies that are neither (greeting audio,
//! multipart uploads, plain text) pass through untouched and streamed.
//!
//! The conversions themselves are plain functions, [`xml_to_json()`] and [`json_to_xml()`],
//! typed by the [`Schema`] table; [`xml_to_cupi_json()`] gives Unity Connection's own JSON
//! mode instead ([`JsonStyle::Cupi`]), for existing CUPI scripts, which a request in CUPI
//! [`Mode`] gets. The mapping is specified in `docs/json-mapping.md`.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use cupi_gateway::transcode::{xml_to_json, FieldType, Schema};
//!
//! // At run time the table comes from the OpenAPI document; here it is made by hand.
//! let mut schema = Schema::new();
//! schema.add_list("Ports", "Port");
//! schema.add_object("Port", HashMap::from([("PortNumInGroup".to_owned(), FieldType::Integer)]));
//!
//! let xml = br#"<Ports total="1"><Port><PortNumInGroup>1</PortNumInGroup></Port></Ports>"#;
//! let json = xml_to_json(xml, &schema).unwrap();
//! assert_eq!(json, br#"{"@total":1,"Port":[{"PortNumInGroup":1}]}"#);
//! ```

mod error_page;
mod json_to_xml;
mod layer;
pub mod negotiate;
mod number_text;
mod offload;
mod request_xml;
mod schema;
mod service;
pub mod sniff;
mod stream;
mod xml_to_json;

pub use json_to_xml::{is_xml_name, json_to_xml, JsonError};
pub use layer::{Limits, TranscodeLayer};
pub use negotiate::Mode;
pub(crate) use offload::cpu_bound;
pub use request_xml::refuse_unreadable_xml;
pub use schema::{FieldType, Fields, Schema};
pub use service::Transcode;
pub use xml_to_json::{
    stream_xml_to_json, xml_to_cupi_json, xml_to_json, xml_to_json_counted, JsonStyle, XmlError,
    MAX_DEPTH, MAX_NODES,
};
