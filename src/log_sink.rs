//! Log lines written by a thread of their own, many at a time.
//!
//! Every request logs a line. Written where it is made, each line costs the request's worker
//! a `write` system call and a turn at stderr's lock, which both workers contend for.
//! [`LogSink`] appends the line to a buffer instead; a writer thread, woken when the buffer
//! stops being empty, waits [`GATHER`] for more lines and writes them all with one call.
//!
//! Lines keep their order and none is dropped. When [`MAX_PENDING`] bytes wait (the target
//! is slower than the logging: a stalled log shipper), the logging thread writes them
//! itself, as every line was written before: memory stays bounded and the back-pressure is
//! the same. Dropping the [`Flush`] guard writes what is left, so lines logged just before
//! the process exits are not lost; lines logged after it are written where they are made.
//!
//! # Example
//!
//! ```
//! let (sink, flush) = cupi_gateway::log_sink::LogSink::new(std::io::stderr());
//! tracing_subscriber::fmt().with_writer(sink).finish();
//! drop(flush); // at exit: writes what is left
//! ```

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer lets lines gather after the first: the most a line waits.
pub const GATHER: Duration = Duration::from_millis(1);

/// Bytes that may wait for the writer before the logging thread writes them itself.
pub const MAX_PENDING: usize = 64 * 1024;

/// A `tracing_subscriber` writer that hands lines to the writer thread.
#[derive(Clone, Debug)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Writes what is left and stops the writer thread when dropped.
#[derive(Debug)]
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the buffer stops being empty, and at the end.
    wake: Condvar,
    /// Locked after `pending`, never before: whoever writes holds it from taking the bytes
    /// to writing them, so lines reach the target in the order they were logged.
    target: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
}

// === impl LogSink ===

impl LogSink {
    /// Starts the writer thread for `target` (stderr, in the gateway).
    pub fn new(target: impl Write + Send + 'static) -> (LogSink, Flush) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            target: Mutex::new(Box::new(target)),
        });
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run())
            .expect("the log writer thread starts");
        let flush = Flush {
            shared: shared.clone(),
            thread: Some(thread),
        };
        (LogSink { shared }, flush)
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = &'a LogSink;

    fn make_writer(&'a self) -> &'a LogSink {
        self
    }
}

/// tracing-subscriber formats an event whole, then writes it with one `write_all`.
impl Write for &LogSink {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut pending = self.shared.lock_pending();
        // Past the bound, or after the writer thread stopped (a line logged during shutdown).
        if pending.closed || pending.bytes.len() + line.len() > MAX_PENDING {
            let mut target = self.shared.lock_target();
            let waiting = std::mem::take(&mut pending.bytes);
            drop(pending);
            target.write_all(&waiting)?;
            target.write_all(line)?;
            return Ok(line.len());
        }
        let was_empty = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        drop(pending);
        if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// === impl Shared ===

impl Shared {
    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_target(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.target.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer thread: sleeps while nothing waits, gathers, writes; ends once closed and
    /// drained.
    fn run(&self) {
        let mut batch = Vec::new();
        loop {
            let mut pending = self.lock_pending();
            while pending.bytes.is_empty() {
                if pending.closed {
                    return;
                }
                pending = self.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
            if !pending.closed {
                drop(pending);
                std::thread::sleep(GATHER);
                pending = self.lock_pending();
            }
            std::mem::swap(&mut pending.bytes, &mut batch);
            let mut target = self.lock_target();
            drop(pending);
            // Nowhere to report a failing log target; the next batch tries again.
            let _ = target.write_all(&batch).and_then(|()| target.flush());
            drop(target);
            batch.clear();
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

// === impl Flush ===

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock_pending().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A target that records each write, and can hold the first until let go.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.writes.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Holds its first write until `release` is sent, telling `entered` when it starts.
    struct Gate {
        recorder: Recorder,
        entered: mpsc::Sender<()>,
        release: Option<mpsc::Receiver<()>>,
    }

    impl Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if let Some(release) = self.release.take() {
                self.entered.send(()).unwrap();
                release.recv().unwrap();
            }
            self.recorder.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_logged_while_the_writer_writes_go_out_in_one_write() {
        let recorder = Recorder::default();
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let gate = Gate {
            recorder: recorder.clone(),
            entered: entered_tx,
            release: Some(release_rx),
        };
        let (sink, flush) = LogSink::new(gate);
        (&sink).write_all(b"first\n").unwrap();
        entered.recv().unwrap(); // the writer is inside its first write
        for i in 0..100 {
            (&sink).write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        release.send(()).unwrap();
        drop(flush);
        let writes = recorder.writes.lock().unwrap();
        assert_eq!(writes.len(), 2, "the 100 lines that waited are one write");
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(writes[0], b"first\n");
        assert_eq!(String::from_utf8_lossy(&writes[1]), expected);
    }

    #[test]
    fn a_line_logged_after_the_flush_is_written_too() {
        let recorder = Recorder::default();
        let (sink, flush) = LogSink::new(recorder.clone());
        (&sink).write_all(b"before\n").unwrap();
        drop(flush);
        (&sink).write_all(b"after\n").unwrap();
        assert_eq!(recorder.writes.lock().unwrap().concat(), b"before\nafter\n");
    }

    #[test]
    fn every_line_arrives_whole_and_in_order_past_the_bound() {
        let recorder = Recorder::default();
        let (sink, flush) = LogSink::new(recorder.clone());
        // Four threads log 3 MAX_PENDING bytes each: the bound is crossed again and again.
        let line_len = 100;
        let per_thread = 3 * MAX_PENDING / line_len;
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let line = format!("{t} {i:>9} {}\n", "x".repeat(line_len - 13));
                        (&sink).write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(flush);
        let all = recorder.writes.lock().unwrap().concat();
        let text = String::from_utf8(all).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let mut fields = line.split(' ');
            let t: usize = fields.next().unwrap().parse().unwrap();
            let i: usize = fields.find(|f| !f.is_empty()).unwrap().parse().unwrap();
            assert_eq!(i, next[t], "thread {t}'s lines in order");
            assert_eq!(line.len(), line_len - 1, "whole lines");
            next[t] += 1;
        }
        assert_eq!(next, [per_thread; 4], "no line lost");
    }
}
