//! Request targets as cupi-gateway and the Unity Connection behind it read them.
//!
//! - [`check_path`]: refuses paths a servlet container could resolve outside `/vmrest`;
//!   [`is_vmrest`]: whether a path is CUPI's at all;
//! - [`PathTemplate`]: an OpenAPI path template, matched case-insensitively as CUPI does;
//! - [`query_string`]: `name=value` pairs decoded the way Unity Connection decodes them.
//!
//! The gateway, its simulator and the codec's type table share these, so all three read one
//! path and one query string alike.
//!
//! # Example
//!
//! ```
//! use cupi_uri::{check_path, PathTemplate};
//!
//! assert!(check_path("/vmrest/ports/abc").is_ok());
//! assert!(check_path("/vmrest/%2e%2e/cuadmin").is_err());
//! assert!(PathTemplate::parse("/vmrest/ports/{objectId}").matches("/VMREST/Ports/abc"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod path_guard;
mod path_template;
pub mod query_string;

pub use path_guard::{check_path, is_vmrest};
pub use path_template::{PathTemplate, PathToMatch};
