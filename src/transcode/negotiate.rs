//! Content negotiation: which contract a request is served by, and which format the client
//! wants back. (What a body already is, from its `Content-Type` and `Content-Encoding`, is
//! [`crate::content_type`]'s.)
//!
//! A request is in one of two [`Mode`]s, resolved once ([`Negotiation::of`]) and followed by
//! every later decision about it. The typed mode serves the OpenAPI document's JSON, also to
//! `*/*` and browsers. CUPI mode serves as Unity Connection does, so existing CUPI scripts run
//! unchanged: its own JSON ([`JsonStyle::Cupi`]) only to a client that asks for
//! `application/json`, and the upstream's XML to everyone else (no `Accept`, `*/*`), which is
//! what XML scripts parse. A client picks the mode with a `profile` parameter (RFC 6906) on
//! `application/json` in its `Accept`, `profile=cupi` or `profile=typed`; one that names
//! neither gets the gateway's default (`--cupi-compat` makes it CUPI mode).

use http::header::{HeaderMap, HeaderValue, ACCEPT};
use std::borrow::Cow;

use cupi_codec::JsonStyle;

use crate::header_weights::weighted_items;

/// Which contract a request is served by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The typed JSON of the OpenAPI document, unless the client prefers XML.
    #[default]
    Typed,
    /// As Unity Connection serves it: XML unless the client asks for `application/json`, and
    /// then Unity Connection's own JSON; bodies the document cannot judge are the server's to
    /// judge.
    Cupi,
}

impl Mode {
    /// The JSON this mode answers in, when it answers in JSON.
    pub(crate) fn json_style(self) -> JsonStyle {
        match self {
            Mode::Typed => JsonStyle::Typed,
            Mode::Cupi => JsonStyle::Cupi,
        }
    }
}

/// The format of the response body the client gets for an XML upstream response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseFormat {
    /// Transcoded JSON.
    Json(JsonStyle),
    /// The upstream's XML, untouched.
    Xml,
}

/// What one request was resolved to: its mode and the format of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Negotiation {
    pub(crate) mode: Mode,
    pub(crate) format: ResponseFormat,
}

impl Negotiation {
    /// The mode is the `profile` of the client's most preferred `application/json` range
    /// (`application/json; profile=cupi`), or `default` when it names none we know.
    ///
    /// Typed mode answers XML only when the client names `application/xml` or `text/xml` and
    /// prefers it to JSON by its `q` values. A tie (`*/*`) goes to JSON, and so does any
    /// `Accept` that also takes `text/html`: that is a browser navigating (Chrome and Firefox
    /// list `application/xml;q=0.9` there), and browsers get JSON.
    ///
    /// CUPI mode answers JSON only when the client names `application/json` and does not
    /// prefer XML to it; no `Accept`, `*/*`, a browser's and anything else get XML, as from
    /// Unity Connection.
    pub(crate) fn of(headers: &HeaderMap, default: Mode) -> Self {
        let mut json_q = 0.0f32;
        let mut wildcard_q = 0.0f32;
        let mut xml_q = 0.0f32;
        let mut is_browser = false;
        let mut named_mode = None;
        let mut mode_q = 0.0f32;
        for (kind, q, params) in accept_ranges(headers) {
            match &*kind {
                "application/json" => {
                    json_q = json_q.max(q);
                    if q > mode_q {
                        mode_q = q;
                        named_mode = profile(params);
                    }
                }
                "application/xml" | "text/xml" => xml_q = xml_q.max(q),
                "*/*" | "application/*" => wildcard_q = wildcard_q.max(q),
                "text/html" if q > 0.0 => is_browser = true,
                _ => {}
            }
        }
        let mode = named_mode.unwrap_or(default);
        let wants_json = match mode {
            Mode::Typed => xml_q <= json_q.max(wildcard_q) || is_browser,
            Mode::Cupi => json_q > 0.0 && json_q >= xml_q,
        };
        let format = if wants_json {
            ResponseFormat::Json(mode.json_style())
        } else {
            ResponseFormat::Xml
        };
        Negotiation { mode, format }
    }
}

/// The `Content-Type` of JSON of `style`: CUPI-style JSON says so with its profile, so a
/// client can tell which form it got.
pub(crate) fn json_content_type(style: JsonStyle) -> HeaderValue {
    match style {
        JsonStyle::Typed => HeaderValue::from_static("application/json"),
        JsonStyle::Cupi => HeaderValue::from_static("application/json; profile=cupi"),
    }
}

/// The mode a range's `profile` parameter names: `cupi` or `typed` (case-insensitive, quoted
/// or not; of a quoted, space-separated list the first known one). Unknown profiles are no
/// choice at all.
fn profile(params: &str) -> Option<Mode> {
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("profile") {
            return None;
        }
        value
            .trim()
            .trim_matches('"')
            .split_ascii_whitespace()
            .find_map(|p| match p.to_ascii_lowercase().as_str() {
                "cupi" => Some(Mode::Cupi),
                "typed" => Some(Mode::Typed),
                _ => None,
            })
    })
}

/// What the upstream is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UpstreamAccept {
    /// `Accept: application/xml` (the gateway makes its own JSON), followed by any concrete
    /// non-text types the client also named, at a lower `q`, so that a resource that is only
    /// ever audio still negotiates; plus `Accept-Encoding: identity`.
    Xml(HeaderValue),
    /// The client named only concrete non-XML/JSON types (`Accept: audio/wav`): a binary
    /// download, whose `Accept` and `Accept-Encoding` go upstream as they are.
    ClientAsIs,
}

/// Decides the upstream's `Accept`. Unity Connection is always asked for XML, except for a
/// request that can only mean a binary body.
pub(crate) fn upstream_accept(headers: &HeaderMap) -> UpstreamAccept {
    let mut binary_types = Vec::new();
    let mut takes_xml_or_json = headers.get(ACCEPT).is_none();
    for (kind, q, _) in accept_ranges(headers) {
        if q <= 0.0 {
            continue;
        }
        match &*kind {
            "application/json" | "application/xml" | "text/xml" | "*/*" | "application/*" => {
                takes_xml_or_json = true
            }
            // Never ask Unity Connection for its HTML or text renderings.
            t if t.starts_with("text/") => {}
            t if t.ends_with("+json") || t.ends_with("+xml") => takes_xml_or_json = true,
            t => binary_types.push(t.to_owned()),
        }
    }
    if !takes_xml_or_json && !binary_types.is_empty() {
        return UpstreamAccept::ClientAsIs;
    }
    let mut value = String::from("application/xml");
    for kind in binary_types {
        value.push_str(", ");
        value.push_str(&kind);
        value.push_str(";q=0.5");
    }
    let value = HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/xml"));
    UpstreamAccept::Xml(value)
}

/// `(media range, q, parameters)` of every `Accept` header, media ranges lower-cased,
/// parameters as sent (`; profile=cupi; q=0.5`).
fn accept_ranges(headers: &HeaderMap) -> impl Iterator<Item = (Cow<'_, str>, f32, &str)> + '_ {
    weighted_items(headers, ACCEPT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content_type::tests::headers;

    const JSON: ResponseFormat = ResponseFormat::Json(JsonStyle::Typed);
    const CUPI: ResponseFormat = ResponseFormat::Json(JsonStyle::Cupi);
    const XML: ResponseFormat = ResponseFormat::Xml;

    fn negotiate(default: Mode, accept: Option<&'static str>) -> Negotiation {
        let map = match accept {
            Some(accept) => headers(&[("accept", accept)]),
            None => HeaderMap::new(),
        };
        Negotiation::of(&map, default)
    }

    fn format_with(default: Mode, accept: &'static str) -> ResponseFormat {
        negotiate(default, Some(accept)).format
    }

    const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
    const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    /// (Accept, typed mode's format, CUPI mode's format): typed mode answers JSON unless XML
    /// is preferred; CUPI mode answers JSON only to clients that ask for it.
    const TABLE: &[(&str, ResponseFormat, ResponseFormat)] = &[
        // What requests and curl send unless told otherwise.
        ("*/*", JSON, XML),
        ("application/*", JSON, XML),
        ("application/json", JSON, CUPI),
        // axios's default.
        ("application/json, text/plain, */*", JSON, CUPI),
        (CHROME, JSON, XML),
        (FIREFOX, JSON, XML),
        ("application/xml", XML, XML),
        ("Text/XML", XML, XML),
        ("application/json;q=0.5, application/xml", XML, XML),
        ("application/xml;q=0.5, application/json", JSON, CUPI),
        ("application/json;q=0", JSON, XML),
        ("audio/wav", JSON, XML),
    ];

    #[test]
    fn each_mode_answers_by_its_table() {
        assert_eq!(negotiate(Mode::Typed, None).format, JSON);
        assert_eq!(negotiate(Mode::Cupi, None).format, XML);
        for &(accept, typed, cupi) in TABLE {
            assert_eq!(format_with(Mode::Typed, accept), typed, "typed: {accept}");
            assert_eq!(format_with(Mode::Cupi, accept), cupi, "CUPI: {accept}");
        }
    }

    #[test]
    fn the_mode_is_the_profile_of_the_preferred_json_range_or_the_default() {
        use Mode::{Cupi, Typed};
        let mode = |default, accept| negotiate(default, Some(accept)).mode;
        assert_eq!(format_with(Typed, "application/json; profile=cupi"), CUPI);
        assert_eq!(mode(Typed, "application/json; profile=cupi"), Cupi);
        assert_eq!(
            format_with(Typed, "application/json;profile=\"CUPI\""),
            CUPI
        );
        assert_eq!(
            format_with(Typed, "application/json; profile=\"x cupi\""),
            CUPI
        );
        assert_eq!(format_with(Typed, "application/json; profile=other"), JSON);
        assert_eq!(format_with(Typed, "application/json"), JSON);
        // The default decides for clients that name no profile.
        assert_eq!(mode(Cupi, "application/json"), Cupi);
        assert_eq!(mode(Cupi, "*/*"), Cupi);
        assert_eq!(negotiate(Cupi, None).mode, Cupi);
        assert_eq!(negotiate(Typed, None).mode, Typed);
        assert_eq!(format_with(Cupi, "application/json; profile=typed"), JSON);
        assert_eq!(mode(Cupi, "application/json; profile=typed"), Typed);
        // A typed client under the flag negotiates as typed clients do.
        assert_eq!(
            format_with(Cupi, "application/json;profile=typed, */*"),
            JSON
        );
        // The most preferred JSON range decides; `q` is a parameter like any other.
        assert_eq!(
            format_with(
                Typed,
                "application/json;profile=cupi;q=0.5, application/json"
            ),
            JSON
        );
        assert_eq!(
            format_with(
                Typed,
                "application/json;q=0.5, application/json;q=0.9;profile=cupi"
            ),
            CUPI
        );
        // A profile does not change which format wins, only the mode.
        let preferring_xml = "application/json;profile=cupi;q=0.5, application/xml";
        assert_eq!(format_with(Typed, preferring_xml), XML);
        assert_eq!(mode(Typed, preferring_xml), Cupi);
        assert_eq!(Mode::default(), Typed);
        assert_eq!(json_content_type(JsonStyle::Typed), "application/json");
        assert_eq!(
            json_content_type(JsonStyle::Cupi),
            "application/json; profile=cupi"
        );
    }

    #[test]
    fn upstream_is_asked_for_xml_unless_only_binary_types_are_named() {
        let upstream = |accept: &'static str| upstream_accept(&headers(&[("accept", accept)]));
        let xml = |value: &'static str| UpstreamAccept::Xml(HeaderValue::from_static(value));
        assert_eq!(upstream("application/json"), xml("application/xml"));
        assert_eq!(upstream("*/*"), xml("application/xml"));
        assert_eq!(
            upstream("application/json, text/plain, */*"),
            xml("application/xml")
        );
        assert_eq!(upstream_accept(&HeaderMap::new()), xml("application/xml"));
        assert_eq!(
            upstream("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            xml("application/xml")
        );
        // A browser's <audio> element: audio is still acceptable, after XML.
        assert_eq!(
            upstream("audio/webm,audio/wav;q=0.9,*/*;q=0.5"),
            xml("application/xml, audio/webm;q=0.5, audio/wav;q=0.5")
        );
        assert_eq!(upstream("audio/wav"), UpstreamAccept::ClientAsIs);
        assert_eq!(
            upstream("audio/wav, text/plain"),
            UpstreamAccept::ClientAsIs
        );
    }
}
