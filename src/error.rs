//! The gateway's errors and their one JSON shape.
//!
//! Every error a client can get, from the gateway or (transcoded) from Unity Connection, has
//! the shape CUPI's own `ErrorDetails` takes in JSON:
//!
//! ```json
//! {"errors": [{"code": "upstream_unreachable", "message": "..."}]}
//! ```
//!
//! Services inside the stack return `Result<Response, GatewayError>`; the error is turned into
//! a response in exactly one place ([`GatewayError::into_response`]), where it is also logged.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};

use cupi_codec::{JsonError, XmlError};

/// A boxed error, as hyper and tower pass them around.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Everything that can go wrong between the client and Unity Connection.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{path} is not served here: the gateway forwards /vmrest and nothing else")]
    NotFound { path: String },
    #[error("{0}")]
    InvalidJson(#[from] JsonError),
    #[error("the request body is larger than the gateway's limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("reading the request body failed: {0}")]
    RequestBody(#[source] BoxError),
    #[error("the client stopped sending its request body")]
    RequestTimeout,
    #[error("Transfer-Encoding {0:?} is not supported: send the body with Content-Length or plain chunked")]
    UnsupportedTransferEncoding(String),
    #[error("{0}")]
    InvalidPath(&'static str),
    #[error("{0}")]
    InvalidTarget(&'static str),
    #[error("XML bodies with a DOCTYPE (entity declarations) are not accepted")]
    XmlDoctype,
    /// Built by [`GatewayError::invalid_xml`], never with [`XmlError::Doctype`].
    #[error("the XML body could not be read: {0}")]
    InvalidXml(#[source] XmlError),
    #[error("{method} is not allowed on {path}; allowed: {allow}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: String,
    },
    #[error("the request does not match the API description: {}", .0.iter().map(|v| v.message.as_str()).collect::<Vec<_>>().join("; "))]
    Validation(Vec<ErrorEntry>),
    #[error("the upstream could not be reached: {}", describe_chain(.0.as_ref()))]
    UpstreamUnreachable(#[source] BoxError),
    #[error("the TLS handshake with the upstream failed: {}", describe_chain(.0.as_ref()))]
    UpstreamTls(#[source] BoxError),
    #[error("the upstream did not answer within {}", humantime::format_duration(*.0))]
    UpstreamTimeout(Duration),
    #[error("the upstream stopped sending its response body")]
    UpstreamStalled,
    #[error("no answer within the gateway's request timeout of {}", humantime::format_duration(*.0))]
    RequestDeadline(Duration),
    #[error("Unity Connection is busy: the gateway's queue for it is full or the wait ran out; retry shortly")]
    UpstreamBusy { retry_after: Duration },
    #[error(
        "the gateway holds as many buffered bodies as its memory budget allows; retry shortly"
    )]
    BodyBudgetExhausted { retry_after: Duration },
    #[error("the upstream's XML could not be transcoded: {0}")]
    UpstreamInvalidXml(#[source] XmlError),
    #[error("the upstream's response body is larger than the gateway's limit of {limit} bytes")]
    UpstreamResponseTooLarge { limit: usize },
    #[error("reading the upstream's response body failed: {}", describe_chain(.0.as_ref()))]
    UpstreamBody(#[source] BoxError),
    #[error("the upstream's body cannot be decoded: {0}")]
    UpstreamEncoded(String),
    #[error("the upstream's compressed body is corrupt: {0}")]
    UpstreamCorruptEncoding(#[source] BoxError),
    #[error("the upstream broke the HTTP protocol: {}", describe_chain(.0.as_ref()))]
    UpstreamProtocol(#[source] BoxError),
    /// One failure answered to every request coalesced into the same upstream request.
    #[error(transparent)]
    Shared(Arc<GatewayError>),
}

impl GatewayError {
    /// The stable, machine-readable code frontends switch on.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::NotFound { .. } => "not_found",
            GatewayError::InvalidJson(JsonError::TooLarge { .. })
            | GatewayError::PayloadTooLarge { .. } => "payload_too_large",
            GatewayError::InvalidJson(_) => "invalid_json",
            GatewayError::UnsupportedMediaType(_) => "unsupported_media_type",
            GatewayError::RequestBody(_) => "request_body_error",
            GatewayError::RequestTimeout => "request_timeout",
            GatewayError::UnsupportedTransferEncoding(_) => "unsupported_transfer_encoding",
            GatewayError::InvalidPath(_) => "invalid_path",
            GatewayError::InvalidTarget(_) => "invalid_request_target",
            GatewayError::XmlDoctype => "xml_doctype_not_allowed",
            GatewayError::InvalidXml(_) => "invalid_xml",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
            GatewayError::Validation(_) => "validation_failed",
            GatewayError::UpstreamUnreachable(_) => "upstream_unreachable",
            GatewayError::UpstreamTls(_) => "upstream_tls_error",
            GatewayError::UpstreamTimeout(_) | GatewayError::UpstreamStalled => "upstream_timeout",
            GatewayError::UpstreamBusy { .. } => "upstream_busy",
            GatewayError::BodyBudgetExhausted { .. } => "body_budget_exhausted",
            GatewayError::RequestDeadline(_) => "gateway_timeout",
            GatewayError::UpstreamInvalidXml(_) => "upstream_invalid_xml",
            GatewayError::UpstreamResponseTooLarge { .. } => "upstream_response_too_large",
            GatewayError::UpstreamBody(_) => "upstream_body_error",
            GatewayError::UpstreamEncoded(_) => "upstream_unsupported_encoding",
            GatewayError::UpstreamCorruptEncoding(_) => "upstream_corrupt_encoding",
            GatewayError::UpstreamProtocol(_) => "upstream_protocol_error",
            GatewayError::Shared(error) => error.code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::NotFound { .. } => StatusCode::NOT_FOUND,
            GatewayError::InvalidJson(JsonError::TooLarge { .. })
            | GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::InvalidJson(_)
            | GatewayError::RequestBody(_)
            | GatewayError::InvalidPath(_)
            | GatewayError::InvalidTarget(_)
            | GatewayError::XmlDoctype
            | GatewayError::InvalidXml(_)
            | GatewayError::Validation(_) => StatusCode::BAD_REQUEST,
            GatewayError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            GatewayError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            GatewayError::UnsupportedTransferEncoding(_) => StatusCode::NOT_IMPLEMENTED,
            GatewayError::UpstreamTimeout(_)
            | GatewayError::UpstreamStalled
            | GatewayError::RequestDeadline(_) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::UpstreamBusy { .. } | GatewayError::BodyBudgetExhausted { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            GatewayError::UpstreamUnreachable(_)
            | GatewayError::UpstreamTls(_)
            | GatewayError::UpstreamInvalidXml(_)
            | GatewayError::UpstreamResponseTooLarge { .. }
            | GatewayError::UpstreamBody(_)
            | GatewayError::UpstreamEncoded(_)
            | GatewayError::UpstreamCorruptEncoding(_)
            | GatewayError::UpstreamProtocol(_) => StatusCode::BAD_GATEWAY,
            GatewayError::Shared(error) => error.status(),
        }
    }

    /// A request's XML body that could not be read; one with a DOCTYPE is refused as every
    /// DOCTYPE is, whichever reader found it.
    pub fn invalid_xml(error: XmlError) -> Self {
        match error {
            XmlError::Doctype => GatewayError::XmlDoctype,
            other => GatewayError::InvalidXml(other),
        }
    }

    /// The JSON error response; server-side errors are logged with their whole cause chain.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request refused");
        }
        self.render()
    }

    fn render(&self) -> Response<Body> {
        let status = self.status();
        match self {
            // One entry per offending field or parameter, each naming it, so a form can show
            // them in place.
            GatewayError::Validation(entries) => {
                json_bytes_response(status, errors_json(entries.iter().map(ErrorEntry::to_json)))
            }
            GatewayError::UpstreamBusy { retry_after }
            | GatewayError::BodyBudgetExhausted { retry_after } => {
                let mut response = error_response(status, self.code(), &self.to_string());
                let seconds = retry_after.as_secs().max(1);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
            GatewayError::MethodNotAllowed { allow, .. } => {
                let mut response = error_response(status, self.code(), &self.to_string());
                if let Ok(allow) = HeaderValue::from_str(allow) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                response
            }
            GatewayError::Shared(error) => error.render(),
            other => error_response(status, other.code(), &other.to_string()),
        }
    }
}

/// Builds a response in the gateway's JSON error shape.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_bytes_response(status, error_body(code, message))
}

fn json_bytes_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"errors":[{"code":…,"message":…}]}` as bytes.
pub fn error_body(code: &str, message: &str) -> Vec<u8> {
    errors_json([serde_json::json!({ "code": code, "message": message })])
}

/// The shape itself: `{"errors": [...]}` as bytes.
fn errors_json(entries: impl IntoIterator<Item = serde_json::Value>) -> Vec<u8> {
    let errors: Vec<_> = entries.into_iter().collect();
    serde_json::to_vec(&serde_json::json!({ "errors": errors })).unwrap_or_default()
}

/// One entry of the error shape that names the input it is about, so a form can show it in
/// place: `{"code": "read_only_field", "field": "DisplayName", "message": …}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorEntry {
    pub code: &'static str,
    pub message: String,
    /// The entry's key for the input (`field`, `parameter`) and the input's name.
    pub about: (&'static str, String),
}

impl ErrorEntry {
    fn to_json(&self) -> serde_json::Value {
        let mut entry = serde_json::json!({ "code": self.code, "message": self.message });
        let (key, name) = &self.about;
        entry[*key] = name.as_str().into();
        entry
    }
}

/// `error` and its causes, outermost first: the one walk of a `source()` chain.
///
/// An `io::Error` wrapping another error (as tokio-rustls wraps `rustls::Error`) reports the
/// *inner error's* source from `source()`, skipping the inner error itself, so the walk steps
/// into `io::Error::get_ref()` instead. The inner error's text is the `io::Error`'s.
pub fn error_chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| cause_of(e))
}

fn cause_of<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner as &(dyn StdError + 'static)),
        None => error.source(),
    }
}

/// The first error of type `E` in `error`'s chain, `error` included.
pub fn find_source<'a, E: StdError + 'static>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a E> {
    error_chain(error).find_map(|e| e.downcast_ref::<E>())
}

/// "outer: inner: root cause", since hyper's top-level messages alone say little.
pub(crate) fn describe_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    for e in error_chain(error).skip(1) {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_entries_name_their_input() {
        let entry = ErrorEntry {
            code: "read_only_field",
            message: "m".into(),
            about: ("field", "DisplayName".into()),
        };
        let response = GatewayError::Validation(vec![entry]).render();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_json(response);
        assert_eq!(
            body,
            serde_json::json!({"errors": [{"code": "read_only_field", "field": "DisplayName", "message": "m"}]})
        );
    }

    fn body_json(response: Response<Body>) -> serde_json::Value {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 10))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn error_body_has_the_shared_shape() {
        let body: serde_json::Value = serde_json::from_slice(&error_body("c", "m\"")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"errors": [{"code": "c", "message": "m\""}]})
        );
    }
}
