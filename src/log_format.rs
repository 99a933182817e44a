//! The log's lines as tracing-subscriber writes them by default, byte for byte, for less work
//! on every request's access line.
//!
//! [`Timestamps`]: the default `SystemTime` timer works out the calendar date and formats six
//! numbers for every line. Here a worker thread keeps the text of the current second, as the
//! default timer itself wrote it, and adds the microseconds.
//!
//! [`TextFields`]: the text format's fields. An access line has six, and the default visitor writes each
//! through `fmt` machinery (a field name painted, `=` painted, the value's `Debug`), a message
//! one `char` at a time through its escaping writer. Here a string that needs no escape, an
//! integer and a message with no control character are copied as they are; anything else takes
//! the default's own path (`{:?}` of the value), so the text is the same whatever the input
//! (`tests::the_same_text_as_the_default_fields` holds it to that). With colours on, for a
//! terminal, the default formats it all.
//!
//! # Example
//!
//! ```
//! use cupi_gateway::log_format::{TextFields, Timestamps};
//!
//! let subscriber = tracing_subscriber::fmt()
//!     .with_timer(Timestamps)
//!     .fmt_fields(TextFields)
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(path = "/vmrest/ports", status = 200u16, "request");
//! });
//! ```

use std::cell::RefCell;
use std::error::Error;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::time::{self, FormatTime};
use tracing_subscriber::fmt::FormatFields;

/// tracing-subscriber's default timer (RFC 3339 in UTC, to the microsecond:
/// `2026-12-03T07:58:43.497240Z`), its date and time worked out once a second per thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timestamps;

/// One thread's text of a second: `2026-12-03T07:58:43.`, and which second since 1970.
struct Second {
    unix: u64,
    text: String,
}

thread_local! {
    static SECOND: RefCell<Option<Second>> = const { RefCell::new(None) };
}

impl FormatTime for Timestamps {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return time::SystemTime.format_time(w); // before 1970: the default's own way
        };
        let unix = now.as_secs();
        SECOND.with_borrow_mut(|second| {
            let known = second.as_ref().filter(|s| s.unix == unix);
            let text = match known {
                Some(known) => &known.text,
                None => match whole_second(unix) {
                    Some(text) => &second.insert(Second { unix, text }).text,
                    None => return time::SystemTime.format_time(w),
                },
            };
            write!(w, "{text}{:06}Z", now.subsec_micros())
        })
    }
}

/// The default timer's text up to the microseconds, when it was written within second `unix`:
/// the clock reads that second again after it (so no step of the clock came between), and the
/// text's own seconds agree.
fn whole_second(unix: u64) -> Option<String> {
    let mut text = String::with_capacity(32);
    time::SystemTime
        .format_time(&mut Writer::new(&mut text))
        .ok()?;
    let after = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    if after.as_secs() != unix {
        return None;
    }
    let dot = text.rfind('.')?;
    let seconds = text.get(dot.checked_sub(2)?..dot)?.parse::<u64>().ok()?;
    if seconds != unix % 60 || !text.ends_with('Z') || text.len() != dot + 8 {
        return None;
    }
    text.truncate(dot + 1);
    Some(text)
}

/// The text format's fields: `DefaultFields`' text, written faster.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextFields;

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return DefaultFields::new().format_fields(writer, fields);
        }
        let sanitize = writer.sanitizes_ansi_escapes();
        let mut visitor = TextVisitor {
            writer,
            sanitize,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes fields as `DefaultVisitor` does with colours off: `name=value`, a space between,
/// the message bare.
struct TextVisitor<'writer> {
    writer: Writer<'writer>,
    /// Whether the message's terminal control characters are escaped (tracing-subscriber's
    /// setting, on unless turned off).
    sanitize: bool,
    is_empty: bool,
    result: fmt::Result,
}

// === impl TextVisitor ===

impl<'writer> TextVisitor<'writer> {
    /// Starts a field: the space before it, then `name=` (`r#` taken off, as the default does).
    /// `None` for the message, which has no name, or once writing has failed. (Built without
    /// tracing-subscriber's `tracing-log` feature, the default skips no `log.` field either.)
    fn field(&mut self, field: &Field) -> Option<&mut Writer<'writer>> {
        self.result.as_ref().ok()?;
        if self.is_empty {
            self.is_empty = false;
        } else if let Err(e) = self.writer.write_char(' ') {
            self.result = Err(e);
            return None;
        }
        let name = field.name();
        if name == "message" {
            return None;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = self.writer.write_str(name).and(self.writer.write_char('='));
        self.result.is_ok().then_some(&mut self.writer)
    }

    /// The message, escaped as the default escapes it.
    fn message(&mut self, value: &dyn fmt::Debug) {
        self.result = if self.sanitize {
            write!(Sanitizing(&mut self.writer), "{value:?}")
        } else {
            write!(self.writer, "{value:?}")
        };
    }

    /// A value whose `Display` is its `Debug` (integers, booleans), with no detour through
    /// `dyn Debug`.
    fn plain(&mut self, field: &Field, value: impl fmt::Display + fmt::Debug) {
        if let Some(writer) = self.field(field) {
            self.result = write!(writer, "{value}");
        } else if self.result.is_ok() {
            self.message(&value);
        }
    }
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            return self.record_debug(field, &format_args!("{value}"));
        }
        if let Some(writer) = self.field(field) {
            self.result = if value.bytes().all(needs_no_escape) {
                writer
                    .write_char('"')
                    .and(writer.write_str(value))
                    .and(writer.write_char('"'))
            } else {
                write!(writer, "{value:?}")
            };
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let sanitize = self.sanitize;
        let shown = Escaped(value, sanitize);
        match value.source() {
            Some(source) => {
                let name = field.name();
                let sources = Sources(source, sanitize);
                let text = format_args!("{shown} {name}.sources={sources}");
                self.record_debug(field, &text);
            }
            None => self.record_debug(field, &format_args!("{shown}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(writer) = self.field(field) {
            self.result = write!(writer, "{value:?}");
        } else if self.result.is_ok() {
            self.message(value);
        }
    }
}

/// Printable ASCII other than `"` and `\`: what `str`'s `Debug` writes as it is.
fn needs_no_escape(byte: u8) -> bool {
    matches!(byte, b' '..=b'~') && byte != b'"' && byte != b'\\'
}

/// Characters a terminal could take for a control sequence, written escaped as
/// tracing-subscriber's `EscapeGuard` writes them.
fn is_terminal_control(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

/// A writer that escapes terminal control characters on their way through.
struct Sanitizing<'a, W>(&'a mut W);

impl<W: Write> Write for Sanitizing<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !text.chars().any(is_terminal_control) {
            return self.0.write_str(text);
        }
        for c in text.chars() {
            match c {
                c if !is_terminal_control(c) => self.0.write_char(c)?,
                c if c.is_ascii() => write!(self.0, "\\x{:02x}", c as u32)?,
                c => write!(self.0, "\\u{{{:x}}}", c as u32)?,
            }
        }
        Ok(())
    }
}

/// A value's `Display`, sanitized when `.1` is.
struct Escaped<T>(T, bool);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(Sanitizing(f), "{}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl<T: fmt::Display> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An error and its sources, as a list: `[outer, inner]`.
struct Sources<'a>(&'a (dyn Error + 'static), bool);

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut current = Some(self.0);
        while let Some(error) = current {
            list.entry(&Escaped(error, self.1));
            current = error.source();
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Failure {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    /// Every kind of field, with text that needs escapes and text that does not, logged
    /// through each field formatter.
    fn log_all(
        sanitize: bool,
        fields: impl for<'w> FormatFields<'w> + Send + Sync + 'static,
    ) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_ansi_sanitization(sanitize)
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let inner = Failure("refused", None);
            let outer = Failure("the upstream \x1b[31mfailed", Some(Box::new(inner)));
            let lone = Failure("alone\u{85}", None);
            for text in [
                "plain",
                "",
                "with \"quotes\" and \\",
                "say \"hi\"",
                "back\\slash",
                "tab\tnew\nline",
                "é ü 日本",
                "\x1b[2J\u{9b}",
                "zero\u{0}width\u{200b}",
                "\u{301}accent first",
            ] {
                tracing::info!(
                    target: "cupi_gateway::access",
                    request_id = text,
                    status = 200u16,
                    negative = -3i64,
                    big = u64::MAX,
                    flag = true,
                    elapsed_ms = 0.25f64,
                    whole = 3.0f64,
                    r#type = "typed",
                    shown = %text,
                    debugged = ?text,
                    "request {}", text
                );
                tracing::warn!(message = text, after = 1u64);
                tracing::warn!(error = &outer as &(dyn Error + 'static), "failed");
                tracing::warn!(error = &lone as &(dyn Error + 'static));
                tracing::info!(text);
                // Span fields go through the same formatter, recorded at once and later.
                let span = tracing::info_span!("span", id = text, later = tracing::field::Empty);
                span.record("later", text);
                span.in_scope(|| tracing::info!(r#message = text, "in a span"));
            }
            // A message of every other kind, and numbers Debug writes its own way.
            tracing::info!(message = 5u64, other = -0.0f64);
            tracing::info!(message = ?Some("x\x1b"), nan = f64::NAN, tiny = 1e-7f64);
            tracing::info!(message = &outer as &(dyn Error + 'static), wide = i128::MIN);
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// Each line's time in the text of the default timer: a timestamp written between two of
    /// the default's agrees with them to the second, and has the default's shape, across two
    /// ends of a second (so the kept text is replaced, up to two seconds of the test).
    #[test]
    fn timestamps_are_the_default_timers() {
        let format = |timer: &dyn FormatTime| {
            let mut text = String::new();
            timer.format_time(&mut Writer::new(&mut text)).unwrap();
            text
        };
        let (mut checked, mut seconds) = (0, Vec::<String>::new());
        while checked < 1000 || seconds.len() < 3 {
            let before = format(&time::SystemTime);
            let ours = format(&Timestamps);
            let after = format(&time::SystemTime);
            if before[..20] != after[..20] {
                continue; // a second ended between them
            }
            assert_eq!(ours.len(), before.len(), "{ours} against {before}");
            assert_eq!(ours[..20], before[..20], "{ours} against {before}");
            assert!(
                before[20..] <= ours[20..] && ours[20..] <= after[20..],
                "{before} {ours} {after}"
            );
            if seconds.last().map(String::as_str) != Some(&before[..19]) {
                seconds.push(before[..19].to_owned());
            }
            checked += 1;
        }
    }

    #[test]
    fn the_same_text_as_the_default_fields() {
        for sanitize in [true, false] {
            let ours = log_all(sanitize, TextFields);
            assert_eq!(
                ours,
                log_all(sanitize, DefaultFields::new()),
                "sanitize: {sanitize}"
            );
            assert!(
                ours.contains(r#"request_id="with \"quotes\" and \\" status=200"#),
                "{ours}"
            );
        }
    }
}
