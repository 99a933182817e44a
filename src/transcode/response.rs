//! Answers on their way down to a JSON client: XML turned into JSON (whole, or streamed when
//! too large to hold), an HTML or text error page into the JSON error shape, and everything
//! else passed on, its coding fitted to the client.

use std::sync::Arc;

use axum::body::Body;
use http::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};

use super::error_page::message_from_error_page;
use super::negotiate::json_content_type;
use super::offload::cpu_bound;
use super::stream::stream_response;
use super::xml_error::upstream_xml_error;
use crate::body::{
    declared_length, is_bodiless_status, read_response_body, read_response_on,
    read_response_prefix, Prefix, PREFIX_LIMIT, WHOLE_LIMIT,
};
use crate::budget::BodyBudget;
use crate::content_coding::{self, BodyCoding, ClientCodings};
use crate::content_type::BodyKind;
use crate::error::{error_body, GatewayError};
use crate::metrics::Metrics;
use cupi_codec::{JsonStyle, Schema, XmlError};

/// How an answer that is not transcoded is passed on: its coding fitted to the client's
/// `Accept-Encoding` when the gateway asked for identity in its place (`client`).
#[derive(Clone, Copy)]
pub(super) struct Passed<'a> {
    pub(super) client: Option<&'a ClientCodings>,
    pub(super) has_body: bool,
    pub(super) limit: usize,
    pub(super) budget: &'a BodyBudget,
}

impl Passed<'_> {
    pub(super) async fn fit(
        self,
        response: Response<Body>,
    ) -> Result<Response<Body>, GatewayError> {
        match self.client {
            Some(client) => {
                let (has_body, limit) = (self.has_body, self.limit);
                // Boxed where reached, as the other rare branches below (`middleware`: the
                // future's size).
                let fitted =
                    content_coding::fit_for_client(response, client, has_body, limit, self.budget);
                Box::pin(fitted).await
            }
            None => Ok(response),
        }
    }
}

/// What turning an answer into JSON takes: the typing, the style, the limit on the body,
/// where fallbacks and faults are counted.
pub(super) struct ToJson<'a> {
    pub(super) schema: &'a Arc<Schema>,
    pub(super) style: JsonStyle,
    pub(super) limit: usize,
    pub(super) metrics: &'a Arc<Metrics>,
}

/// Turns an XML response into JSON and an HTML/text error page into the JSON error shape,
/// decoding either first if it came compressed; everything else (audio, empty bodies, JSON)
/// passes through untouched and streamed, as `passed_on` says.
pub(super) async fn transcode_response(
    response: Response<Body>,
    to_json: ToJson<'_>,
    passed_on: Passed<'_>,
) -> Result<Response<Body>, GatewayError> {
    let status = response.status();
    if is_bodiless_status(status) {
        return Ok(response);
    }
    let kind = BodyKind::of(response.headers());
    if matches!(kind, BodyKind::Html | BodyKind::PlainText) && is_error(status) {
        let is_html = kind == BodyKind::Html;
        let page = error_page_as_json(response, is_html, to_json.limit, passed_on.budget);
        return Box::pin(page).await;
    }
    if kind != BodyKind::Xml {
        return passed_on.fit(response).await;
    }
    xml_as_json(response, to_json, passed_on.budget).await
}

/// An upstream's error page as the JSON error shape, with its status and the text it has.
async fn error_page_as_json(
    response: Response<Body>,
    is_html: bool,
    limit: usize,
    budget: &BodyBudget,
) -> Result<Response<Body>, GatewayError> {
    let status = response.status();
    if let BodyCoding::Undecodable(codings) = BodyCoding::of(response.headers()) {
        // A compressed error page not decoded: its text is out of reach, its status is not.
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(CONTENT_ENCODING);
        let message = format!(
            "the upstream answered {status} with a {}-compressed error page",
            codings.join(", ")
        );
        return Ok(json_error(parts, status, &message));
    }
    let response = content_coding::decoded_for_transcoding(response, limit)?;
    let (parts, body) = response.into_parts();
    let message = match read_response_body(body, limit, budget).await {
        Ok(bytes) => message_from_error_page(&bytes, is_html),
        // Its status matters more than its broken coding.
        Err(GatewayError::UpstreamCorruptEncoding(corrupt)) => {
            format!("the upstream answered {status} with an error page: {corrupt}")
        }
        Err(e) => return Err(e),
    };
    Ok(json_error(parts, status, &message))
}

/// An XML answer as JSON: transcoded whole when its body is within [`WHOLE_LIMIT`] and the
/// budget holds it, streamed item by item otherwise (see `stream`).
async fn xml_as_json(
    response: Response<Body>,
    to_json: ToJson<'_>,
    budget: &BodyBudget,
) -> Result<Response<Body>, GatewayError> {
    let (style, limit) = (to_json.style, to_json.limit);
    let response = content_coding::decoded_for_transcoding(response, limit)?;
    let (mut parts, body) = response.into_parts();
    let mut prefix = read_response_prefix(body, PREFIX_LIMIT, budget).await?;
    if let Prefix::Partial { head, rest } = prefix {
        // Boxed where reached: a large answer (`middleware`: the future's size).
        let length = declared_length(&parts.headers);
        let read_on = read_response_on(head, rest, length, WHOLE_LIMIT, budget);
        prefix = Box::pin(read_on).await?;
    }
    let xml = match prefix {
        Prefix::Complete(bytes) => bytes,
        Prefix::Partial { head, rest } => {
            let (schema, metrics) = (to_json.schema.clone(), to_json.metrics.clone());
            let streamed = stream_response(parts, head, rest, schema, style, limit, metrics);
            return Box::pin(streamed).await;
        }
    };
    if xml.is_empty() {
        parts.headers.remove(CONTENT_TYPE);
        parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    match transcode_whole(xml.clone(), to_json.schema.clone(), style, limit).await {
        Ok((json, fallbacks)) => {
            to_json.metrics.typed_fallbacks.inc_by(fallbacks as u64);
            Ok(with_body(parts, json_content_type(style), json))
        }
        // An error status matters more than its broken body: keep the status, and give what
        // text the body has as the message.
        Err(_) if is_error(parts.status) => {
            let status = parts.status;
            Ok(json_error(
                parts,
                status,
                &message_from_error_page(&xml, true),
            ))
        }
        Err(e) => Err(upstream_xml_error(e, limit, to_json.metrics)),
    }
}

/// A body held whole transcoded in one buffer, off the async workers when large; the JSON
/// and how many values fell back to strings.
async fn transcode_whole(
    xml: bytes::Bytes,
    schema: Arc<Schema>,
    style: JsonStyle,
    limit: usize,
) -> Result<(Vec<u8>, usize), XmlError> {
    cpu_bound(xml.len(), move || {
        let mut json = Vec::with_capacity(xml.len());
        cupi_codec::whole_xml_to_json(&xml, &schema, style, limit as u64, &mut json)
            .map(|fallbacks| (json, fallbacks))
    })
    .await
}

fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// Replaces a response's body with the JSON error shape, keeping its status and headers.
fn json_error(parts: http::response::Parts, status: StatusCode, message: &str) -> Response<Body> {
    let json = error_body(&status_code_name(status), message);
    with_body(parts, HeaderValue::from_static("application/json"), json)
}

fn with_body(
    mut parts: http::response::Parts,
    content_type: HeaderValue,
    body: Vec<u8>,
) -> Response<Body> {
    parts.headers.insert(CONTENT_TYPE, content_type);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, Body::from(body))
}

/// A HEAD answer for a JSON client: the GET would be JSON of a length not known without
/// fetching it, and never compressed, so the XML type, length and coding are not passed on.
pub(super) fn head_as_json(mut response: Response<Body>, style: JsonStyle) -> Response<Body> {
    if BodyKind::of(response.headers()) == BodyKind::Xml {
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, json_content_type(style));
        headers.remove(CONTENT_LENGTH);
        headers.remove(CONTENT_ENCODING);
    }
    response
}

/// `401` → `unauthorized`, `503` → `service_unavailable`: the code for a transcoded error page.
fn status_code_name(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => reason.to_ascii_lowercase().replace([' ', '-'], "_"),
        None => format!("http_{}", status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names() {
        assert_eq!(status_code_name(StatusCode::UNAUTHORIZED), "unauthorized");
        assert_eq!(
            status_code_name(StatusCode::SERVICE_UNAVAILABLE),
            "service_unavailable"
        );
        assert_eq!(
            status_code_name(StatusCode::from_u16(599).unwrap()),
            "http_599"
        );
    }
}
