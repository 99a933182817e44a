//! Where the transcoder's XML events come from, and how each object's byte allowance is kept.
//!
//! A streamed body ([`Streamed`]) is read through the [`Fenced`] reader into a buffer reused for
//! every event: the fence stops quick-xml before a token outgrows the allowance, since such a
//! token would be buffered whole. A body already whole in memory ([`Whole`]) needs no buffer:
//! its events borrow from it, with no copy, and the allowance is checked after each event,
//! since nothing more is held than the body itself. Both give the same JSON and the same
//! errors (`cupi_codec::fuzzing::check_xml_to_json` compares them).

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
pub(super) struct Whole<'a> {
    reader: Reader<&'a [u8]>,
    allowance: u64,
    /// Where the current allowance ends.
    fence: u64,
}

impl<'a> Whole<'a> {
    pub(super) fn new(input: &'a [u8], allowance: u64) -> Self {
        Whole {
            reader: Reader::from_reader(input),
            allowance,
            fence: allowance,
        }
    }
}

impl Events for Whole<'_> {
    fn next_event(&mut self) -> Result<Event<'_>, XmlError> {
        let reader = &mut self.reader;
        let event = reader.read_event().map_err(|e| malformed(reader, &e))?;
        if reader.buffer_position() > self.fence {
            return Err(XmlError::ObjectTooLarge(self.allowance));
        }
        Ok(event)
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn restart(&mut self) {
        self.fence = self.position().saturating_add(self.allowance);
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
    /// refuse, with the same JSON or error; both outcomes are seen for each document.
    #[test]
    fn both_readers_refuse_at_the_same_limit() {
        let schema = Schema::new();
        for xml in [
            "<A><B>xyz</B></A>",
            r#"<Ports total="2"><Port><A>1</A></Port> <Port><A>22</A></Port></Ports>"#,
            "<?xml version=\"1.0\"?><A a=\"v\">text &amp; more</A><!-- c -->",
        ] {
            let (mut accepted, mut too_large) = (false, false);
            for limit in 0..200 {
                let (mut streamed, mut whole) = (Vec::new(), Vec::new());
                let typed = JsonStyle::Typed;
                let flush = |_: &mut Vec<u8>, _| true;
                let from_stream =
                    stream_xml_to_json(xml.as_bytes(), &schema, typed, limit, &mut streamed, flush);
                let from_whole =
                    whole_xml_to_json(xml.as_bytes(), &schema, typed, limit, &mut whole);
                assert_eq!(from_stream, from_whole, "{xml} within {limit} bytes");
                assert_eq!(streamed, whole, "{xml} within {limit} bytes");
                accepted |= from_whole.is_ok();
                too_large |= from_whole == Err(XmlError::ObjectTooLarge(limit));
            }
            assert!(accepted && too_large, "{xml}");
        }
    }
}
