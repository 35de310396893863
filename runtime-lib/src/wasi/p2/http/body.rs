//! Bodies: what an `outgoing-body`'s output stream writes to and what an `incoming-body`'s
//! input stream reads from.
//!
//! An outgoing body has two ends: the [`BodySink`] the guest writes through, and the
//! [`BodyReader`] held by whoever would send it (the request or response it belongs to,
//! then the `future-incoming-response` of the request's `handle`). Until real HTTP exists
//! nothing sends: bytes are counted (a `content-length` is enforced as in wasmtime) and
//! dropped. Once the reader is gone (its request was dropped unsent, or its response's
//! future was dropped) the stream is closed, as wasmtime's is when nothing will read it.
//!
//! An incoming body reads from memory: [`MemorySource`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::error::{ErrorCode, HttpFailure};
use crate::Locked;
use crate::wasi::io::StreamError;
use crate::wasi::p2::io::{Pollable, Sink, Source};

/// How many bytes one write may carry (wasmtime's default outgoing chunk size).
pub const CHUNK_SIZE: u64 = 1024 * 1024;

/// Whether a body belongs to a request or a response (which body-size error it reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Request,
    Response,
}

impl BodyKind {
    /// The body-size error for `size` bytes.
    pub fn size_error(self, size: u64) -> ErrorCode {
        match self {
            BodyKind::Request => ErrorCode::HttpRequestBodySize(Some(size)),
            BodyKind::Response => ErrorCode::HttpResponseBodySize(Some(size)),
        }
    }
}

/// What both ends of an outgoing body share.
#[derive(Debug)]
pub struct BodyState {
    kind: BodyKind,
    /// The announced `content-length`, if any.
    expected: Option<u64>,
    written: AtomicU64,
    reader_gone: AtomicBool,
}

impl BodyState {
    /// A new body and the end its sender holds.
    pub fn new(kind: BodyKind, expected: Option<u64>) -> (Arc<BodyState>, BodyReader) {
        let state = Arc::new(BodyState {
            kind,
            expected,
            written: AtomicU64::new(0),
            reader_gone: AtomicBool::new(false),
        });
        let reader = BodyReader(state.clone());
        (state, reader)
    }

    /// `outgoing-body.finish`: the body must have all the bytes it announced.
    pub fn finish(&self) -> Result<(), ErrorCode> {
        let written = self.written.load(Ordering::Relaxed);
        match self.expected {
            Some(expected) if written != expected => Err(self.kind.size_error(written)),
            _ => Ok(()),
        }
    }

    fn closed(&self) -> bool {
        self.reader_gone.load(Ordering::Relaxed)
    }
}

/// The end of an outgoing body its sender holds; dropping it closes the guest's stream.
#[derive(Debug)]
pub struct BodyReader(Arc<BodyState>);

impl Drop for BodyReader {
    fn drop(&mut self) {
        self.0.reader_gone.store(true, Ordering::Relaxed);
    }
}

/// The output stream of an outgoing body.
pub struct BodySink(pub Arc<BodyState>);

impl Sink for BodySink {
    fn check_write(&self) -> Result<u64, StreamError> {
        if self.0.closed() {
            return Err(StreamError::Closed);
        }
        Ok(CHUNK_SIZE)
    }

    fn write(&self, bytes: &[u8]) -> Result<(), StreamError> {
        if self.0.closed() {
            return Err(StreamError::Closed);
        }
        let before = self
            .0
            .written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let total = before + bytes.len() as u64;
        match self.0.expected {
            Some(expected) if total > expected => Err(StreamError::LastOperationFailed(
                std::io::Error::other(HttpFailure(self.0.kind.size_error(total))),
            )),
            _ => Ok(()),
        }
    }

    fn flush(&self) -> Result<(), StreamError> {
        if self.0.closed() {
            return Err(StreamError::Closed);
        }
        Ok(())
    }
}

/// An incoming body held in memory.
pub struct MemorySource {
    data: Mutex<VecDeque<u8>>,
}

impl MemorySource {
    pub fn new(data: Vec<u8>) -> MemorySource {
        MemorySource {
            data: Mutex::new(data.into()),
        }
    }
}

impl Source for MemorySource {
    fn read(&self, max: usize, _blocking: bool) -> Result<Vec<u8>, StreamError> {
        let mut data = self.data.locked();
        if data.is_empty() {
            return Err(StreamError::Closed);
        }
        let n = max.min(data.len());
        Ok(data.drain(..n).collect())
    }

    fn pollable(&self) -> Pollable {
        Pollable::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::p2::http::error::carried;

    #[test]
    fn content_length_is_enforced_on_write_and_finish() {
        let (state, _reader) = BodyState::new(BodyKind::Request, Some(5));
        let sink = BodySink(state.clone());
        assert_eq!(sink.check_write().ok(), Some(CHUNK_SIZE));
        assert!(sink.write(b"abc").is_ok());
        assert_eq!(state.finish(), Err(ErrorCode::HttpRequestBodySize(Some(3))));
        match sink.write(b"def") {
            Err(StreamError::LastOperationFailed(e)) => {
                assert_eq!(carried(&e), Some(ErrorCode::HttpRequestBodySize(Some(6))))
            }
            _ => panic!("a write past content-length must fail"),
        }
        let (state, _reader) = BodyState::new(BodyKind::Response, Some(2));
        assert!(BodySink(state.clone()).write(b"ab").is_ok());
        assert_eq!(state.finish(), Ok(()));
        let (state, _reader) = BodyState::new(BodyKind::Response, Some(2));
        assert_eq!(
            state.finish(),
            Err(ErrorCode::HttpResponseBodySize(Some(0)))
        );
        let (state, _reader) = BodyState::new(BodyKind::Response, None);
        assert!(BodySink(state.clone()).write(&[0; 100]).is_ok());
        assert_eq!(state.finish(), Ok(()));
    }

    #[test]
    fn the_stream_closes_when_the_reader_goes() {
        let (state, reader) = BodyState::new(BodyKind::Request, None);
        let sink = BodySink(state);
        assert!(sink.write(b"x").is_ok());
        drop(reader);
        assert!(matches!(sink.check_write(), Err(StreamError::Closed)));
        assert!(matches!(sink.write(b"x"), Err(StreamError::Closed)));
        assert!(matches!(sink.flush(), Err(StreamError::Closed)));
    }

    #[test]
    fn a_memory_body_reads_to_its_end() {
        let s = MemorySource::new(b"hello".to_vec());
        assert_eq!(s.read(2, false).ok(), Some(b"he".to_vec()));
        assert_eq!(s.read(10, true).ok(), Some(b"llo".to_vec()));
        assert!(matches!(s.read(10, false), Err(StreamError::Closed)));
    }
}
