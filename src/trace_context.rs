//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>) for every request.
//!
//! A frontend that traces its calls sends `traceparent` (and maybe `tracestate`); Unity
//! Connection logs the request line. The gateway sits between them as an intermediary: it
//! continues a valid trace (same trace-id, sampled flag kept) with a span of its own, whose id
//! goes upstream as the new `parent-id`; a request with no valid `traceparent` starts a new
//! trace. Either way the `traceparent` sent upstream is also returned to the client, and the
//! access log writes the trace id beside the request id, so the three logs join.
//!
//! [`TraceContext`] is the one type that carries this: [`TraceContext::adopt`] (called by the
//! access log, first of the layers) puts it in the request's extensions (where the access
//! log, the proxy, and a future span exporter read it) and removes the client's headers, so
//! only the checked values go on.
//!
//! Parsing follows the spec: lowercase hex only, all-zero ids refused, version `ff` refused,
//! version `00` exactly 55 characters, a later version read by its version-00 prefix and
//! answered in version `00`; two `traceparent` headers are no valid one. An invalid
//! `traceparent` starts a new trace and its `tracestate` is not read; an invalid `tracestate`
//! (bad key or value, a key twice, more than [`MAX_TRACESTATE_MEMBERS`]) is dropped alone.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::trace_context::TraceContext;
//!
//! let mut headers = http::HeaderMap::new();
//! let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
//! headers.insert("traceparent", caller.parse().unwrap());
//! let context = TraceContext::continue_or_start(&headers);
//! assert_eq!(context.trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
//! assert!(context.is_sampled());
//! assert_ne!(context.traceparent(), caller); // the gateway's own parent-id
//! ```

use std::fmt;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Request;

/// The request header naming the caller's trace and span.
pub(crate) static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The request header of vendor-specific trace data, passed on as the caller sent it.
pub(crate) static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Most `tracestate` list members the spec allows; a longer list is invalid and dropped.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Longest `tracestate` passed on (commas counted, optional whitespace not): the spec's
/// minimum that every vendor should propagate. Longer lists lose whole members.
pub const MAX_TRACESTATE_LEN: usize = 512;
/// Members longer than this are the first dropped from a `tracestate` over the limit.
const LONG_MEMBER: usize = 128;

/// The sampled bit of `trace-flags`, the only flag version `00` defines.
const SAMPLED: u8 = 0x01;
/// `version "-" trace-id "-" parent-id "-" trace-flags` in version `00`.
const TRACEPARENT_LEN: usize = 55;

/// 16 bytes naming a whole trace, never all zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// 8 bytes naming one span (one request as its caller knows it), never all zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    fn random() -> TraceId {
        TraceId(random_non_zero())
    }

    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl SpanId {
    fn random() -> SpanId {
        SpanId(random_non_zero())
    }

    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// Writes `bytes` as lower-case hex in one `write_str`: a `String` built from it is allocated
/// once, not grown two digits at a time.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut digits = [0u8; 32];
    let digits = hex_into(bytes, &mut digits);
    f.write_str(std::str::from_utf8(digits).expect("hex digits are ASCII"))
}

/// Fills the start of `out` with `bytes` in lower-case hex; returns that part.
fn hex_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a [u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    &out[..bytes.len() * 2]
}

/// A request's place in a trace: the trace, the caller's span, and the gateway's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    caller_span_id: Option<SpanId>,
    span_id: SpanId,
    sampled: bool,
    tracestate: Option<HeaderValue>,
}

impl TraceContext {
    /// Continues the trace of a valid `traceparent` in `headers`, or starts a new one (not
    /// sampled: the gateway records no spans itself); either way with a fresh span id.
    pub fn continue_or_start(headers: &HeaderMap) -> TraceContext {
        match single_traceparent(headers).and_then(Traceparent::parse) {
            Some(caller) => TraceContext {
                trace_id: caller.trace_id,
                caller_span_id: Some(caller.parent_id),
                span_id: SpanId::random(),
                sampled: caller.flags & SAMPLED != 0,
                tracestate: checked_tracestate(headers),
            },
            None => TraceContext {
                trace_id: TraceId::random(),
                caller_span_id: None,
                span_id: SpanId::random(),
                sampled: false,
                tracestate: None,
            },
        }
    }

    /// Gives `request` its context in place of its trace headers, which go no further: the
    /// proxy writes the context's own. Returns the context, whose `traceparent` the answer
    /// carries.
    pub fn adopt<B>(request: &mut Request<B>) -> TraceContext {
        let context = TraceContext::continue_or_start(request.headers());
        request.headers_mut().remove(&TRACEPARENT);
        request.headers_mut().remove(&TRACESTATE);
        request.extensions_mut().insert(context.clone());
        context
    }

    /// The same trace and caller with a fresh span id: a retry is a new upstream request,
    /// so Unity Connection's log tells the attempts apart.
    pub fn next_attempt(&self) -> TraceContext {
        TraceContext {
            span_id: SpanId::random(),
            ..self.clone()
        }
    }

    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The `parent-id` the client sent; `None` when the gateway started the trace.
    pub fn caller_span_id(&self) -> Option<SpanId> {
        self.caller_span_id
    }

    /// The gateway's span: the `parent-id` sent upstream.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// The caller's `tracestate`, checked and bounded; `None` when there is none to pass on.
    pub fn tracestate(&self) -> Option<&HeaderValue> {
        self.tracestate.as_ref()
    }

    /// The version-`00` `traceparent` naming the gateway's span.
    pub fn traceparent(&self) -> HeaderValue {
        // `00-` trace id `-` span id `-` flags, written in place: one allocation, the value's.
        let mut value = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex_into(&self.trace_id.0, &mut value[3..35]);
        hex_into(&self.span_id.0, &mut value[36..52]);
        hex_into(
            &[if self.sampled { SAMPLED } else { 0 }],
            &mut value[53..55],
        );
        HeaderValue::from_bytes(&value).expect("hex digits and dashes are a valid header value")
    }

    /// Sets `traceparent` and `tracestate` of a request going upstream, replacing any.
    pub fn write_to(&self, headers: &mut HeaderMap) {
        headers.insert(TRACEPARENT.clone(), self.traceparent());
        match &self.tracestate {
            Some(tracestate) => headers.insert(TRACESTATE.clone(), tracestate.clone()),
            None => headers.remove(&TRACESTATE),
        };
    }
}

/// The fields of a valid `traceparent`.
#[derive(Debug, PartialEq, Eq)]
struct Traceparent {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: u8,
}

impl Traceparent {
    /// Parses one `traceparent` value by the spec's rules; `None` if it is invalid.
    fn parse(value: &HeaderValue) -> Option<Traceparent> {
        let text = trim_ows(value.as_bytes());
        if text.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = lower_hex::<1>(&text[0..2])?[0];
        let fits_version = match version {
            0xff => false,
            // Version 00 has exactly these four fields.
            0x00 => text.len() == TRACEPARENT_LEN,
            // A later version may add fields, each after a dash; its first four are read.
            _ => text.len() == TRACEPARENT_LEN || text[TRACEPARENT_LEN] == b'-',
        };
        if !fits_version || text[2] != b'-' || text[35] != b'-' || text[52] != b'-' {
            return None;
        }
        let trace_id = lower_hex::<16>(&text[3..35]).filter(|id| *id != [0; 16])?;
        let parent_id = lower_hex::<8>(&text[36..52]).filter(|id| *id != [0; 8])?;
        let flags = lower_hex::<1>(&text[53..55])?[0];
        Some(Traceparent {
            trace_id: TraceId(trace_id),
            parent_id: SpanId(parent_id),
            flags,
        })
    }
}

/// The one `traceparent` value; two or more are no valid one.
fn single_traceparent(headers: &HeaderMap) -> Option<&HeaderValue> {
    let mut values = headers.get_all(&TRACEPARENT).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// `N` bytes from `2 * N` lowercase hex digits (the spec's HEXDIGLC: uppercase is invalid).
fn lower_hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    fn nibble(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'a'..=b'f' => Some(digit - b'a' + 10),
            _ => None,
        }
    }
    if digits.len() != 2 * N {
        return None;
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(bytes)
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The request's `tracestate` (all its header fields, joined as one list) as it goes
/// upstream: members without surrounding whitespace or empty entries, at most
/// [`MAX_TRACESTATE_LEN`] characters; `None` if it is absent, empty or invalid.
fn checked_tracestate(headers: &HeaderMap) -> Option<HeaderValue> {
    // (key, whole member), so a repeated key is found without parsing kept members again.
    let mut members: Vec<(&[u8], &[u8])> = Vec::new();
    for value in headers.get_all(&TRACESTATE) {
        for member in value.as_bytes().split(|b| *b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            // Stops at the first fault, so a hostile header costs one pass at most.
            if members.len() == MAX_TRACESTATE_MEMBERS {
                return None;
            }
            let key = member_key(member)?;
            if members.iter().any(|(kept, _)| *kept == key) {
                return None;
            }
            members.push((key, member));
        }
    }
    let mut members: Vec<&[u8]> = members.into_iter().map(|(_, member)| member).collect();
    truncate_tracestate(&mut members);
    if members.is_empty() {
        return None;
    }
    HeaderValue::from_bytes(&members.join(&b","[..])).ok()
}

/// Drops whole members until the list fits [`MAX_TRACESTATE_LEN`]: those over 128
/// characters first, then from the end, as the spec asks.
fn truncate_tracestate(members: &mut Vec<&[u8]>) {
    let length = |members: &[&[u8]]| {
        members.iter().map(|m| m.len()).sum::<usize>() + members.len().saturating_sub(1)
    };
    while length(members) > MAX_TRACESTATE_LEN {
        match members.iter().rposition(|m| m.len() > LONG_MEMBER) {
            Some(long) => members.remove(long),
            None => members.pop().expect("a list over the limit is not empty"),
        };
    }
}

/// The key of a valid `key=value` list member; `None` if either part breaks the grammar.
fn member_key(member: &[u8]) -> Option<&[u8]> {
    let equals = member.iter().position(|b| *b == b'=')?;
    let (key, value) = (&member[..equals], &member[equals + 1..]);
    (is_key(key) && is_value(value)).then_some(key)
}

/// `simple-key` (a lowercase letter, then up to 255 of `a-z0-9_-*/`) or `tenant@system`
/// (tenant: a letter or digit then up to 240; system: a letter then up to 13).
fn is_key(key: &[u8]) -> bool {
    let is_key_char = |b: &u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/');
    let is_part = |part: &[u8], max: usize, first_digit_ok: bool| {
        part.len() <= max
            && part
                .first()
                .is_some_and(|b| b.is_ascii_lowercase() || (first_digit_ok && b.is_ascii_digit()))
            && part.iter().all(is_key_char)
    };
    match key.iter().position(|b| *b == b'@') {
        None => is_part(key, 256, false),
        Some(at) => is_part(&key[..at], 241, true) && is_part(&key[at + 1..], 14, false),
    }
}

/// Up to 256 printable ASCII characters but `,` and `=`, spaces allowed except last.
fn is_value(value: &[u8]) -> bool {
    let is_value_char = |b: &u8| matches!(b, b' '..=b'~') && *b != b',' && *b != b'=';
    value.len() <= 256
        && value.last().is_some_and(|b| *b != b' ')
        && value.iter().all(is_value_char)
}

/// Random bytes, never all zero (the spec's invalid id).
fn random_non_zero<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    while bytes == [0; N] {
        crate::random::fill(&mut bytes);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<Traceparent> {
        Traceparent::parse(&HeaderValue::from_str(value).unwrap())
    }

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn tracestate_of(values: &[&str]) -> Option<String> {
        let pairs: Vec<_> = values.iter().map(|v| (&TRACESTATE, *v)).collect();
        checked_tracestate(&headers(&pairs)).map(|v| v.to_str().unwrap().to_owned())
    }

    /// The spec's own `traceparent` examples.
    const SAMPLED_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const UNSAMPLED_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    #[test]
    fn the_specs_examples_parse() {
        let sampled = parse(SAMPLED_EXAMPLE).unwrap();
        assert_eq!(
            sampled.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sampled.parent_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(sampled.flags, 0x01);
        assert_eq!(parse(UNSAMPLED_EXAMPLE).unwrap().flags, 0x00);
        assert_eq!(
            parse(&format!(" \t{SAMPLED_EXAMPLE} ")),
            parse(SAMPLED_EXAMPLE),
            "optional whitespace around the value is not part of it"
        );
    }

    #[test]
    fn invalid_traceparents_are_refused() {
        let invalid = [
            // Uppercase hex, in each field.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            // All-zero ids.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Version ff, and version 00 with more than its four fields.
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",
            // Wrong lengths, separators, characters.
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-0f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bg-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "",
            "00",
            // A later version still needs a dash after its version-00 fields.
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ];
        for value in invalid {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_version_00_fields() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds";
        let parsed = parse(later).unwrap();
        assert_eq!(parsed.parent_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(parsed.flags, 0x09);
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());

        // Answered in version 00, with only the flag version 00 defines.
        let context = TraceContext::continue_or_start(&headers(&[(&TRACEPARENT, later)]));
        let sent = context.traceparent();
        let sent = sent.to_str().unwrap();
        assert!(
            sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{sent}"
        );
        assert!(sent.ends_with("-01"), "{sent}");
    }

    #[test]
    fn a_valid_trace_is_continued_with_the_gateways_own_span() {
        let context = TraceContext::continue_or_start(&headers(&[
            (&TRACEPARENT, UNSAMPLED_EXAMPLE),
            (&TRACESTATE, "congo=t61rcWkgMzE"),
        ]));
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            context.caller_span_id().unwrap().to_string(),
            "00f067aa0ba902b7"
        );
        assert_ne!(context.span_id(), context.caller_span_id().unwrap());
        assert!(!context.is_sampled());
        assert_eq!(context.tracestate().unwrap(), "congo=t61rcWkgMzE");
        let retry = context.next_attempt();
        assert_eq!(retry.trace_id(), context.trace_id());
        assert_eq!(retry.caller_span_id(), context.caller_span_id());
        assert_ne!(retry.span_id(), context.span_id());
    }

    #[test]
    fn an_invalid_or_doubled_traceparent_starts_a_new_trace_without_tracestate() {
        let doubled = headers(&[
            (&TRACEPARENT, SAMPLED_EXAMPLE),
            (&TRACEPARENT, SAMPLED_EXAMPLE),
            (&TRACESTATE, "congo=t61rcWkgMzE"),
        ]);
        let uppercase = headers(&[
            (&TRACEPARENT, &SAMPLED_EXAMPLE.to_uppercase()),
            (&TRACESTATE, "congo=t61rcWkgMzE"),
        ]);
        for request in [doubled, uppercase, HeaderMap::new()] {
            let context = TraceContext::continue_or_start(&request);
            assert_ne!(
                context.trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
            assert_eq!(context.caller_span_id(), None);
            assert_eq!(context.tracestate(), None);
            assert!(!context.is_sampled());
            let sent = context.traceparent();
            assert!(parse(sent.to_str().unwrap()).is_some(), "{sent:?}");
        }
    }

    #[test]
    fn tracestate_is_normalised_joined_and_checked() {
        assert_eq!(
            tracestate_of(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        // Several fields are one list; whitespace and empty members are not passed on.
        assert_eq!(
            tracestate_of(&["rojo=1 ,\t, ", " congo=2", ""]).as_deref(),
            Some("rojo=1,congo=2")
        );
        assert_eq!(
            tracestate_of(&["fw529a3039@dt=d, 0tenant@vendor=x y"]).as_deref(),
            Some("fw529a3039@dt=d,0tenant@vendor=x y")
        );
        let invalid = [
            "Rojo=1",         // uppercase key
            "0rojo=1",        // a simple key starts with a letter
            "rojo",           // no value
            "rojo=",          // empty value
            "rojo=a=b",       // '=' in the value
            "rojo=1,rojo=2",  // a key twice
            "t@Vendor=1",     // uppercase system id
            "t@0vendor=1",    // a system id starts with a letter
            "rojo=caf\u{e9}", // non-ASCII value
        ];
        for value in invalid {
            assert_eq!(tracestate_of(&[value]), None, "{value:?}");
        }
        // A space ending a member is optional whitespace, not part of the value.
        assert_eq!(tracestate_of(&["rojo=a b "]).as_deref(), Some("rojo=a b"));
        assert_eq!(tracestate_of(&[" , "]), None, "empty lists are not sent");
    }

    #[test]
    fn tracestate_keys_and_values_are_bounded_by_the_grammar() {
        let key = |n: usize| "k".repeat(n);
        assert!(tracestate_of(&[&format!("{}=v", key(256))]).is_some());
        assert!(tracestate_of(&[&format!("{}=v", key(257))]).is_none());
        assert!(tracestate_of(&[&format!("{}@{}=v", key(241), key(14))]).is_some());
        assert!(tracestate_of(&[&format!("{}@v=v", key(242))]).is_none());
        assert!(tracestate_of(&[&format!("t@{}=v", key(15))]).is_none());
        assert!(tracestate_of(&[&format!("k={}", "v".repeat(256))]).is_some());
        assert!(tracestate_of(&[&format!("k={}", "v".repeat(257))]).is_none());
    }

    #[test]
    fn tracestate_holds_32_members_and_512_characters() {
        let members = |n: usize| (0..n).map(|i| format!("k{i}=v")).collect::<Vec<_>>();
        let thirty_two = members(32).join(",");
        assert_eq!(tracestate_of(&[&thirty_two]), Some(thirty_two));
        let thirty_three = members(33);
        let (first, rest) = thirty_three.split_at(16);
        assert_eq!(
            tracestate_of(&[&first.join(","), &rest.join(",")]),
            None,
            "33 members, over two fields, are an invalid list"
        );

        // Over 512 characters: members over 128 go first, then from the end.
        let long = |name: &str| format!("{name}={}", "x".repeat(200));
        let short = |name: &str| format!("{name}={}", "y".repeat(98));
        let list = [
            short("a"),
            long("b"),
            short("c"),
            short("d"),
            long("e"),
            short("f"),
        ];
        let kept = tracestate_of(&[&list.join(",")]).unwrap();
        assert_eq!(
            kept,
            [short("a"), short("c"), short("d"), short("f")].join(",")
        );
        let list = [
            short("a"),
            short("b"),
            short("c"),
            short("d"),
            short("e"),
            short("f"),
        ];
        let kept = tracestate_of(&[&list.join(",")]).unwrap();
        assert_eq!(kept, list[..5].join(","));

        // Exactly 512 is kept whole; one more drops the last (128 characters is not long).
        let sized = |name: &str, len: usize| format!("{name}={}", "z".repeat(len - 2));
        let exact = [
            sized("a", 127),
            sized("b", 127),
            sized("c", 127),
            sized("d", 128),
        ];
        let exact = exact.join(",");
        assert_eq!(exact.len(), MAX_TRACESTATE_LEN);
        assert_eq!(tracestate_of(&[&exact]).as_deref(), Some(exact.as_str()));
        let over = format!("{exact}z");
        assert_eq!(
            tracestate_of(&[&over]).unwrap(),
            exact[..exact.rfind(',').unwrap()]
        );
    }

    #[test]
    fn generated_ids_are_non_zero_and_differ() {
        let a = TraceContext::continue_or_start(&HeaderMap::new());
        let b = TraceContext::continue_or_start(&HeaderMap::new());
        assert_ne!(a.trace_id(), b.trace_id());
        assert_ne!(a.span_id(), b.span_id());
        assert_ne!(a.trace_id().to_bytes(), [0; 16]);
    }

    proptest::proptest! {
        #[test]
        fn well_formed_traceparents_parse_unless_an_id_is_zero(
            trace_id in "[0-9a-f]{32}",
            parent_id in "[0-9a-f]{16}",
            flags in "[0-9a-f]{2}",
        ) {
            let value = format!("00-{trace_id}-{parent_id}-{flags}");
            let zero = trace_id == "0".repeat(32) || parent_id == "0".repeat(16);
            let parsed = parse(&value);
            proptest::prop_assert_eq!(parsed.is_none(), zero);
            if let Some(parsed) = parsed {
                proptest::prop_assert_eq!(parsed.trace_id.to_string(), trace_id);
                proptest::prop_assert_eq!(parsed.parent_id.to_string(), parent_id);
            }
        }

        #[test]
        fn any_tracestate_passed_on_is_bounded_and_valid(
            members in proptest::collection::vec(("[a-z][a-z0-9_*/-]{0,12}", r"[ -+\x2d-<>-~]{0,160}"), 0..36),
            split in 0usize..36,
        ) {
            // Lists that mostly parse (a key may repeat, a list may be over 32 or 512), over
            // up to two fields; the invalid members are the unit tests' above.
            let members: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}x")).collect();
            let split = split.min(members.len());
            let fields = [members[..split].join(" , "), members[split..].join(",")];
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            if let Some(kept) = tracestate_of(&fields) {
                proptest::prop_assert!(kept.len() <= MAX_TRACESTATE_LEN);
                proptest::prop_assert!(kept.split(',').count() <= MAX_TRACESTATE_MEMBERS);
                // What goes upstream is itself a valid list, unchanged by a second check.
                proptest::prop_assert_eq!(tracestate_of(&[&kept]), Some(kept.clone()));
            }
        }
    }
}
