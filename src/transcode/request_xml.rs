//! No DOCTYPE reaches Unity Connection: every request body that is, or may be, XML is read
//! and checked before it goes upstream, whatever its label says.
//!
//! Entity declarations are how "billion laughs" and external-entity attacks reach a server's
//! XML parser, and the server's parser, not the `Content-Type`, decides what is XML: it takes
//! bodies with no label or an unknown one, and reads UTF-16 and UTF-32 by itself. So a body
//! not labelled JSON is sniffed ([`sniff`]): one that starts like XML is read whole (bounded
//! by `--max-request-body`) and checked; XML in an encoding the gateway does not read (UTF-16,
//! UTF-32, a declared non-UTF-8 encoding, or compressed) is refused with 415, since it cannot
//! be checked. Audio, JSON and plain text stream on untouched, after their first bytes.

use axum::body::Body;
use http::{HeaderMap, Request};
use quick_xml::events::Event;

use crate::body::{is_bodiless_request, read_request_body, read_request_prefix_until, Prefix};
use crate::budget::BodyBudget;
use crate::content_type::{self, BodyKind};
use crate::error::GatewayError;
use cupi_codec::sniff::{is_utf8_name, sniff, Sniffed};

/// Checks a request body that is not labelled JSON (those are parsed as JSON instead, which
/// no XML survives) and returns the request with its body whole again.
pub(super) async fn check_request_body(
    request: Request<Body>,
    max_body: usize,
    budget: &BodyBudget,
) -> Result<Request<Body>, GatewayError> {
    if is_bodiless_request(&request) {
        return Ok(request);
    }
    let headers = request.headers();
    if content_type::is_encoded(headers) {
        // Compressed bytes cannot be sniffed: only a label that rules XML out lets them by.
        if content_type::is_media(headers) {
            return Ok(request);
        }
        return Err(GatewayError::UnsupportedMediaType(
            "a request body with a Content-Encoding that may be XML cannot be checked: send it uncompressed"
                .into(),
        ));
    }
    let labelled_xml = BodyKind::of(headers) == BodyKind::Xml;
    let (parts, body) = request.into_parts();
    let prefix = read_until_sniffed(body, max_body, budget).await?;
    let sniffed = match &prefix {
        Prefix::Complete(bytes) => sniff(bytes, true),
        Prefix::Partial { head, .. } => sniff(head, false),
    };
    if let Sniffed::ForeignXml(encoding) = sniffed {
        return Err(foreign_encoding(encoding));
    }
    if sniffed != Sniffed::Xml && !labelled_xml {
        return Ok(Request::from_parts(parts, prefix.into_body()));
    }
    let xml = match prefix {
        Prefix::Complete(bytes) => bytes,
        partial => read_request_body(partial.into_body(), max_body, budget).await?,
    };
    refuse_unreadable_xml(&parts.headers, &xml)?;
    if has_doctype(&xml) {
        return Err(GatewayError::XmlDoctype);
    }
    Ok(Request::from_parts(parts, Body::from(xml)))
}

/// Refuses (415) an XML body the gateway would not read as its sender means it: a `charset`
/// or an XML declaration naming an encoding other than UTF-8, or UTF-16/UTF-32/EBCDIC bytes.
/// Shared with the validator, which reads XML bodies of described paths.
pub fn refuse_unreadable_xml(headers: &HeaderMap, xml: &[u8]) -> Result<(), GatewayError> {
    if let Some(charset) = content_type::charset(headers).filter(|c| !is_utf8_name(c)) {
        return Err(GatewayError::UnsupportedMediaType(format!(
            "XML bodies must be UTF-8, not {charset}"
        )));
    }
    if let Sniffed::ForeignXml(encoding) = sniff(xml, true) {
        return Err(foreign_encoding(encoding));
    }
    if let Some(encoding) = declared_encoding(xml).filter(|e| !is_utf8_name(e)) {
        return Err(GatewayError::UnsupportedMediaType(format!(
            "the XML declaration names the encoding {encoding:?}: XML bodies must be UTF-8"
        )));
    }
    Ok(())
}

fn foreign_encoding(encoding: &str) -> GatewayError {
    GatewayError::UnsupportedMediaType(format!(
        "the body is XML in {encoding}, which the gateway does not read: send it as UTF-8"
    ))
}

/// Reads a body until [`sniff`] can tell what it is, or it ends, or more than `limit` bytes
/// have come undecided (413). Re-sniffed only each time the prefix has doubled, so a body of
/// whitespace sent a byte at a time is still read in linear time.
async fn read_until_sniffed(
    body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Prefix, GatewayError> {
    let mut sniffed_at = 0;
    let prefix = read_request_prefix_until(body, limit.saturating_add(1), budget, |head| {
        if head.len() < 2 * sniffed_at {
            return false;
        }
        sniffed_at = head.len();
        sniff(head, false) != Sniffed::Undecided
    })
    .await?;
    // A first frame larger than the limit (an audio upload) is judged, not refused: only
    // what stays undecided past the limit is.
    match &prefix {
        Prefix::Partial { head, .. }
            if head.len() > limit && sniff(head, false) == Sniffed::Undecided =>
        {
            Err(GatewayError::PayloadTooLarge { limit })
        }
        _ => Ok(prefix),
    }
}

/// The `encoding` an XML declaration at the start of `xml` names, if any.
fn declared_encoding(xml: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    match reader.read_event_into(&mut buf) {
        Ok(Event::Decl(decl)) => match decl.encoding()? {
            Ok(name) => Some(name.into_owned()),
            // A declaration whose encoding cannot be read is no UTF-8 one.
            Err(e) => Some(e.to_string()),
        },
        _ => None,
    }
}

/// Whether the document's prolog holds a `<!DOCTYPE`. A prolog quick-xml cannot read is
/// searched for the bytes instead (case-insensitively), since a parser more lenient than it
/// might still find a DOCTYPE there.
fn has_doctype(xml: &[u8]) -> bool {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::DocType(_)) => return true,
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::Text(_)) => buf.clear(),
            Err(_) => return contains_doctype_bytes(xml),
            Ok(_) => return false,
        }
    }
}

fn contains_doctype_bytes(xml: &[u8]) -> bool {
    xml.windows(9)
        .any(|window| window.eq_ignore_ascii_case(b"<!doctype"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctype_is_found_in_the_prolog_only() {
        assert!(has_doctype(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"));
        assert!(has_doctype(
            b"<?xml version=\"1.0\"?>\n<!-- c --><!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>"
        ));
        assert!(!has_doctype(
            b"<?xml version=\"1.0\"?><PortGroup><MwiOnCode>1</MwiOnCode></PortGroup>"
        ));
        assert!(!has_doctype(b"<a>&lt;!DOCTYPE is text here</a>"));
        // A prolog quick-xml refuses is searched by bytes.
        assert!(has_doctype(
            b"<?xml version=\"1.0\" <!doctype a SYSTEM \"x\"><a/>"
        ));
    }

    #[test]
    fn unreadable_xml_is_refused() {
        let headers = |ct: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(ct),
            );
            map
        };
        let xml = headers("application/xml");
        assert!(
            refuse_unreadable_xml(&xml, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>").is_ok()
        );
        assert!(refuse_unreadable_xml(&xml, b"<?xml version='1.0' encoding='utf8'?><a/>").is_ok());
        assert!(refuse_unreadable_xml(&xml, b"<a/>").is_ok());
        for body in [
            &b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xE9</a>"[..],
            b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>",
            b"\xFF\xFE<\x00a\x00/\x00>\x00",
        ] {
            let error = refuse_unreadable_xml(&xml, body).unwrap_err();
            assert_eq!(error.code(), "unsupported_media_type");
        }
        let latin1 = headers("text/xml; charset=ISO-8859-1");
        assert!(refuse_unreadable_xml(&latin1, b"<a/>").is_err());
    }
}
