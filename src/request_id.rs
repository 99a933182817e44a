//! Which client-sent `x-request-id` the gateway keeps.
//!
//! A client's own id is kept so its report can be matched with the gateway's and Unity
//! Connection's logs. But the id is written to every log line of the request, returned to
//! the client and forwarded upstream, so one that could not be a plain id (longer than
//! [`MAX_REQUEST_ID_LEN`] bytes, or holding spaces, control or non-ASCII bytes) is dropped
//! here, before `SetRequestIdLayer`, which then gives the request a fresh UUID like any
//! request without one ([`RandomRequestId`]).
//!
//! # Example
//!
//! ```
//! use cupi_gateway::request_id::drop_unfit_request_id;
//!
//! let request = http::Request::get("/")
//!     .header("x-request-id", "a b")
//!     .body(())
//!     .unwrap();
//! assert!(!drop_unfit_request_id(request).headers().contains_key("x-request-id"));
//! ```

use http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// Longest `x-request-id` kept: room for any UUID, ULID or trace id with a prefix.
pub const MAX_REQUEST_ID_LEN: usize = 128;

static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Removes the request's `x-request-id` unless it is exactly one fit value (see [`is_fit`]):
/// with two, which one the logs and the upstream would see is not the client's to decide.
pub fn drop_unfit_request_id<B>(mut request: Request<B>) -> Request<B> {
    let mut ids = request.headers().get_all(&X_REQUEST_ID).iter();
    let keep = match (ids.next(), ids.next()) {
        (None, _) => return request,
        (Some(id), None) => is_fit(id),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters (`!` to `~`): no space, tab, control
/// or non-ASCII byte that could split or disguise a log field.
pub fn is_fit(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Makes random (version 4) UUIDs as request ids, from [`crate::random`]'s pool rather than a
/// system call per id, written in place rather than through a `String`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        crate::random::fill(&mut bytes);
        Some(RequestId::new(uuid_v4(bytes)))
    }
}

/// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` (RFC 9562), from 16 random bytes.
fn uuid_v4(mut bytes: [u8; 16]) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    let mut text = [0u8; 36];
    let mut at = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text[at] = b'-';
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
    }
    HeaderValue::from_bytes(&text).expect("hex digits and hyphens are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(ids: &[&[u8]]) -> Option<String> {
        let mut request = Request::new(());
        for id in ids {
            let value = HeaderValue::from_bytes(id).unwrap();
            request.headers_mut().append(&X_REQUEST_ID, value);
        }
        let request = drop_unfit_request_id(request);
        let id = request.headers().get(&X_REQUEST_ID)?;
        Some(id.to_str().unwrap().to_owned())
    }

    #[test]
    fn plain_ids_are_kept_and_others_dropped() {
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(kept(&[b"abc-123"]).as_deref(), Some("abc-123"));
        assert_eq!(kept(&[longest.as_bytes()]), Some(longest.clone()));
        assert_eq!(kept(&[]), None);
        let too_long = format!("{longest}a");
        let unfits: [&[u8]; 7] = [
            too_long.as_bytes(),
            b"",
            b"a b",
            b"a\tb",
            b"x\" status=200 path=\"/x",
            "caf\u{e9}".as_bytes(),
            b"id\xff",
        ];
        for unfit in unfits {
            assert_eq!(kept(&[unfit]), None, "{:?}", String::from_utf8_lossy(unfit));
        }
        assert_eq!(kept(&[b"one", b"two"]), None);
    }

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let request = Request::new(());
        let mut make = RandomRequestId;
        let a = make.make_request_id(&request).unwrap();
        let b = make.make_request_id(&request).unwrap();
        let a = a.header_value().to_str().unwrap();
        assert_ne!(a, b.header_value().to_str().unwrap());
        let groups: Vec<_> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
        assert!(a
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(&a[14..15], "4", "{a}");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }

    #[test]
    fn a_uuid_is_written_from_its_bytes() {
        let bytes = *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff";
        assert_eq!(uuid_v4(bytes), "00112233-4455-4677-8899-aabbccddeeff");
    }
}
