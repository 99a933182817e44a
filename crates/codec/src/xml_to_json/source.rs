//! Where the transcoder's XML events come from, and how each object's byte allowance is kept.
//!
//! A streamed body ([`Streamed`]) is read through the [`Fenced`] reader into a buffer reused for
//! every event: the fence stops quick-xml before a token outgrows the allowance, since such a
//! token would be buffered whole. A body already whole in memory ([`Whole`]) needs no buffer:
//! its events borrow from it, with no copy, and the allowance is checked after each event,
//! since nothing more is held than the body itself. That check is a little stricter than the
//! fence, and a body it refuses is read again as a stream, so both give the same JSON and the
//! same errors (`cupi_codec::fuzzing::check_xml_to_json` compares them, with and without a
//! limit).

use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::fence::Fenced;
use super::XmlError;

/// A reader of XML events that keeps an allowance of bytes per object.
pub(super) trait Events {
    /// The next event.
    fn next_event(&mut self) -> Result<Event<'_>, XmlError>;

    /// Bytes of the input read so far.
    fn position(&self) -> u64;

    /// A fresh allowance from here: the next object (or a token between list items) starts.
    fn restart(&mut self);
}

/// A body read as it arrives, through the fence.
pub(super) struct Streamed<R> {
    reader: Reader<Fenced<R>>,
    buf: Vec<u8>,
}

impl<R: BufRead> Streamed<R> {
    pub(super) fn new(input: R, allowance: u64) -> Self {
        Streamed {
            reader: Reader::from_reader(Fenced::new(input, allowance)),
            buf: Vec::with_capacity(4096),
        }
    }
}

impl<R: BufRead> Events for Streamed<R> {
    fn next_event(&mut self) -> Result<Event<'_>, XmlError> {
        self.buf.clear();
        let reader = &mut self.reader;
        reader
            .read_event_into(&mut self.buf)
            .map_err(|e| malformed(reader, &e))
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn restart(&mut self) {
        self.reader.get_mut().restart();
    }
}

/// A body whole in memory, its events borrowed from it.
///
/// Its allowance errs on the strict side: an event counts the byte after it too (quick-xml
/// must see the `<` after a text to know the text has ended) and a byte-order mark, which
/// quick-xml skips without counting. So whatever it accepts, the fence accepts; where it
/// refuses, or quick-xml finds the body malformed, [`super::whole_xml_to_json`] reads the body
/// again as a stream, so that the error is the fence's, to the byte.
pub(super) struct Whole<'a> {
    reader: Reader<&'a [u8]>,
    /// The body's length, and that of its byte-order mark (3 or 0).
    len: u64,
    bom: u64,
    allowance: u64,
    /// Where the current allowance ends, in bytes of the body.
    fence: u64,
}

impl<'a> Whole<'a> {
    pub(super) fn new(input: &'a [u8], allowance: u64) -> Self {
        Whole {
            reader: Reader::from_reader(input),
            len: input.len() as u64,
            bom: if input.starts_with(b"\xEF\xBB\xBF") {
                3
            } else {
                0
            },
            allowance,
            fence: allowance,
        }
    }

    /// Bytes of the body read so far, the byte-order mark included.
    fn consumed(&self) -> u64 {
        self.reader.buffer_position() + self.bom
    }
}

impl Events for Whole<'_> {
    fn next_event(&mut self) -> Result<Event<'_>, XmlError> {
        let event = self.reader.read_event();
        let seen = (self.consumed() + 1).min(self.len);
        if seen > self.fence {
            return Err(XmlError::ObjectTooLarge(self.allowance));
        }
        event.map_err(|e| malformed(&self.reader, &e))
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn restart(&mut self) {
        self.fence = self.consumed().saturating_add(self.allowance);
    }
}

/// What quick-xml refused, as the gateway's error.
fn malformed<R>(reader: &Reader<R>, error: &quick_xml::Error) -> XmlError {
    match error {
        quick_xml::Error::Encoding(_) => XmlError::InvalidUtf8,
        quick_xml::Error::Io(io) => match super::fence::crossed(io) {
            Some(allowance) => XmlError::ObjectTooLarge(allowance),
            None => XmlError::Read(io.to_string()),
        },
        _ => XmlError::Malformed {
            position: reader.error_position(),
            message: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::{stream_xml_to_json, whole_xml_to_json, JsonStyle, Schema, XmlError};

    /// The two readers keep the allowance alike to the byte: at every limit from none to
    /// well past the document (the node budget asks 16 bytes a node), both accept or both
    /// refuse, with the same JSON or error. Each document is refused as too large at some
    /// limits and accepted (or refused for what it is) at others.
    #[test]
    fn both_readers_refuse_at_the_same_limit() {
        let schema = Schema::new();
        let documents: [&[u8]; 11] = [
            b"<A><B>xyz</B></A>",
            br#"<Ports total="2"><Port><A>1</A></Port> <Port><A>22</A></Port></Ports>"#,
            b"<?xml version=\"1.0\"?><A a=\"v\">text &amp; more</A><!-- c -->",
            b"<A><B>x</B><!-- c --><![CDATA[d]]>&amp;<C/>e</A> ",
            // Found by a review, where the readers had disagreed: text between items longer
            // than an item, a byte-order mark, and errors that lie past some of the limits.
            br#"<L total="2"><a/>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx<a/></L>"#,
            b"\xEF\xBB\xBF<A>xxxxxxxxxxxxx</A>",
            b"<A>xxxxxxxxxx</B>",
            b"<A>xxxxxxxxxxxxxxxxxxxx\xFF</A>",
            b"<A><B\xFF>x</B\xFF></A>",
            b"<A>x</A>\xEF\xBB\xBF",
            b"<A><B>x</B><!-- not closed",
        ];
        for xml in documents {
            let (mut too_large, mut otherwise) = (false, false);
            for limit in 0..200 {
                let (mut streamed, mut whole) = (Vec::new(), Vec::new());
                let typed = JsonStyle::Typed;
                let flush = |_: &mut Vec<u8>, _| true;
                let from_stream =
                    stream_xml_to_json(xml, &schema, typed, limit, &mut streamed, flush);
                let from_whole = whole_xml_to_json(xml, &schema, typed, limit, &mut whole);
                let shown = String::from_utf8_lossy(xml);
                assert_eq!(from_stream, from_whole, "{shown} within {limit} bytes");
                assert_eq!(streamed, whole, "{shown} within {limit} bytes");
                match from_whole {
                    Err(XmlError::ObjectTooLarge(_) | XmlError::TooManyNodes(_)) => {
                        too_large |= matches!(from_whole, Err(XmlError::ObjectTooLarge(_)));
                    }
                    _ => otherwise = true,
                }
            }
            assert!(too_large && otherwise, "{}", String::from_utf8_lossy(xml));
        }
    }
}
