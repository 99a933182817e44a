//! What makes two requests the same request.

use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::OnceLock;

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
///
/// Its hash is taken once, when it is made, with the process's seeded SipHash (the key is the
/// client's to choose, so the map must not be open to collisions it chooses), and the map of
/// flights reads it back with [`Prehashed`]: a request's key is looked up, inserted and
/// removed, and hashed only the once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Key {
    hash: u64,
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
        let (method, target) = (request.method().clone(), target_of(request.uri()));
        let hash = seed().hash_one((&method, &target, https, &headers));
        Some(Key {
            hash,
            method,
            target,
            https,
            headers,
        })
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The seed of every key's hash: one per process, random.
fn seed() -> &'static RandomState {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    SEED.get_or_init(RandomState::new)
}

/// The hasher of the map of flights: a [`Key`] hands it the hash it was made with.
pub(super) type KeyHasher = BuildHasherDefault<Prehashed>;

/// Passes on the one `u64` it is given.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    /// Not called: a [`Key`] writes its `u64` alone. Folds the bytes in rather than panic.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn finish(&self) -> u64 {
        self.0
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
