//! `wasi:io` 0.2: errors, pollables and streams. A stream is any [`Source`] or [`Sink`]:
//! the process's standard streams here, files (filesystem) and sockets implement the same
//! traits, so the stream functions below serve them all.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{Call, Object, R, le32, le64, p2_fns, rt};
use crate::wasi::filesystem::{ErrorCode, File};
use crate::wasi::io::{Stdio, StreamError};

/// The most bytes one `read` returns and one `check-write` permits (wasmtime's stdio
/// budget is of this order; the guest loops over short counts either way).
pub const STREAM_BUDGET: usize = 64 * 1024;

/// Something a pollable waits for.
#[derive(Clone)]
pub enum Pollable {
    /// Always ready (files, stdout, a write that never blocks).
    Ready,
    /// Ready when the monotonic clock reaches this instant (ns).
    Deadline(u64),
    /// Ready when this descriptor is readable (or writable).
    Fd { fd: Arc<dyn AsFdSync>, write: bool },
    /// Whatever its owner waits on at the time of the wait: a socket's pollable follows
    /// the socket from connecting to connected, as wasmtime's does.
    Dynamic(Arc<dyn Readiness>),
}

/// The owner of a [`Pollable::Dynamic`].
pub trait Readiness: Send + Sync {
    /// What to wait on now; never `Dynamic`.
    fn current(&self) -> Pollable;
}

/// A descriptor a pollable can wait on.
pub trait AsFdSync: Send + Sync {
    fn borrowed(&self) -> BorrowedFd<'_>;
}

impl AsFdSync for OwnedFd {
    fn borrowed(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

struct StdinFd;

impl AsFdSync for StdinFd {
    fn borrowed(&self) -> BorrowedFd<'_> {
        rustix::stdio::stdin()
    }
}

/// Where an input stream reads from.
pub trait Source: Send + Sync {
    /// At most `max` bytes; with `blocking`, waits for at least one (or the end).
    /// `Err(Closed)` at the end of the stream.
    fn read(&self, max: usize, blocking: bool) -> Result<Vec<u8>, StreamError>;
    fn pollable(&self) -> Pollable;
}

/// Where an output stream writes to.
pub trait Sink: Send + Sync {
    /// How many bytes a `write` may take now.
    fn check_write(&self) -> Result<u64, StreamError>;
    fn write(&self, bytes: &[u8]) -> Result<(), StreamError>;
    fn flush(&self) -> Result<(), StreamError> {
        Ok(())
    }
    /// As `flush`, and waits until the bytes written have left the stream's own buffer.
    fn blocking_flush(&self) -> Result<(), StreamError> {
        self.flush()
    }
    fn pollable(&self) -> Pollable {
        Pollable::Ready
    }
}

pub type InputStream = dyn Source;
pub type OutputStream = dyn Sink;

/// The standard input stream.
pub struct StdinSource;

impl Source for StdinSource {
    fn read(&self, max: usize, blocking: bool) -> Result<Vec<u8>, StreamError> {
        if !blocking && !Stdio::Stdin.wait_readable(Some(Duration::ZERO))? {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; max.min(STREAM_BUDGET)];
        if buf.is_empty() {
            return Ok(buf);
        }
        let n = Stdio::Stdin.read(&mut buf)?;
        if n == 0 {
            return Err(StreamError::Closed);
        }
        buf.truncate(n);
        Ok(buf)
    }

    fn pollable(&self) -> Pollable {
        Pollable::Fd {
            fd: Arc::new(StdinFd),
            write: false,
        }
    }
}

/// Standard output or error: unbuffered, every write reaches the descriptor at once.
pub struct StdioSink(pub Stdio);

impl Sink for StdioSink {
    fn check_write(&self) -> Result<u64, StreamError> {
        Ok(STREAM_BUDGET as u64)
    }

    fn write(&self, bytes: &[u8]) -> Result<(), StreamError> {
        self.0.write_all(bytes).map(drop)
    }
}

/// A filesystem error carried by a stream error, so that `filesystem-error-code` can
/// recover the code.
#[derive(Debug)]
pub struct FsError(pub ErrorCode);

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for FsError {}

pub fn fs_error(e: ErrorCode) -> StreamError {
    StreamError::LastOperationFailed(io::Error::other(FsError(e)))
}

/// A file read from a position on (`read-via-stream`).
pub struct FileSource {
    pub file: Arc<File>,
    pub position: AtomicU64,
}

impl Source for FileSource {
    fn read(&self, max: usize, _blocking: bool) -> Result<Vec<u8>, StreamError> {
        let mut buf = vec![0u8; max.min(STREAM_BUDGET)];
        if buf.is_empty() {
            return Ok(buf);
        }
        let at = self.position.load(Ordering::Relaxed);
        let n = self.file.read_at(&mut buf, at).map_err(fs_error)?;
        if n == 0 {
            return Err(StreamError::Closed);
        }
        self.position.store(at + n as u64, Ordering::Relaxed);
        buf.truncate(n);
        Ok(buf)
    }

    fn pollable(&self) -> Pollable {
        Pollable::Ready
    }
}

/// A file written from a position on (`write-via-stream`) or at its end
/// (`append-via-stream`).
pub struct FileSink {
    pub file: Arc<File>,
    pub position: AtomicU64,
    pub append: bool,
}

impl Sink for FileSink {
    fn check_write(&self) -> Result<u64, StreamError> {
        Ok(STREAM_BUDGET as u64)
    }

    fn write(&self, mut bytes: &[u8]) -> Result<(), StreamError> {
        let fail = fs_error;
        while !bytes.is_empty() {
            let n = if self.append {
                self.file.append(bytes).map_err(fail)?
            } else {
                let at = self.position.load(Ordering::Relaxed);
                let n = self.file.write_at(bytes, at).map_err(fail)?;
                self.position.store(at + n as u64, Ordering::Relaxed);
                n
            };
            if n == 0 {
                return Err(StreamError::LastOperationFailed(
                    io::ErrorKind::WriteZero.into(),
                ));
            }
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

impl Pollable {
    /// What a `Dynamic` pollable stands for now; any other as is.
    fn resolved(&self) -> Pollable {
        match self {
            Pollable::Dynamic(owner) => owner.current(),
            other => other.clone(),
        }
    }

    /// Whether it is ready now, given the monotonic time `now`.
    fn ready(&self, now: u64) -> bool {
        match self {
            Pollable::Dynamic(owner) => owner.current().ready(now),
            Pollable::Ready => true,
            Pollable::Deadline(d) => now >= *d,
            Pollable::Fd { fd, write } => wait_fds(&[(fd.borrowed(), *write)], Some(0))
                .first()
                .copied()
                .unwrap_or(true),
        }
    }
}

/// Polls `fds` (readable, or writable if the flag is set) for at most `timeout_ns` (None:
/// forever); whether each is ready. An error counts as ready: the operation reports it.
pub(crate) fn wait_fds(fds: &[(BorrowedFd<'_>, bool)], timeout_ns: Option<u64>) -> Vec<bool> {
    let mut polls: Vec<PollFd> = fds
        .iter()
        .map(|(fd, write)| {
            PollFd::from_borrowed_fd(
                *fd,
                if *write {
                    PollFlags::OUT
                } else {
                    PollFlags::IN
                },
            )
        })
        .collect();
    let timeout = timeout_ns.map(|ns| rustix::time::Timespec {
        tv_sec: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        tv_nsec: (ns % 1_000_000_000) as i64,
    });
    loop {
        match rustix::event::poll(&mut polls, timeout.as_ref()) {
            Ok(_) => return polls.iter().map(|p| !p.revents().is_empty()).collect(),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return vec![true; fds.len()],
        }
    }
}

/// Blocks until at least one of `list` is ready; the indices of those that are.
pub fn poll_list(call: &Call, list: &[Arc<Pollable>]) -> Vec<u32> {
    loop {
        let list: Vec<Pollable> = list.iter().map(|p| p.resolved()).collect();
        let now = call.wasi.monotonic.now();
        let ready: Vec<u32> = list
            .iter()
            .enumerate()
            .filter(|(_, p)| p.ready(now))
            .map(|(i, _)| i as u32)
            .collect();
        if !ready.is_empty() {
            return ready;
        }
        let deadline = list
            .iter()
            .filter_map(|p| match *p {
                Pollable::Deadline(d) => Some(d),
                _ => None,
            })
            .min();
        let fds: Vec<(BorrowedFd<'_>, bool)> = list
            .iter()
            .filter_map(|p| match p {
                Pollable::Fd { fd, write } => Some((fd.borrowed(), *write)),
                _ => None,
            })
            .collect();
        let timeout = deadline.map(|d| d.saturating_sub(now));
        if fds.is_empty() {
            match timeout {
                Some(ns) => crate::wasi::clocks::sleep(ns),
                // Nothing can ever become ready: wasmtime would wait forever too.
                None => loop {
                    crate::wasi::clocks::sleep(u64::MAX / 2)
                },
            }
        } else {
            wait_fds(&fds, timeout);
        }
    }
}

fn input(call: &Call, handle: i32) -> R<Arc<InputStream>> {
    match call.get(handle, rt::INPUT_STREAM)? {
        Object::InputStream(s) => Ok(s),
        _ => Err(call.trap(format!("handle index {handle} used with the wrong type"))),
    }
}

fn output(call: &Call, handle: i32) -> R<Arc<OutputStream>> {
    match call.get(handle, rt::OUTPUT_STREAM)? {
        Object::OutputStream(s) => Ok(s),
        _ => Err(call.trap(format!("handle index {handle} used with the wrong type"))),
    }
}

pub fn pollable(call: &Call, handle: i32) -> R<Arc<Pollable>> {
    match call.get(handle, rt::POLLABLE)? {
        Object::Pollable(p) => Ok(p),
        _ => Err(call.trap(format!("handle index {handle} used with the wrong type"))),
    }
}

/// A new pollable handle.
pub fn push_pollable(call: &Call, p: Pollable) -> R<i32> {
    call.push(rt::POLLABLE, Object::Pollable(Arc::new(p)))
}

/// The `stream-error` variant's two words (discriminant, error handle) for `e`.
fn stream_error(call: &Call, e: StreamError) -> R<(u32, u32)> {
    match e {
        StreamError::Closed => Ok((1, 0)),
        StreamError::LastOperationFailed(e) => {
            let h = call.push(rt::ERROR, Object::Error(Arc::new(e)))?;
            Ok((0, h as u32))
        }
    }
}

/// Writes `result<_, stream-error>` at `retptr`.
fn ret_unit(call: &Call, retptr: i32, r: Result<(), StreamError>) -> R<()> {
    match r {
        Ok(()) => call.ret(retptr, 4, &[(0, &[0])]),
        Err(e) => {
            let (d, h) = stream_error(call, e)?;
            call.ret(retptr, 4, &[(0, &[1]), (4, &[d as u8]), (8, &le32(h))])
        }
    }
}

/// Writes `result<u64, stream-error>` at `retptr`.
fn ret_u64(call: &Call, retptr: i32, r: Result<u64, StreamError>) -> R<()> {
    match r {
        Ok(n) => call.ret(retptr, 8, &[(0, &[0]), (8, &le64(n))]),
        Err(e) => {
            let (d, h) = stream_error(call, e)?;
            call.ret(retptr, 8, &[(0, &[1]), (8, &[d as u8]), (12, &le32(h))])
        }
    }
}

/// Writes `result<list<u8>, stream-error>` at `retptr`.
fn ret_bytes(call: &Call, retptr: i32, r: Result<Vec<u8>, StreamError>) -> R<()> {
    match r {
        Ok(bytes) => {
            let (p, l) = call.lower_bytes(&bytes)?;
            call.ret(retptr, 4, &[(0, &[0]), (4, &le32(p)), (8, &le32(l))])
        }
        Err(e) => {
            let (d, h) = stream_error(call, e)?;
            call.ret(retptr, 4, &[(0, &[1]), (4, &[d as u8]), (8, &le32(h))])
        }
    }
}

fn len_arg(len: i64) -> usize {
    usize::try_from(len as u64).unwrap_or(usize::MAX)
}

/// Writes `bytes` after checking the budget, as `write` must (a write beyond what
/// `check-write` allowed is a guest error wasmtime reports as a failed operation).
fn checked_write(s: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    s.write(bytes)
}

fn splice(
    src: &InputStream,
    dst: &OutputStream,
    len: i64,
    blocking: bool,
) -> Result<u64, StreamError> {
    let budget = dst.check_write()?;
    let max = len_arg(len).min(usize::try_from(budget).unwrap_or(usize::MAX));
    let bytes = src.read(max, blocking)?;
    dst.write(&bytes)?;
    if blocking {
        dst.blocking_flush()?;
    }
    Ok(bytes.len() as u64)
}

p2_fns! {
    fn aot_wasi_p2_io__error__method__error__to_debug_string(cx, this: i32, retptr: i32) {
        let text = match cx.get(this, rt::ERROR)? {
            Object::Error(e) => e.to_string(),
            _ => return Err(cx.trap(format!("handle index {this} used with the wrong type"))),
        };
        let (p, l) = cx.lower_bytes(text.as_bytes())?;
        cx.ret(retptr, 4, &[(0, &le32(p)), (4, &le32(l))])
    }

    fn aot_wasi_p2_io__error__resource_drop__error(cx, handle: i32) {
        cx.drop_handle(handle, rt::ERROR)
    }

    fn aot_wasi_p2_io__poll__method__pollable__ready(cx, this: i32) -> i32 {
        let p = pollable(&cx, this)?;
        Ok(i32::from(p.ready(cx.wasi.monotonic.now())))
    }

    fn aot_wasi_p2_io__poll__method__pollable__block(cx, this: i32) {
        let p = pollable(&cx, this)?;
        poll_list(&cx, &[p]);
        Ok(())
    }

    fn aot_wasi_p2_io__poll__poll(cx, list: i32, len: i32, retptr: i32) {
        let mut handles = Vec::new();
        {
            let m = cx.mem();
            let bytes = m
                .slice(list as u32, (len as u32).checked_mul(4).ok_or_else(|| cx.trap("list pointer/length out of bounds of memory"))?)
                .map_err(|_| cx.trap("list pointer/length out of bounds of memory"))?;
            if !(list as u32).is_multiple_of(4) {
                return Err(cx.trap("list pointer is not aligned"));
            }
            for c in bytes.chunks_exact(4) {
                handles.push(i32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            }
        }
        if handles.is_empty() {
            return Err(cx.trap("poll: the list of pollables is empty"));
        }
        let list: Vec<Arc<Pollable>> = handles.iter().map(|&h| pollable(&cx, h)).collect::<R<_>>()?;
        let ready = poll_list(&cx, &list);
        let n = ready.len() as u32;
        let array = cx.alloc(n * 4, 4)?;
        let bytes: Vec<u8> = ready.iter().flat_map(|i| i.to_le_bytes()).collect();
        cx.mem().write_bytes(array, &bytes).map_err(|e| cx.guest_error(e))?;
        cx.ret(retptr, 4, &[(0, &le32(array)), (4, &le32(n))])
    }

    fn aot_wasi_p2_io__poll__resource_drop__pollable(cx, handle: i32) {
        cx.drop_handle(handle, rt::POLLABLE)
    }

    fn aot_wasi_p2_io__streams__method__input_stream__read(cx, this: i32, len: i64, retptr: i32) {
        let s = input(&cx, this)?;
        ret_bytes(&cx, retptr, s.read(len_arg(len), false))
    }

    fn aot_wasi_p2_io__streams__method__input_stream__blocking_read(cx, this: i32, len: i64, retptr: i32) {
        let s = input(&cx, this)?;
        ret_bytes(&cx, retptr, s.read(len_arg(len), true))
    }

    fn aot_wasi_p2_io__streams__method__input_stream__skip(cx, this: i32, len: i64, retptr: i32) {
        let s = input(&cx, this)?;
        ret_u64(&cx, retptr, s.read(len_arg(len), false).map(|b| b.len() as u64))
    }

    fn aot_wasi_p2_io__streams__method__input_stream__blocking_skip(cx, this: i32, len: i64, retptr: i32) {
        let s = input(&cx, this)?;
        ret_u64(&cx, retptr, s.read(len_arg(len), true).map(|b| b.len() as u64))
    }

    fn aot_wasi_p2_io__streams__method__input_stream__subscribe(cx, this: i32) -> i32 {
        let s = input(&cx, this)?;
        push_pollable(&cx, s.pollable())
    }

    fn aot_wasi_p2_io__streams__resource_drop__input_stream(cx, handle: i32) {
        cx.drop_handle(handle, rt::INPUT_STREAM)
    }

    fn aot_wasi_p2_io__streams__method__output_stream__check_write(cx, this: i32, retptr: i32) {
        let s = output(&cx, this)?;
        ret_u64(&cx, retptr, s.check_write())
    }

    fn aot_wasi_p2_io__streams__method__output_stream__write(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let s = output(&cx, this)?;
        let bytes = cx.bytes_arg(ptr, len)?;
        ret_unit(&cx, retptr, checked_write(&*s, &bytes))
    }

    fn aot_wasi_p2_io__streams__method__output_stream__blocking_write_and_flush(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let s = output(&cx, this)?;
        let bytes = cx.bytes_arg(ptr, len)?;
        if bytes.len() > 4096 {
            return Err(cx.trap("Buffer too large for blocking-write-and-flush (expected at most 4096)"));
        }
        ret_unit(&cx, retptr, s.write(&bytes).and_then(|()| s.blocking_flush()))
    }

    fn aot_wasi_p2_io__streams__method__output_stream__flush(cx, this: i32, retptr: i32) {
        let s = output(&cx, this)?;
        ret_unit(&cx, retptr, s.flush())
    }

    fn aot_wasi_p2_io__streams__method__output_stream__blocking_flush(cx, this: i32, retptr: i32) {
        let s = output(&cx, this)?;
        ret_unit(&cx, retptr, s.blocking_flush())
    }

    fn aot_wasi_p2_io__streams__method__output_stream__subscribe(cx, this: i32) -> i32 {
        let s = output(&cx, this)?;
        push_pollable(&cx, s.pollable())
    }

    fn aot_wasi_p2_io__streams__method__output_stream__write_zeroes(cx, this: i32, len: i64, retptr: i32) {
        let s = output(&cx, this)?;
        let zeroes = vec![0u8; len_arg(len).min(STREAM_BUDGET)];
        ret_unit(&cx, retptr, s.write(&zeroes))
    }

    fn aot_wasi_p2_io__streams__method__output_stream__blocking_write_zeroes_and_flush(cx, this: i32, len: i64, retptr: i32) {
        let s = output(&cx, this)?;
        if len_arg(len) > 4096 {
            return Err(cx.trap("Buffer too large for blocking-write-and-flush (expected at most 4096)"));
        }
        let zeroes = vec![0u8; len_arg(len)];
        ret_unit(&cx, retptr, s.write(&zeroes).and_then(|()| s.blocking_flush()))
    }

    fn aot_wasi_p2_io__streams__method__output_stream__splice(cx, this: i32, src: i32, len: i64, retptr: i32) {
        let dst = output(&cx, this)?;
        let src = input(&cx, src)?;
        ret_u64(&cx, retptr, splice(&*src, &*dst, len, false))
    }

    fn aot_wasi_p2_io__streams__method__output_stream__blocking_splice(cx, this: i32, src: i32, len: i64, retptr: i32) {
        let dst = output(&cx, this)?;
        let src = input(&cx, src)?;
        ret_u64(&cx, retptr, splice(&*src, &*dst, len, true))
    }

    fn aot_wasi_p2_io__streams__resource_drop__output_stream(cx, handle: i32) {
        cx.drop_handle(handle, rt::OUTPUT_STREAM)
    }
}
