//! Content negotiation: which format the client wants back, and what a body's type is.

use http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_ENCODING, CONTENT_TYPE};

/// The format of the response body the client gets for an XML upstream response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFormat {
    /// Transcoded JSON: the default, also for `*/*` and no `Accept` at all (browsers).
    Json,
    /// The upstream's XML, untouched.
    Xml,
}

impl ResponseFormat {
    /// XML only when the client prefers `application/xml` or `text/xml` to `application/json`
    /// by its `q` values; a tie (`*/*`) goes to JSON.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut json_q = 0.0f32;
        let mut xml_q = 0.0f32;
        let mut any_accept = false;
        for range in accept_ranges(headers) {
            any_accept = true;
            let (kind, q) = range;
            match kind.as_str() {
                "application/json" => json_q = json_q.max(q),
                "application/xml" | "text/xml" => xml_q = xml_q.max(q),
                "*/*" | "application/*" => {
                    json_q = json_q.max(q);
                    xml_q = xml_q.max(q);
                }
                "text/*" => xml_q = xml_q.max(q),
                _ => {}
            }
        }
        if any_accept && xml_q > json_q {
            ResponseFormat::Xml
        } else {
            ResponseFormat::Json
        }
    }
}

/// The `Accept` value sent upstream. Unity Connection is always asked for XML, since the
/// gateway makes its own JSON; only a client that names some other concrete type (a greeting's
/// `audio/wav`) has its `Accept` forwarded as it is, so binary downloads still negotiate.
pub fn upstream_accept(headers: &HeaderMap) -> Option<HeaderValue> {
    let names_other_type = accept_ranges(headers).any(|(kind, q)| {
        q > 0.0
            && !matches!(
                kind.as_str(),
                "application/json"
                    | "application/xml"
                    | "text/xml"
                    | "*/*"
                    | "application/*"
                    | "text/*"
            )
    });
    if names_other_type {
        None
    } else {
        Some(HeaderValue::from_static("application/xml"))
    }
}

/// `(media range, q)` pairs of every `Accept` header, media ranges lower-cased.
fn accept_ranges(headers: &HeaderMap) -> impl Iterator<Item = (String, f32)> + '_ {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';');
            let kind = parts.next()?.trim().to_ascii_lowercase();
            if kind.is_empty() {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((kind, q))
        })
}

/// What a body is, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` or `application/*+json`.
    Json,
    /// `application/xml`, `text/xml` or `application/*+xml`.
    Xml,
    /// `text/html`: an error page from a servlet container or a load balancer.
    Html,
    /// `text/plain`.
    PlainText,
    /// Anything else, or no `Content-Type`: passed through untouched.
    Other,
}

impl BodyKind {
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(essence) = media_type(headers) else {
            return BodyKind::Other;
        };
        match essence.as_str() {
            "application/json" => BodyKind::Json,
            "application/xml" | "text/xml" => BodyKind::Xml,
            "text/html" => BodyKind::Html,
            "text/plain" => BodyKind::PlainText,
            t if t.starts_with("application/") && t.ends_with("+json") => BodyKind::Json,
            t if t.starts_with("application/") && t.ends_with("+xml") => BodyKind::Xml,
            _ => BodyKind::Other,
        }
    }
}

/// The lower-cased `type/subtype` of the `Content-Type`, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// The `charset` parameter of the `Content-Type`, lower-cased, if any.
pub fn charset(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// Whether the body carries a `Content-Encoding` other than `identity` (gzip and friends):
/// such bytes are not XML or JSON text and are never fed to a transcoder.
pub fn is_encoded(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn json_unless_xml_is_preferred() {
        let format =
            |accept: &'static str| ResponseFormat::from_headers(&headers(&[("accept", accept)]));
        assert_eq!(
            ResponseFormat::from_headers(&HeaderMap::new()),
            ResponseFormat::Json
        );
        assert_eq!(format("*/*"), ResponseFormat::Json);
        assert_eq!(format("application/json"), ResponseFormat::Json);
        assert_eq!(
            format("text/html,application/xhtml+xml,*/*;q=0.8"),
            ResponseFormat::Json
        );
        assert_eq!(format("application/xml"), ResponseFormat::Xml);
        assert_eq!(format("Text/XML"), ResponseFormat::Xml);
        assert_eq!(
            format("application/json;q=0.5, application/xml"),
            ResponseFormat::Xml
        );
        assert_eq!(
            format("application/xml;q=0.5, application/json"),
            ResponseFormat::Json
        );
        assert_eq!(format("audio/wav"), ResponseFormat::Json);
    }

    #[test]
    fn upstream_is_asked_for_xml_unless_another_type_is_named() {
        let upstream = |accept: &'static str| upstream_accept(&headers(&[("accept", accept)]));
        assert_eq!(upstream("application/json").unwrap(), "application/xml");
        assert_eq!(upstream("*/*").unwrap(), "application/xml");
        assert_eq!(
            upstream_accept(&HeaderMap::new()).unwrap(),
            "application/xml"
        );
        assert_eq!(upstream("audio/wav"), None);
    }

    #[test]
    fn body_kinds_and_parameters() {
        let kind = |ct: &'static str| BodyKind::of(&headers(&[("content-type", ct)]));
        assert_eq!(kind("application/json; charset=utf-8"), BodyKind::Json);
        assert_eq!(kind("application/problem+json"), BodyKind::Json);
        assert_eq!(kind("Application/XML;charset=UTF-8"), BodyKind::Xml);
        assert_eq!(kind("text/xml"), BodyKind::Xml);
        assert_eq!(kind("text/html"), BodyKind::Html);
        assert_eq!(kind("audio/wav"), BodyKind::Other);
        assert_eq!(BodyKind::of(&HeaderMap::new()), BodyKind::Other);
        assert_eq!(
            charset(&headers(&[(
                "content-type",
                "application/json; Charset=\"UTF-8\""
            )])),
            Some("utf-8".into())
        );
        assert!(is_encoded(&headers(&[("content-encoding", "gzip")])));
        assert!(!is_encoded(&headers(&[("content-encoding", "identity")])));
    }
}
