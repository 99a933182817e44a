//! [`Transcode`]: the service that rewrites bodies on their way through.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use http::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY,
};
use http::{Method, Request, Response, StatusCode};
use tower::Service;

use super::error_page::message_from_error_page;
use super::negotiate::{
    self, json_content_type, Mode, Negotiation, ResponseFormat, UpstreamAccept,
};
use super::request_xml::check_request_body;
use super::Limits;
use crate::body::{
    is_bodiless_status, read_request_body, read_request_prefix, read_response_body,
    read_response_prefix, Prefix, PREFIX_LIMIT,
};
use crate::budget::BodyBudget;
use crate::content_coding::{self, BodyCoding, ClientCodings};
use crate::content_type::{self, BodyKind};
use crate::error::{error_body, GatewayError};
use crate::metrics::Metrics;
use crate::BoxFuture;
use cupi_codec::{json_to_xml, stream_xml_to_json, JsonError, JsonStyle, Schema, XmlError};

/// Transcodes JSON request bodies to XML and XML responses to JSON around `S`.
/// Built by [`super::TranscodeLayer`].
#[derive(Clone, Debug)]
pub struct Transcode<S> {
    inner: S,
    schema: Arc<Schema>,
    limits: Limits,
    metrics: Arc<Metrics>,
    default_mode: Mode,
    budget: BodyBudget,
}

impl<S> Transcode<S> {
    /// The bodies read whole or in part are held in `budget`.
    pub fn new(
        inner: S,
        schema: Arc<Schema>,
        limits: Limits,
        metrics: Arc<Metrics>,
        default_mode: Mode,
        budget: BodyBudget,
    ) -> Self {
        Transcode {
            inner,
            schema,
            limits,
            metrics,
            default_mode,
            budget,
        }
    }
}

impl<S> Service<Request<Body>> for Transcode<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = GatewayError;
    // The body work is async and stateful; a boxed future keeps this readable.
    type Future = BoxFuture<Result<Response<Body>, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let mut inner = crate::take_ready(&mut self.inner);
        let schema = self.schema.clone();
        let limits = self.limits;
        let metrics = self.metrics.clone();
        let default_mode = self.default_mode;
        let budget = self.budget.clone();
        Box::pin(async move {
            // The one place the request's mode is decided; all below follows it.
            let Negotiation { mode, format } = Negotiation::of(request.headers(), default_mode);
            let is_head = request.method() == Method::HEAD;
            let upstream_accept = negotiate::upstream_accept(request.headers());
            // Asked for identity on the client's behalf, the upstream's codings are fitted
            // to what the client takes; otherwise the client's own Accept-Encoding went up.
            let client_codings = match upstream_accept {
                UpstreamAccept::Xml(_) => Some(ClientCodings::of(request.headers())),
                UpstreamAccept::ClientAsIs => None,
            };
            let request = transcode_request(
                request,
                upstream_accept,
                mode,
                schema.clone(),
                limits,
                &budget,
            )
            .await
            .inspect_err(|e| {
                if let GatewayError::InvalidJson(_) = e {
                    metrics.transcode_error("request", "invalid_json");
                }
            })?;
            let mut response = inner.call(request).await?;
            // The body's form follows the client's `Accept`: shared caches must key on it.
            response
                .headers_mut()
                .append(VARY, HeaderValue::from_static("accept"));
            let passed_on = Passed {
                client: client_codings.as_ref(),
                has_body: !is_head,
                limit: limits.max_response_body,
                budget: &budget,
            };
            match (format, is_head) {
                (ResponseFormat::Xml, _) => passed_on.fit(response).await,
                (ResponseFormat::Json(style), true) => {
                    passed_on.fit(head_as_json(response, style)).await
                }
                (ResponseFormat::Json(style), false) => {
                    transcode_response(
                        response, &schema, style, limits, &metrics, &budget, passed_on,
                    )
                    .await
                }
            }
        })
    }
}

/// Asks the upstream for XML and turns a JSON body into CUPI XML (in CUPI mode, only a body
/// that is JSON: see [`forward_unless_json`]).
async fn transcode_request(
    mut request: Request<Body>,
    upstream_accept: UpstreamAccept,
    mode: Mode,
    schema: Arc<Schema>,
    limits: Limits,
    budget: &BodyBudget,
) -> Result<Request<Body>, GatewayError> {
    if let UpstreamAccept::Xml(accept) = upstream_accept {
        let headers = request.headers_mut();
        headers.insert(ACCEPT, accept);
        // XML is transcoded from plain text, so none compressed is asked for (one that comes
        // anyway is decoded: see `content_coding`).
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    // XML request bodies go upstream untouched, but never with a DOCTYPE; any body not
    // labelled JSON may be XML to the server (see `request_xml`).
    if BodyKind::of(request.headers()) != BodyKind::Json {
        return check_request_body(request, limits.max_request_body, budget).await;
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
    let limit = limits.max_request_body;
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
            super::cpu_bound(bytes.len(), move || is_json(&bytes)).await
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
    let transcoded = super::cpu_bound(json.len(), move || {
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

/// How an answer that is not transcoded is passed on: its coding fitted to the client's
/// `Accept-Encoding` when the gateway asked for identity in its place (`client`).
#[derive(Clone, Copy)]
struct Passed<'a> {
    client: Option<&'a ClientCodings>,
    has_body: bool,
    limit: usize,
    budget: &'a BodyBudget,
}

impl Passed<'_> {
    async fn fit(self, response: Response<Body>) -> Result<Response<Body>, GatewayError> {
        match self.client {
            Some(client) => {
                let (has_body, limit) = (self.has_body, self.limit);
                content_coding::fit_for_client(response, client, has_body, limit, self.budget).await
            }
            None => Ok(response),
        }
    }
}

/// Turns an XML response into JSON and an HTML/text error page into the JSON error shape,
/// decoding either first if it came compressed; everything else (audio, empty bodies, JSON)
/// passes through untouched and streamed, as `passed_on` says.
async fn transcode_response(
    response: Response<Body>,
    schema: &Arc<Schema>,
    style: JsonStyle,
    limits: Limits,
    metrics: &Arc<Metrics>,
    budget: &BodyBudget,
    passed_on: Passed<'_>,
) -> Result<Response<Body>, GatewayError> {
    let status = response.status();
    if is_bodiless_status(status) {
        return Ok(response);
    }
    let kind = BodyKind::of(response.headers());
    let is_error_page = matches!(kind, BodyKind::Html | BodyKind::PlainText)
        && (status.is_client_error() || status.is_server_error());
    if kind != BodyKind::Xml && !is_error_page {
        return passed_on.fit(response).await;
    }
    let limit = limits.max_response_body;
    if is_error_page {
        if let BodyCoding::Undecodable(codings) = BodyCoding::of(response.headers()) {
            // A compressed error page not decoded: its text is out of reach, its status is not.
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(CONTENT_ENCODING);
            let message = format!(
                "the upstream answered {status} with a {}-compressed error page",
                codings.join(", ")
            );
            return Ok(json_error(parts, &status_code_name(status), &message));
        }
    }
    let response = content_coding::decoded_for_transcoding(response, limit)?;
    let (mut parts, body) = response.into_parts();
    let is_error_status = status.is_client_error() || status.is_server_error();
    let mut content_type = HeaderValue::from_static("application/json");
    let json = if is_error_page {
        let message = match read_response_body(body, limit, budget).await {
            Ok(bytes) => message_from_error_page(&bytes, kind == BodyKind::Html),
            // Its status matters more than its broken coding.
            Err(GatewayError::UpstreamCorruptEncoding(corrupt)) => {
                format!("the upstream answered {status} with an error page: {corrupt}")
            }
            Err(e) => return Err(e),
        };
        error_body(&status_code_name(status), &message)
    } else {
        let bytes = match read_response_prefix(body, PREFIX_LIMIT, budget).await? {
            Prefix::Complete(bytes) => bytes,
            // Too large to hold: streamed, item by item (see `stream`).
            Prefix::Partial { head, rest } => {
                let (schema, metrics) = (schema.clone(), metrics.clone());
                return super::stream::stream_response(
                    parts, head, rest, schema, style, limit, metrics,
                )
                .await;
            }
        };
        if bytes.is_empty() {
            parts.headers.remove(CONTENT_TYPE);
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (xml, schema) = (bytes.clone(), schema.clone());
        let transcoded = super::cpu_bound(bytes.len(), move || {
            let mut json = Vec::with_capacity(xml.len());
            let one_buffer = |_: &mut Vec<u8>, _| true;
            stream_xml_to_json(
                &xml[..],
                &schema,
                style,
                limit as u64,
                &mut json,
                one_buffer,
            )
            .map(|fallbacks| (json, fallbacks))
        });
        match transcoded.await {
            Ok((json, fallbacks)) => {
                metrics.typed_fallbacks.inc_by(fallbacks as u64);
                content_type = json_content_type(style);
                json
            }
            // An error status matters more than its broken body: keep the status, and give
            // what text the body has as the message.
            Err(_) if is_error_status => {
                let message = message_from_error_page(&bytes, true);
                error_body(&status_code_name(status), &message)
            }
            Err(e) => return Err(upstream_xml_error(e, limit, metrics)),
        }
    };
    parts.headers.insert(CONTENT_TYPE, content_type);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(json.len()));
    Ok(Response::from_parts(parts, Body::from(json)))
}

/// Replaces a response's body with the JSON error shape, keeping its status and headers.
fn json_error(mut parts: http::response::Parts, code: &str, message: &str) -> Response<Body> {
    let json = error_body(code, message);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(json.len()));
    Response::from_parts(parts, Body::from(json))
}

/// A HEAD answer for a JSON client: the GET would be JSON of a length not known without
/// fetching it, and never compressed, so the XML type, length and coding are not passed on.
fn head_as_json(mut response: Response<Body>, style: JsonStyle) -> Response<Body> {
    if BodyKind::of(response.headers()) == BodyKind::Xml {
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, json_content_type(style));
        headers.remove(CONTENT_LENGTH);
        headers.remove(CONTENT_ENCODING);
    }
    response
}

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

/// `401` → `unauthorized`, `503` → `service_unavailable`: the code for a transcoded error page.
fn status_code_name(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => reason.to_ascii_lowercase().replace([' ', '-'], "_"),
        None => format!("http_{}", status.as_u16()),
    }
}

fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
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
