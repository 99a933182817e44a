//! A minimum rate for client request bodies, in the manner of Apache's mod_reqtimeout
//! (`body=20,MinRate=500`): a body has a grace period to start, and every byte it sends earns
//! it `1/min_rate` seconds more; besides, it may never pause longer than the idle gap.
//!
//! An idle timeout alone is not enough: a client sending one byte every few seconds never
//! pauses long enough to trip it, and holds its buffers (and, streaming, an upstream slot) for
//! as long as it likes. With a rate, a trickle's deadline comes at the end of its grace period
//! whatever it does, while an upload at any reasonable speed keeps extending its own. Unlike
//! mod_reqtimeout, what a body has earned never reaches more than the grace period ahead: a
//! fast first megabyte cannot pay for a trickle of half an hour after it.
//! A body that runs out of time fails with [`BodyTooSlow`], which the readers answer with
//! 408 `request_timeout`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::BoxError;

/// How slowly a client may send its request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyRate {
    /// Bytes per second a body must average past its grace period; 0 turns the rate off.
    pub min_bytes_per_second: u64,
    /// Time a body has before the rate applies (the time every body gets, however slow).
    pub grace: Duration,
    /// Longest pause between two parts of a body.
    pub idle: Duration,
}

impl Default for BodyRate {
    /// mod_reqtimeout's body defaults (20 s, then 500 bytes/s), and a 30 s idle gap.
    fn default() -> Self {
        BodyRate {
            min_bytes_per_second: 500,
            grace: Duration::from_secs(20),
            idle: Duration::from_secs(30),
        }
    }
}

impl BodyRate {
    /// `body`, failing with [`BodyTooSlow`] once it falls behind this rate or pauses too long.
    pub fn apply(self, body: Body) -> Body {
        let started = Instant::now();
        let rate_deadline = if self.min_bytes_per_second == 0 {
            None
        } else {
            started.checked_add(self.grace)
        };
        let mut paced = MinRateBody {
            body,
            rate: self,
            rate_deadline,
            timer: Box::pin(tokio::time::sleep_until(started)),
            expired: false,
        };
        paced.reset_timer(started);
        Body::new(paced)
    }

    /// The rate's deadline after `bytes` more came at `now`: `1/min_rate` seconds later per
    /// byte, but never more than the grace period from now.
    fn extend(&self, deadline: Instant, bytes: usize, now: Instant) -> Instant {
        let earned = Duration::from_secs_f64(bytes as f64 / self.min_bytes_per_second as f64);
        let extended = deadline.checked_add(earned).unwrap_or(deadline);
        match now.checked_add(self.grace) {
            Some(cap) => extended.min(cap),
            None => extended,
        }
    }
}

/// The client's body was too slow: below the minimum rate, or idle too long.
#[derive(Debug, thiserror::Error)]
#[error("the request body came slower than {min_bytes_per_second} bytes/s after {grace:?}, or paused longer than {idle:?}")]
pub struct BodyTooSlow {
    min_bytes_per_second: u64,
    grace: Duration,
    idle: Duration,
}

struct MinRateBody {
    body: Body,
    rate: BodyRate,
    /// When the body runs out of time by the rate; `None`: no rate.
    rate_deadline: Option<Instant>,
    timer: Pin<Box<Sleep>>,
    expired: bool,
}

impl MinRateBody {
    /// The next deadline: the idle gap from `now`, or the rate's, whichever comes first.
    fn reset_timer(&mut self, now: Instant) {
        let idle = now.checked_add(self.rate.idle);
        let deadline = match (idle, self.rate_deadline) {
            (Some(idle), Some(rate)) => idle.min(rate),
            (Some(one), None) | (None, Some(one)) => one,
            // Both beyond what an Instant can hold: in effect, never.
            (None, None) => now + Duration::from_secs(86_400 * 365),
        };
        self.timer.as_mut().reset(deadline);
    }
}

impl http_body::Body for MinRateBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let now = Instant::now();
                    let bytes = data.len();
                    self.rate_deadline = self
                        .rate_deadline
                        .map(|deadline| self.rate.extend(deadline, bytes, now));
                    self.reset_timer(now);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into_inner()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if self.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.expired = true;
                let rate = self.rate;
                Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    min_bytes_per_second: rate.min_bytes_per_second,
                    grace: rate.grace,
                    idle: rate.idle,
                }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    fn rate(min_bytes_per_second: u64, grace_ms: u64, idle_ms: u64) -> BodyRate {
        BodyRate {
            min_bytes_per_second,
            grace: Duration::from_millis(grace_ms),
            idle: Duration::from_millis(idle_ms),
        }
    }

    /// A body fed one byte every `every`, for as long as it is read.
    fn trickle(every: Duration) -> Body {
        trickle_after(Bytes::new(), every)
    }

    /// A body that sends `first` at once, then trickles as [`trickle`] does.
    fn trickle_after(first: Bytes, every: Duration) -> Body {
        let (sender, receiver) = mpsc::channel(1);
        tokio::spawn(async move {
            if sender.send(Ok(first)).await.is_err() {
                return;
            }
            while sender.send(Ok(Bytes::from_static(b"x"))).await.is_ok() {
                tokio::time::sleep(every).await;
            }
        });
        crate::body::channel_body(receiver)
    }

    #[tokio::test]
    async fn a_trickle_that_never_pauses_long_runs_out_of_time_after_its_grace() {
        let body = rate(500, 300, 1_000).apply(trickle(Duration::from_millis(10)));
        let started = Instant::now();
        let error = body.collect().await.expect_err("a trickle must fail");
        assert!(crate::body_error::is_body_timeout(&*error.into_inner()));
        // 300 ms of grace, plus the few milliseconds ~30 bytes earn at 500 bytes/s; the idle
        // gap (1 s) never ran out. The ceiling only allows for a busy machine.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(900), "{took:?}");
    }

    #[tokio::test]
    async fn a_fast_start_does_not_pay_for_a_trickle_after_it() {
        // 1 MB earns 2,000 s at 500 bytes/s, but no more than the 300 ms grace is banked.
        let first = Bytes::from(vec![b'x'; 1_000_000]);
        let body = rate(500, 300, 1_000).apply(trickle_after(first, Duration::from_millis(10)));
        let started = Instant::now();
        assert!(body.collect().await.is_err(), "a trickle must fail");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(900), "{took:?}");
    }

    #[tokio::test]
    async fn a_body_at_the_rate_keeps_going_and_an_idle_one_stops() {
        // ~200 bytes/s for ~1 s against a grace of 200 ms and a rate of 50 bytes/s.
        let mut body = rate(50, 200, 10_000).apply(trickle(Duration::from_millis(5)));
        for _ in 0..200 {
            body.frame().await.unwrap().unwrap();
        }
        let (_sender, receiver) = mpsc::channel(1);
        let idle = rate(0, 0, 200).apply(crate::body::channel_body(receiver));
        let started = Instant::now();
        assert!(idle.collect().await.is_err());
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn end_and_size_are_those_of_the_body_it_wraps() {
        let body = BodyRate::default().apply(Body::from("abc"));
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        assert!(BodyRate::default().apply(Body::empty()).is_end_stream());
    }
}
