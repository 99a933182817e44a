//! A [`BufRead`] that will not hand the XML reader more than one object's allowance.
//!
//! quick-xml reads a whole token (a text node, a comment, a start tag with its attributes)
//! into its buffer before returning it, so a limit checked between tokens comes too late: one
//! 64 MiB text node is 64 MiB of buffer, an endless one is all the memory there is. The fence
//! stops the reader itself: past the allowance it gets an error instead of more bytes, so no
//! buffer grows beyond the limit plus one chunk, whatever the token. The transcoder moves the
//! fence as each object (a list item) starts.

use std::fmt;
use std::io::{self, BufRead, Read};

/// The input of one document, allowed `allowance` bytes from the last [`Fenced::restart`].
pub(super) struct Fenced<R> {
    inner: R,
    allowance: u64,
    /// Bytes consumed so far; never past `fence`.
    consumed: u64,
    fence: u64,
}

impl<R> Fenced<R> {
    /// Allows the first `allowance` bytes.
    pub(super) fn new(inner: R, allowance: u64) -> Self {
        Fenced {
            inner,
            allowance,
            consumed: 0,
            fence: allowance,
        }
    }

    /// Allows `allowance` bytes more from here: the next object starts.
    pub(super) fn restart(&mut self) {
        self.fence = self.consumed.saturating_add(self.allowance);
    }
}

impl<R: BufRead> BufRead for Fenced<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let left = self.fence - self.consumed;
        let allowance = self.allowance;
        let available = self.inner.fill_buf()?;
        if left == 0 && !available.is_empty() {
            return Err(io::Error::other(FenceCrossed(allowance)));
        }
        let allowed = usize::try_from(left).unwrap_or(usize::MAX);
        Ok(&available[..available.len().min(allowed)])
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.consumed += amount as u64;
    }
}

impl<R: BufRead> Read for Fenced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// [`Read::read`] for a reader that is a [`BufRead`] at heart: from its buffer.
pub fn read_buffered(input: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let available = input.fill_buf()?;
    let n = available.len().min(buf.len());
    buf[..n].copy_from_slice(&available[..n]);
    input.consume(n);
    Ok(n)
}

/// The reader wanted more than an object's allowance (the allowance, in bytes).
#[derive(Debug)]
struct FenceCrossed(u64);

impl fmt::Display for FenceCrossed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object is larger than {} bytes", self.0)
    }
}

impl std::error::Error for FenceCrossed {}

/// The allowance, when `error` is the fence's.
pub(super) fn crossed(error: &io::Error) -> Option<u64> {
    let crossed = error.get_ref()?.downcast_ref::<FenceCrossed>()?;
    Some(crossed.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_read_goes_past_the_fence_until_it_moves() {
        let mut input = Fenced::new(io::BufReader::with_capacity(4, &b"abcdefghij"[..]), 3);
        assert_eq!(input.fill_buf().unwrap(), b"abc");
        input.consume(3);
        let error = input.fill_buf().unwrap_err();
        assert_eq!(crossed(&error), Some(3));
        input.restart();
        let mut rest = Vec::new();
        assert_eq!(
            input.read_to_end(&mut rest).unwrap_err().kind(),
            io::ErrorKind::Other
        );
        assert_eq!(rest, b"def", "three more bytes, then the fence again");
        // At the end of the input, the fence is not crossed: the reader sees the end.
        let mut short = Fenced::new(&b"ab"[..], 2);
        short.consume(2);
        assert_eq!(short.fill_buf().unwrap(), b"");
    }
}
