//! Answers far larger than any page Meta serves, generated lazily as they are sent.
//!
//! Owns [`HugeAnswer`] (which calls get one, how large, whether the length is announced) and
//! the body that streams it: a valid start of a Graph page (`{"data":[{"id":"1","caption":"`)
//! followed by filler, so a client that reads it all holds that many bytes. Nothing is
//! buffered: a client that stops reading costs the fake nothing more. It must not decide
//! anything else about the answer (status and headers come from the normal route).

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Successful answers under `path_prefix` (version-less, as [`crate::ForcedError`]), and
/// batch answers carrying an operation under it, are replaced by a body of `bytes` bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct HugeAnswer {
    pub path_prefix: String,
    pub bytes: u64,
    /// Send `Content-Length` (otherwise the body is chunked, its size unknown until it ends).
    pub announce_length: bool,
}

impl HugeAnswer {
    pub(crate) fn applies_to(&self, versionless_path: &str) -> bool {
        versionless_path.starts_with(&self.path_prefix)
    }
}

const START: &[u8] = br#"{"data":[{"id":"1","caption":""#;
const END: &[u8] = br#""}]}"#;
const CHUNK: usize = 64 << 10;

/// The body of a [`HugeAnswer`], produced chunk by chunk as the connection asks for it.
pub(crate) struct HugeBody {
    remaining: u64,
    announce_length: bool,
    started: bool,
    filler: Bytes,
}

impl HugeBody {
    pub(crate) fn new(answer: &HugeAnswer) -> Self {
        let bytes = answer.bytes.max((START.len() + END.len()) as u64);
        HugeBody {
            remaining: bytes,
            announce_length: answer.announce_length,
            started: false,
            filler: Bytes::from(vec![b'x'; CHUNK]),
        }
    }
}

impl Body for HugeBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let chunk = if !self.started {
            self.started = true;
            Bytes::from_static(START)
        } else if self.remaining == END.len() as u64 {
            Bytes::from_static(END)
        } else {
            let n = (self.remaining - END.len() as u64).min(CHUNK as u64) as usize;
            self.filler.slice(..n)
        };
        self.remaining -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.announce_length { SizeHint::with_exact(self.remaining) } else { SizeHint::default() }
    }
}
