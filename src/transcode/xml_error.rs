//! The upstream's XML that could not be transcoded: which error the client gets, and the
//! reason it is counted under, for whole and streamed answers alike.

use crate::error::GatewayError;
use crate::metrics::Metrics;
use cupi_codec::XmlError;

/// The error for XML from the upstream that could not be transcoded, counted by reason.
pub(super) fn upstream_xml_error(error: XmlError, limit: usize, metrics: &Metrics) -> GatewayError {
    metrics.transcode_error("response", xml_error_reason(&error));
    match error {
        XmlError::ObjectTooLarge(_) => GatewayError::UpstreamResponseTooLarge { limit },
        XmlError::Read(message) => GatewayError::UpstreamBody(message.into()),
        other => GatewayError::UpstreamInvalidXml(other),
    }
}

/// A short label for a metric: which kind of XML problem it was.
fn xml_error_reason(error: &XmlError) -> &'static str {
    match error {
        XmlError::InvalidUtf8 => "invalid_utf8",
        XmlError::Malformed { .. } => "malformed",
        XmlError::Truncated(_) => "truncated",
        XmlError::NoRoot => "no_root",
        XmlError::TrailingContent => "trailing_content",
        XmlError::Doctype => "doctype",
        XmlError::UnknownEntity(_) => "unknown_entity",
        XmlError::ForbiddenChar(_) => "forbidden_char",
        XmlError::UnsupportedEncoding(_) => "unsupported_encoding",
        XmlError::TooDeep => "too_deep",
        XmlError::TooManyNodes(_) => "too_many_nodes",
        XmlError::ObjectTooLarge(_) => "object_too_large",
        XmlError::ScatteredItems(_) => "scattered_items",
        XmlError::Read(_) => "read_failed",
        XmlError::Abandoned => "abandoned",
    }
}
