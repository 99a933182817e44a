//! What a body is, from its own headers: its `Content-Type` ([`BodyKind`], [`charset`],
//! [`is_media`]) and its `Content-Encoding` ([`is_encoded`]). Validation, transcoding and
//! coalescing all decide from these whether a body is theirs to read; what the client asks
//! for back is negotiation's (`transcode::negotiate`).

use http::header::{HeaderMap, CONTENT_ENCODING, CONTENT_TYPE};

/// What a body is, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `application/json`, `text/json` or `*/*+json`.
    Json,
    /// `application/xml`, `text/xml` or `*/*+xml`.
    Xml,
    /// `text/html`: an error page from a servlet container or a load balancer.
    Html,
    /// `text/plain`.
    PlainText,
    /// Anything else, or no `Content-Type`: passed through untouched.
    Other,
}

impl BodyKind {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let Some(essence) = media_type(headers) else {
            return BodyKind::Other;
        };
        match essence.as_str() {
            "application/json" => BodyKind::Json,
            "application/xml" | "text/xml" => BodyKind::Xml,
            "text/html" => BodyKind::Html,
            "text/plain" => BodyKind::PlainText,
            // Structured-syntax suffixes under any top-level type (`text/vnd.x+xml`): servers'
            // XML readers (JAXB) take them all, so the gateway treats them as XML too.
            t if t.ends_with("+json") || t == "text/json" => BodyKind::Json,
            t if t.ends_with("+xml") => BodyKind::Xml,
            _ => BodyKind::Other,
        }
    }
}

/// The lower-cased `type/subtype` of the `Content-Type`, without parameters.
///
/// Read from the header's bytes, not its text: a parameter with a non-ASCII byte
/// (`application/xml; x=\xE9`) does not hide the type, which servers read the same way.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.as_bytes();
    let essence = value.split(|&b| b == b';').next()?.trim_ascii();
    let essence = std::str::from_utf8(essence).ok()?.to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// The `charset` parameter of the `Content-Type`, lower-cased, if any; bytes that are not
/// ASCII are kept (replaced), so such a charset is never taken for UTF-8.
pub(crate) fn charset(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.as_bytes();
    value.split(|&b| b == b';').skip(1).find_map(|p| {
        let (name, value) = p.split_at(p.iter().position(|&b| b == b'=')?);
        let value = String::from_utf8_lossy(&value[1..]);
        name.trim_ascii()
            .eq_ignore_ascii_case(b"charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// Whether the `Content-Type` says the body is audio, video or an image: media whose bytes are
/// never XML to a server, so that a compressed one may go upstream unread. Only when it is
/// the one `Content-Type`: of two, a server might read the other.
pub(crate) fn is_media(headers: &HeaderMap) -> bool {
    let single = headers.get_all(CONTENT_TYPE).iter().count() == 1;
    single
        && media_type(headers).is_some_and(|t| {
            ["audio/", "video/", "image/"]
                .iter()
                .any(|top| t.starts_with(top))
        })
}

/// Whether the body carries a `Content-Encoding` other than `identity` (gzip and friends):
/// such bytes are not XML or JSON text and are never fed to a transcoder.
pub(crate) fn is_encoded(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use http::HeaderValue;

    /// A header map of `pairs`, in order (also for the negotiation's tests).
    pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn body_kinds_and_parameters() {
        let kind = |ct: &'static str| BodyKind::of(&headers(&[("content-type", ct)]));
        assert_eq!(kind("application/json; charset=utf-8"), BodyKind::Json);
        assert_eq!(kind("application/problem+json"), BodyKind::Json);
        assert_eq!(kind("Application/XML;charset=UTF-8"), BodyKind::Xml);
        assert_eq!(kind("text/xml"), BodyKind::Xml);
        assert_eq!(kind("text/vnd.a+xml"), BodyKind::Xml);
        assert_eq!(kind("text/json"), BodyKind::Json);
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
