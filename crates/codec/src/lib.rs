//! JSON ⇄ XML for CUPI bodies, typed by a [`Schema`] table: the codec cupi-gateway transcodes
//! with, free of HTTP.
//!
//! - [`xml_to_json()`] / [`stream_xml_to_json()`]: Unity Connection's XML answers as the
//!   gateway's typed JSON ([`JsonStyle::Typed`]) or as CUPI's own JSON mode
//!   ([`JsonStyle::Cupi`]), a list streamed item by item;
//! - [`json_to_xml()`]: a client's JSON body as CUPI XML, in one pass;
//! - [`Schema`]: which elements are lists, arrays, booleans, numbers, and which root a path's
//!   body gets; the gateway fills it from its OpenAPI document;
//! - [`sniff`]: whether a body is, or may be, XML, from its first bytes.
//!
//! The mapping is specified in `docs/json-mapping.md`. Errors ([`XmlError`], [`JsonError`]) say
//! what is wrong with the input; the gateway decides the status code.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use cupi_codec::{json_to_xml, xml_to_json, FieldType, Schema};
//!
//! // The gateway fills the table from its OpenAPI document; here it is made by hand.
//! let mut schema = Schema::new();
//! schema.add_list("Ports", "Port");
//! schema.add_object("Port", HashMap::from([("PortNumInGroup".to_owned(), FieldType::Integer)]));
//!
//! let xml = br#"<Ports total="1"><Port><PortNumInGroup>1</PortNumInGroup></Port></Ports>"#;
//! let json = xml_to_json(xml, &schema).unwrap();
//! assert_eq!(json, br#"{"@total":1,"Port":[{"PortNumInGroup":1}]}"#);
//!
//! let back = json_to_xml(br#"{"PortNumInGroup":1}"#, Some("Port"), 1 << 20).unwrap();
//! assert!(back.ends_with(b"<Port><PortNumInGroup>1</PortNumInGroup></Port>"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod json_to_xml;
mod number_text;
mod scan;
mod schema;
pub mod sniff;
mod xml_to_json;

pub use json_to_xml::{is_xml_name, json_to_xml, JsonError};
pub use schema::{FieldType, Fields, Schema};
pub use xml_to_json::{
    read_buffered, stream_xml_to_json, whole_xml_to_json, xml_to_cupi_json, xml_to_json,
    xml_to_json_counted, JsonStyle, XmlError, MAX_DEPTH, MAX_NODES,
};
