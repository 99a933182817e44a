//! Request bodies on their way up: the upstream asked for XML, a JSON body turned into CUPI
//! XML (or, where its root cannot be known, forwarded as the JSON it is), every other body
//! checked for what may be XML (see [`super::request_xml`]).

use std::sync::Arc;

use axum::body::Body;
use http::header::{HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::Request;

use super::negotiate::{Mode, UpstreamAccept};
use super::offload::cpu_bound;
use super::request_xml::check_request_body;
use crate::body::{
    declared_length, is_bodiless_request, read_request_body, read_request_prefix, Prefix,
};
use crate::budget::BodyBudget;
use crate::content_type::{self, BodyKind};
use crate::error::GatewayError;
use cupi_codec::{json_to_xml, JsonError, Schema};

/// Asks the upstream for XML and turns a JSON body into CUPI XML (in CUPI mode, only a body
/// that is JSON: see [`forward_unless_json`]).
pub(super) async fn transcode_request(
    mut request: Request<Body>,
    upstream_accept: UpstreamAccept,
    mode: Mode,
    schema: Arc<Schema>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Request<Body>, GatewayError> {
    ask_for_xml(&mut request, upstream_accept);
    // XML request bodies go upstream untouched, but never with a DOCTYPE; any body not
    // labelled JSON may be XML to the server (see `request_xml`).
    if BodyKind::of(request.headers()) != BodyKind::Json {
        return check_request_body(request, limit, budget).await;
    }
    if content_type::is_encoded(request.headers()) {
        return Err(GatewayError::UnsupportedMediaType(
            "a JSON body with a Content-Encoding cannot be transcoded: send it uncompressed".into(),
        ));
    }
    if let Some(charset) = content_type::charset(request.headers()) {
        if charset != "utf-8" && charset != "utf8" {
            return Err(GatewayError::UnsupportedMediaType(format!(
                "JSON bodies must be UTF-8, not {charset}"
            )));
        }
    }
    let described = schema.root_for_path(request.uri().path()).is_some();
    if mode == Mode::Cupi && !described {
        return forward_unless_json(request, schema, limit, budget).await;
    }
    let (parts, body) = request.into_parts();
    if declared_length(&parts.headers).is_some_and(|len| len > limit as u64) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    let json = read_request_body(body, limit, budget).await?;
    json_request_to_xml(parts, json, schema, limit).await
}

/// Whether [`transcode_request`] has nothing to do but [`ask_for_xml`]: no body, and none
/// labelled JSON (a JSON label's coding and charset are checked, body or not).
pub(super) fn has_nothing_to_transcode(request: &Request<Body>) -> bool {
    is_bodiless_request(request) && BodyKind::of(request.headers()) != BodyKind::Json
}

/// Asks the upstream for XML when the client's answer is to be transcoded from it.
pub(super) fn ask_for_xml(request: &mut Request<Body>, upstream_accept: UpstreamAccept) {
    if let UpstreamAccept::Xml(accept) = upstream_accept {
        let headers = request.headers_mut();
        headers.insert(ACCEPT, accept);
        // XML is transcoded from plain text, so none compressed is asked for (one that comes
        // anyway is decoded: see `content_coding`).
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
}

/// CUPI mode, a body labelled JSON for a resource the document does not describe: Unity
/// Connection judges its own bodies there, and a script's session-wide `Content-Type` can
/// label a greeting's WAV `application/json`. So only JSON is transcoded (413 past the
/// limit, as ever); anything else is forwarded as sent, after the checks every body that is
/// not JSON gets (no DOCTYPE reaches the server), and streamed when it is larger than the
/// limit. Memory holds at most the limit, in the body budget.
async fn forward_unless_json(
    request: Request<Body>,
    schema: Arc<Schema>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Request<Body>, GatewayError> {
    let (parts, body) = request.into_parts();
    let prefix = read_request_prefix(body, limit.saturating_add(1), budget).await?;
    let looks_like_json = match &prefix {
        Prefix::Complete(bytes) => {
            let bytes = bytes.clone();
            cpu_bound(bytes.len(), move || is_json(&bytes)).await
        }
        Prefix::Partial { head, .. } => starts_like_json(head),
    };
    match prefix {
        Prefix::Complete(json) if looks_like_json => {
            json_request_to_xml(parts, json, schema, limit).await
        }
        Prefix::Partial { .. } if looks_like_json => Err(GatewayError::PayloadTooLarge { limit }),
        not_json => {
            tracing::debug!(
                path = parts.uri.path(),
                "a body labelled JSON that is not JSON forwarded for the server to judge"
            );
            let request = Request::from_parts(parts, not_json.into_body());
            check_request_body(request, limit, budget).await
        }
    }
}

/// Whether the bytes are one JSON value (duplicate keys and the like are for the transcoder
/// to name).
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Whether the first bytes of a body too large to parse begin a JSON object or array: such
/// a body is refused as too large, as it would be in typed mode. A UTF-8 byte order mark
/// before it changes nothing, since JSON readers (Jackson) skip one.
fn starts_like_json(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['))
}

/// Turns a JSON body read whole into CUPI XML, or forwards it as JSON where its XML root
/// cannot be known.
async fn json_request_to_xml(
    mut parts: http::request::Parts,
    json: bytes::Bytes,
    schema: Arc<Schema>,
    limit: usize,
) -> Result<Request<Body>, GatewayError> {
    if json.is_empty() {
        return Ok(Request::from_parts(parts, Body::empty()));
    }
    let path = parts.uri.path().to_owned();
    let body = json.clone();
    let transcoded = cpu_bound(json.len(), move || {
        json_to_xml(&body, schema.root_for_path(&path), limit)
    });
    let xml = match transcoded.await {
        Ok(xml) => xml,
        // A resource the document does not describe, and a body not wrapped in its root
        // element (`{"HackCount":"0"}`, as CUPI scripts send): the root cannot be known, so
        // it is not guessed. Unity Connection reads JSON bodies itself, so this one goes as
        // sent, `Content-Type` included: what the script would have sent it directly. It has
        // been parsed (and checked for duplicate keys) before getting here.
        Err(JsonError::NoRoot) => {
            tracing::debug!(
                path = parts.uri.path(),
                "unwrapped JSON body forwarded as JSON"
            );
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(json.len()));
            return Ok(Request::from_parts(parts, Body::from(json)));
        }
        Err(e) => return Err(e.into()),
    };
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(xml.len()));
    Ok(Request::from_parts(parts, Body::from(xml)))
}
