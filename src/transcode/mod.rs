//! Transcoding middleware: JSON for the client, XML for Unity Connection.
//!
//! [`TranscodeLayer`] sits between the client and the [`crate::proxy`] service. On the way in it
//! turns a JSON request body into CUPI XML; on the way out it turns the upstream's XML into
//! JSON when the client wants JSON (see [`negotiate`]). Bodies that are neither (greeting audio,
//! multipart uploads, plain text) pass through untouched and streamed.
//!
//! The conversions themselves are the [`cupi_codec`] crate's, typed by its `Schema` table;
//! a request in CUPI [`Mode`] gets Unity Connection's own JSON mode instead
//! (`JsonStyle::Cupi`), for existing CUPI scripts.

mod error_page;
mod layer;
pub mod negotiate;
mod offload;
mod request_xml;
mod service;
mod stream;

pub use layer::{Limits, TranscodeLayer};
pub use negotiate::Mode;
pub(crate) use offload::cpu_bound;
pub use request_xml::refuse_unreadable_xml;
pub use service::Transcode;
