//! Request bodies the app answered without reading. Over HTTP/1.1 the rest of such a body is
//! still on the connection; a small rest is read and dropped so the client's keep-alive
//! connection survives, and a larger one makes the answer say `Connection: close`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::Frame;
use hyper::body::Incoming;

/// The most of an unread request body read and dropped to keep its connection open.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// The longest wait for such a body.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What became of a request's body.
#[derive(Default)]
pub(super) struct Tracker {
    finished: AtomicBool,
    /// A body dropped before its end (its request was refused before it was read).
    unread: std::sync::Mutex<Option<Incoming>>,
}

impl Tracker {
    /// `body`, wrapped so that this tracker learns whether it is read to its end.
    pub(super) fn track(self: &Arc<Self>, body: Incoming) -> FinishTracked {
        FinishTracked {
            inner: Some(body),
            tracker: self.clone(),
        }
    }

    /// Whether the connection can carry another HTTP/1 request. A request answered before its
    /// body was read (a refusal) leaves the rest of the body on the connection, and hyper then
    /// closes it rather than guess where the next request starts. A small rest is read and
    /// dropped here instead, so the client's keep-alive connection survives and no reset can
    /// destroy the answer before the client reads it; for a larger one, the answer says
    /// `Connection: close`.
    pub(super) async fn finish_unread_body(&self) -> bool {
        if self.finished.load(Ordering::Acquire) {
            return true;
        }
        let unread = self.unread.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut body) = unread else {
            return false; // still being read (a streamed upload the upstream answered early)
        };
        if http_body::Body::size_hint(&body)
            .upper()
            .is_none_or(|left| left > DRAIN_LIMIT)
        {
            return false;
        }
        let drain = async {
            while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
                if frame.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(DRAIN_TIMEOUT, drain)
            .await
            .unwrap_or(false)
    }
}

/// A request body that records when it has been read to its end, and hands itself to its
/// [`Tracker`] if it is dropped before.
pub(super) struct FinishTracked {
    inner: Option<Incoming>,
    tracker: Arc<Tracker>,
}

impl http_body::Body for FinishTracked {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(&mut *inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || http_body::Body::is_end_stream(&*inner) {
            self.tracker.finished.store(true, Ordering::Release);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_default()
    }
}

impl Drop for FinishTracked {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if http_body::Body::is_end_stream(&inner) {
            self.tracker.finished.store(true, Ordering::Release);
        } else {
            *self
                .tracker
                .unread
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(inner);
        }
    }
}
