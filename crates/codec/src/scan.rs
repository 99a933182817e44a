//! Finding the first byte of a few kinds in text, eight bytes a step.
//!
//! Both directions check or escape every text value byte by byte, and nearly every byte of
//! CUPI text needs nothing: so the search tests a whole `u64` word at once ("SWAR": SIMD
//! within a register, no `unsafe`, no target features), and only the word with a hit is
//! looked at closer.

/// Bytes to look for: every byte below a bound, two exact bytes, and every byte that is not
/// ASCII if asked ([`Needles::or_not_ascii`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Needles {
    below: u8,
    exact: [u8; 2],
    /// `below` and `exact` in every byte of a word, made once.
    below_word: u64,
    exact_words: [u64; 2],
    /// [`HIGHS`] when bytes from 0x80 up are needles too, else 0.
    not_ascii: u64,
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// A word whose high bit is set in each byte of `word` below the byte `bounds` repeats (at
/// most 0x80). Bits above the lowest hit may be set wrongly by the subtraction's borrow; the
/// lowest is exact, and the lowest is all [`Needles::find`] uses.
fn bytes_below(word: u64, bounds: u64) -> u64 {
    word.wrapping_sub(bounds) & !word & HIGHS
}

impl Needles {
    /// Every byte below `below` (at most 0x80; 0 for none), and the bytes `exact` (name one
    /// twice for one).
    pub(crate) const fn new(below: u8, exact: [u8; 2]) -> Self {
        assert!(below <= 0x80);
        Needles {
            below,
            exact,
            below_word: ONES * below as u64,
            exact_words: [ONES * exact[0] as u64, ONES * exact[1] as u64],
            not_ascii: 0,
        }
    }

    /// These needles and every byte from 0x80 up.
    pub(crate) const fn or_not_ascii(self) -> Self {
        Needles {
            not_ascii: HIGHS,
            ..self
        }
    }

    fn is_needle(self, byte: u8) -> bool {
        byte < self.below
            || byte == self.exact[0]
            || byte == self.exact[1]
            || (self.not_ascii != 0 && byte >= 0x80)
    }

    /// Where the first needle at or after `from` is in `bytes`.
    #[inline]
    pub(crate) fn find(self, bytes: &[u8], from: usize) -> Option<usize> {
        let mut at = from;
        while let Some(word) = bytes.get(at..at + 8) {
            if let Some(hit) = self.first_in(word) {
                return Some(at + hit);
            }
            at += 8;
        }
        let tail = bytes.get(at..)?;
        if tail.is_empty() {
            None
        } else if bytes.len() - from >= 8 {
            // The last eight bytes, again in part: the bytes before the tail hold no needle.
            let last = bytes.len() - 8;
            self.first_in(&bytes[last..]).map(|hit| last + hit)
        } else {
            tail.iter().position(|&b| self.is_needle(b)).map(|i| at + i)
        }
    }

    /// The first needle of eight bytes.
    #[inline]
    fn first_in(self, word: &[u8]) -> Option<usize> {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A needle byte `n` is a zero byte in `word ^ n`: below 1.
        let hits = bytes_below(word, self.below_word)
            | bytes_below(word ^ self.exact_words[0], ONES)
            | bytes_below(word ^ self.exact_words[1], ONES)
            | (word & self.not_ascii);
        (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a byte-by-byte search, at every offset of texts with needles in every lane and
    /// bytes on both sides of each bound (the borrow of one lane must not hide a hit).
    #[test]
    fn finds_what_a_byte_loop_finds() {
        let needles = [
            Needles::new(0x20, [b'"', b'\\']),
            Needles::new(0x20, [0xEF, 0xEF]),
            Needles::new(0x80, [0x80, 0x80]),
            Needles::new(0, [b'a', 0xFF]),
            Needles::new(0, [0x00, 0x00]),
            Needles::new(0x20, [b'"', b'\\']).or_not_ascii(),
            Needles::new(0, [b'a', b'a']).or_not_ascii(),
        ];
        let alphabet = [
            0x00, 0x1F, 0x20, 0x21, b'"', b'\\', b'a', 0x7F, 0x80, 0xEE, 0xEF, 0xFF,
        ];
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in 0..20 {
            for &a in &alphabet {
                for &b in &alphabet {
                    let mut text = vec![b'x'; len];
                    if len > 0 {
                        text[len / 2] = a;
                        text[len - 1] = b;
                    }
                    texts.push(text);
                }
            }
        }
        for needle in needles {
            for text in &texts {
                for from in 0..=text.len() + 1 {
                    let by_bytes = text
                        .get(from..)
                        .and_then(|rest| rest.iter().position(|&b| needle.is_needle(b)))
                        .map(|i| from + i);
                    assert_eq!(
                        needle.find(text, from),
                        by_bytes,
                        "{needle:?} {text:?} {from}"
                    );
                }
            }
        }
    }
}
