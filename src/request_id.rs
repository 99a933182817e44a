//! The request id: the client's own `x-request-id` when it is a plain id, a fresh UUID
//! otherwise ([`assign`]).
//!
//! A client's own id is kept so its report can be matched with the gateway's and Unity
//! Connection's logs. But the id is written to every log line of the request, returned to
//! the client and forwarded upstream, so one that could not be a plain id (longer than
//! [`MAX_REQUEST_ID_LEN`] bytes, or holding spaces, control or non-ASCII bytes) is replaced,
//! as is a pair: which one the logs and the upstream would see is not the client's to decide.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::request_id::assign;
//!
//! let mut kept = http::Request::get("/").header("x-request-id", "abc-1").body(()).unwrap();
//! assert_eq!(assign(&mut kept), "abc-1");
//! let mut replaced = http::Request::get("/").header("x-request-id", "a b").body(()).unwrap();
//! let id = assign(&mut replaced);
//! assert_eq!(id.len(), 36); // a UUID
//! assert_eq!(replaced.headers()["x-request-id"], id);
//! ```

use http::{HeaderName, HeaderValue, Request};

/// Longest `x-request-id` kept: room for any UUID, ULID or trace id with a prefix.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The header that carries the id, both ways and upstream.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives `request` its id: the client's `x-request-id` if it sent exactly one fit value (see
/// [`is_fit`]), else a random UUID put in its place. Returns the id, for the answer.
pub fn assign<B>(request: &mut Request<B>) -> HeaderValue {
    let mut ids = request.headers().get_all(&X_REQUEST_ID).iter();
    if let (Some(id), None) = (ids.next(), ids.next()) {
        if is_fit(id) {
            return id.clone();
        }
    }
    let id = random_uuid();
    // `insert` replaces every value the client sent.
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), id.clone());
    id
}

/// 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters (`!` to `~`): no space, tab, control
/// or non-ASCII byte that could split or disguise a log field.
pub fn is_fit(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// A random (version 4) UUID, from [`crate::random`]'s pool rather than a system call per
/// id, written in place rather than through a `String`.
fn random_uuid() -> HeaderValue {
    let mut bytes = [0u8; 16];
    crate::random::fill(&mut bytes);
    uuid_v4(bytes)
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

    /// The id `assign` gives a request with `ids`, and whether it is the client's.
    fn assigned(ids: &[&[u8]]) -> (String, bool) {
        let mut request = Request::new(());
        for id in ids {
            let value = HeaderValue::from_bytes(id).unwrap();
            request.headers_mut().append(&X_REQUEST_ID, value);
        }
        let id = assign(&mut request);
        let sent: Vec<_> = request.headers().get_all(&X_REQUEST_ID).iter().collect();
        assert_eq!(sent, [&id], "one id goes on, the one returned");
        let id = id.to_str().unwrap().to_owned();
        let kept = ids.contains(&id.as_bytes());
        (id, kept)
    }

    #[test]
    fn plain_ids_are_kept_and_others_replaced() {
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(assigned(&[b"abc-123"]), ("abc-123".to_owned(), true));
        assert_eq!(assigned(&[longest.as_bytes()]), (longest.clone(), true));
        assert!(!assigned(&[]).1);
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
            let (id, kept) = assigned(&[unfit]);
            assert!(!kept, "{:?}", String::from_utf8_lossy(unfit));
            assert_eq!(id.len(), 36, "{id}");
        }
        assert!(!assigned(&[b"one", b"two"]).1);
    }

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let (a, b) = (random_uuid(), random_uuid());
        let a = a.to_str().unwrap();
        assert_ne!(a, b.to_str().unwrap());
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
