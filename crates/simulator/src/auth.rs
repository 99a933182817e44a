//! Authentication as Unity Connection's Tomcat does it: HTTP Basic on every request, plus
//! `JSESSIONID`/`JSESSIONIDSSO` session cookies that, once issued, authenticate on their own.
//!
//! The gateway must cope with both (re-sending cookies or not), so the simulator issues them
//! and honours them. Base64 is decoded here because no base64 crate is a dependency.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::response::Response;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::SimulatorConfig;

/// Most sessions kept; the oldest is forgotten first, so cookie-less load tests cannot grow
/// memory without bound.
const MAX_SESSIONS: usize = 10_000;

/// Session ids the simulator issued, oldest first.
#[derive(Default)]
pub(crate) struct Sessions {
    known: HashSet<String>,
    order: VecDeque<String>,
}

impl Sessions {
    fn contains(&self, id: &str) -> bool {
        self.known.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.order.len() >= MAX_SESSIONS {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
        self.known.insert(id.clone());
        self.order.push_back(id);
    }
}

/// Result of checking a request's credentials.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A known `JSESSIONID` cookie.
    Session,
    /// Good Basic credentials and no known session: send these `Set-Cookie` values.
    NewSession(Vec<HeaderValue>),
    /// Neither.
    Denied,
}

/// Checks the request's cookie and Authorization headers, registering a new session when
/// Basic auth succeeds without one.
pub(crate) fn check(
    headers: &HeaderMap,
    config: &SimulatorConfig,
    sessions: &std::sync::Mutex<Sessions>,
) -> Outcome {
    let cookie = session_cookie(headers);
    let mut sessions = sessions.lock().unwrap_or_else(|e| e.into_inner());
    if cookie.is_some_and(|id| sessions.contains(&id)) {
        return Outcome::Session;
    }
    if !basic_ok(headers, config) {
        return Outcome::Denied;
    }
    let session = new_token();
    let sso = new_token();
    sessions.insert(session.clone());
    let cookies = [
        format!("JSESSIONIDSSO={sso}; Path=/; Secure; HttpOnly"),
        format!("JSESSIONID={session}; Path=/vmrest; Secure; HttpOnly"),
    ];
    Outcome::NewSession(
        cookies
            .iter()
            .filter_map(|c| HeaderValue::from_str(c).ok())
            .collect(),
    )
}

/// Adds an outcome's `Set-Cookie` headers to a response.
pub(crate) fn add_cookies(response: &mut Response, outcome: Outcome) {
    if let Outcome::NewSession(cookies) = outcome {
        for cookie in cookies {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
}

/// The value of the first `JSESSIONID` cookie in any `Cookie` header.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "JSESSIONID")
        .map(|(_, value)| value.trim_matches('"').to_string())
}

fn basic_ok(headers: &HeaderMap, config: &SimulatorConfig) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = base64_decode(token.trim()) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    user == config.username.as_bytes() && password == config.password.as_bytes()
}

/// Standard base64 with optional padding; `None` on any invalid character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// 32 upper-case hex digits, like Tomcat's session ids. Not cryptographic: std's randomly
/// keyed hasher over a counter and the clock is plenty for a simulator.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(nanos);
        h.write_u64(salt);
        h.finish()
    };
    format!("{:016X}{:016X}", half(1), half(2))
}

/// Tomcat's 401 page, with the Basic challenge.
pub(crate) fn unauthorized() -> Response {
    const PAGE: &str = "<!doctype html><html lang=\"en\"><head><title>HTTP Status 401 \u{2013} Unauthorized</title>\
<style type=\"text/css\">body {font-family:Tahoma,Arial,sans-serif;} h1 {font-size:22px;}</style></head>\
<body><h1>HTTP Status 401 \u{2013} Unauthorized</h1><hr class=\"line\" /><p><b>Type</b> Status Report</p>\
<p><b>Description</b> The request has not been applied to the target resource because it lacks valid \
authentication credentials for that resource.</p><hr class=\"line\" /><h3>Apache Tomcat</h3></body></html>";
    let mut response = Response::new(Body::from(PAGE));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Cisco Unity Connection\""),
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(
            base64_decode("YWRtaW46cGFzc3dvcmQ=").unwrap(),
            b"admin:password"
        );
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("a*==").is_none());
    }

    #[test]
    fn tokens_differ() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
