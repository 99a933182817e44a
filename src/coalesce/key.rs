//! What makes two requests the same request.

use axum::body::Body;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Uri};

use crate::body::is_bodiless_request;
use crate::connection::ConnectionInfo;

/// Headers that identify or trace a request without changing what the upstream answers.
/// Every other header is part of the key, so an unknown header can only prevent sharing.
const IGNORED: &[&str] = &[
    "x-request-id",
    "user-agent",
    "referer",
    "traceparent",
    "tracestate",
    "x-forwarded-for",
];

/// Requests with equal keys get the same answer from the upstream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    method: Method,
    target: String,
    https: bool,
    /// Sorted by name; values of one name keep their order, which can matter.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Key {
    /// The key of a bodiless `GET` or `HEAD`; `None` for anything else, which is never shared.
    pub(super) fn of(request: &Request<Body>) -> Option<Key> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) || !is_bodiless_request(request)
        {
            return None;
        }
        let mut headers = Vec::with_capacity(request.headers().len());
        headers.extend(
            request
                .headers()
                .iter()
                .filter(|(name, _)| !IGNORED.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        headers.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        // The scheme the client used shapes rewritten `Location` headers.
        let https = request
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|info| info.scheme == "https");
        Some(Key {
            method: request.method().clone(),
            target: target_of(request.uri()),
            https,
            headers,
        })
    }
}

/// The authority (HTTP/2's `:authority`, which rewritten `Location` headers name; HTTP/1's
/// is its `Host` header, among the headers) and the path and query, in one allocation.
fn target_of(uri: &Uri) -> String {
    let authority = uri.authority().map_or("", |authority| authority.as_str());
    let path_and_query = uri.path_and_query().map_or("/", |target| target.as_str());
    let mut target = String::with_capacity(authority.len() + 1 + path_and_query.len());
    // A space, which neither may hold, keeps the two apart.
    target.push_str(authority);
    target.push(' ');
    target.push_str(path_and_query);
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(headers: &[(&str, &str)]) -> Request<Body> {
        let mut request = Request::get("/vmrest/portgroups?rowsPerPage=5");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).unwrap()
    }

    #[test]
    fn credentials_and_cookies_are_part_of_the_key_request_ids_are_not() {
        let alice = get(&[("authorization", "Basic YQ=="), ("x-request-id", "1")]);
        let alice_again = get(&[("x-request-id", "2"), ("authorization", "Basic YQ==")]);
        let bob = get(&[("authorization", "Basic Yg=="), ("x-request-id", "3")]);
        let alice_with_session = get(&[("authorization", "Basic YQ=="), ("cookie", "s=1")]);
        assert_eq!(Key::of(&alice), Key::of(&alice_again));
        assert_ne!(Key::of(&alice), Key::of(&bob));
        assert_ne!(Key::of(&alice), Key::of(&alice_with_session));
        assert_ne!(
            Key::of(&get(&[("accept", "application/xml")])),
            Key::of(&get(&[("accept", "application/json")]))
        );
    }

    #[test]
    fn the_target_and_an_http2_authority_are_part_of_the_key() {
        let at = |uri: &str| Key::of(&Request::get(uri).body(Body::empty()).unwrap());
        assert_eq!(
            at("/vmrest/ports?rowsPerPage=2"),
            at("/vmrest/ports?rowsPerPage=2")
        );
        assert_ne!(
            at("/vmrest/ports?rowsPerPage=2"),
            at("/vmrest/ports?rowsPerPage=3")
        );
        assert_ne!(at("/vmrest/ports"), at("/vmrest/portgroups"));
        assert_ne!(
            at("https://a.example/vmrest/ports"),
            at("https://b.example/vmrest/ports")
        );
        assert_ne!(at("https://a.example/vmrest/ports"), at("/vmrest/ports"));
    }

    #[test]
    fn writes_and_reads_with_a_body_have_no_key() {
        let put = Request::put("/vmrest/portgroups/x")
            .body(Body::empty())
            .unwrap();
        assert_eq!(Key::of(&put), None);
        let get_with_body = Request::get("/x")
            .header("content-length", "2")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(Key::of(&get_with_body), None);
        let head = Request::head("/x").body(Body::empty()).unwrap();
        assert_ne!(Key::of(&head), Key::of(&get(&[])));
    }
}
