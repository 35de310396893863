//! `wasi:sockets/tcp` and `tcp-create-socket` 0.2: a TCP socket is a non-blocking host
//! socket and the state wasmtime keeps beside it (which phase it is in, which
//! `start-` call awaits its `finish-`, whether it is bound). A connected socket hands out
//! one input and one output stream over the same descriptor.
//!
//! Nothing here waits except the blocking stream calls: a connect completes in the
//! kernel and `finish-connect` asks whether it has; an accept takes what the kernel has
//! queued. Bytes a write hands over that the kernel does not take at once are sent by a
//! sender thread, as wasmtime sends them from a background task: the guest goes on (to
//! read what its peer answers, say) while `check-write` says 0 and the stream's pollable
//! waits for that thread; `blocking-flush` and dropping the stream wait for it, and a
//! `shutdown(send)` meanwhile takes effect when it is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, SocketFlags, SocketType, sockopt};

use super::{
    Children, ErrorCode, Family, SockResult, check_network, drop_parent, is_valid_family,
    is_valid_remote, is_valid_unicast, lift_socket_address, network_arg, new_socket, ret_bool,
    ret_handles, ret_socket_address, ret_u8, ret_u32, ret_u64, ret_unit, stream_failure,
};
use crate::Locked;
use crate::wasi::io::StreamError;
use crate::wasi::p2::io::{Pollable, Readiness, STREAM_BUDGET, Sink, Source, wait_fds};
use crate::wasi::p2::{Call, Object, R, p2_fns, rt};

/// The backlog `listen` uses unless the guest sets one (Rust's standard library's).
const DEFAULT_BACKLOG: u32 = 128;

/// Where a socket is in bind → connect or listen.
enum Phase {
    /// New, maybe bound.
    Default,
    /// `start-connect` was called: `None` while the kernel is still connecting, else how
    /// the connect ended.
    Connecting(Option<SockResult<()>>),
    Connected,
    Listening,
    /// A connect failed; every later operation reports it.
    Closed(ErrorCode),
}

/// The `start-` call whose `finish-` is awaited.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Bind,
    Connect,
    Listen,
}

/// What wasmtime tracks beside the host socket.
struct State {
    phase: Phase,
    in_progress: Option<Op>,
    bound: bool,
    backlog: u32,
    /// The stream halves of a connected socket, kept for `shutdown` once handed out.
    streams: Option<(Arc<Reader>, Arc<Writer>)>,
}

/// A `tcp-socket` resource.
pub struct TcpSocket {
    fd: Arc<OwnedFd>,
    family: Family,
    state: std::sync::Mutex<State>,
    children: Children,
}

impl TcpSocket {
    fn new(fd: OwnedFd, family: Family, phase: Phase, bound: bool) -> TcpSocket {
        TcpSocket {
            fd: Arc::new(fd),
            family,
            state: std::sync::Mutex::new(State {
                phase,
                in_progress: None,
                bound,
                backlog: DEFAULT_BACKLOG,
                streams: None,
            }),
            children: Children::default(),
        }
    }

    fn start_bind(&self, addr: SocketAddr) -> SockResult<()> {
        let mut st = self.state.locked();
        if st.in_progress.is_some() {
            return Err(ErrorCode::ConcurrencyConflict);
        }
        if st.is_bound() || !matches!(st.phase, Phase::Default) {
            return Err(ErrorCode::InvalidState);
        }
        if !is_valid_unicast(addr.ip()) || !is_valid_family(addr.ip(), self.family) {
            return Err(ErrorCode::InvalidArgument);
        }
        // WASI: a bind must not fail over a recently closed socket in TIME_WAIT.
        let _ = sockopt::set_socket_reuseaddr(&*self.fd, true);
        rustix::net::bind(&*self.fd, &addr).map_err(|e| match e {
            Errno::AFNOSUPPORT => ErrorCode::InvalidArgument,
            e => e.into(),
        })?;
        st.bound = true;
        st.in_progress = Some(Op::Bind);
        Ok(())
    }

    fn finish(&self, op: Op) -> SockResult<()> {
        let mut st = self.state.locked();
        if st.in_progress != Some(op) {
            return Err(ErrorCode::NotInProgress);
        }
        st.in_progress = None;
        Ok(())
    }

    fn start_connect(&self, addr: SocketAddr) -> SockResult<()> {
        let mut st = self.state.locked();
        if st.in_progress.is_some() {
            return Err(ErrorCode::ConcurrencyConflict);
        }
        if !matches!(st.phase, Phase::Default) {
            return Err(ErrorCode::InvalidState);
        }
        if !is_valid_unicast(addr.ip())
            || !is_valid_remote(addr)
            || !is_valid_family(addr.ip(), self.family)
        {
            return Err(ErrorCode::InvalidArgument);
        }
        // Failures surface from `finish-connect`, as wasmtime's background connect
        // reports them.
        st.phase = Phase::Connecting(match rustix::net::connect(&*self.fd, &addr) {
            Ok(()) => Some(Ok(())),
            Err(Errno::INPROGRESS) => None,
            Err(e) => Some(Err(e.into())),
        });
        st.in_progress = Some(Op::Connect);
        Ok(())
    }

    /// Ends a connect: the stream halves, or why not.
    fn finish_connect(&self) -> SockResult<(Arc<Reader>, Arc<Writer>)> {
        let mut st = self.state.locked();
        if st.in_progress != Some(Op::Connect) {
            return Err(ErrorCode::NotInProgress);
        }
        let outcome = match &st.phase {
            Phase::Connecting(Some(r)) => *r,
            Phase::Connecting(None) => {
                if !wait_fds(&[(self.fd.as_fd(), true)], Some(0))
                    .first()
                    .copied()
                    .unwrap_or(true)
                {
                    return Err(ErrorCode::WouldBlock);
                }
                match sockopt::socket_error(&*self.fd) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) | Err(e) => Err(e.into()),
                }
            }
            Phase::Connected => Ok(()),
            Phase::Closed(e) => Err(*e),
            Phase::Default | Phase::Listening => Err(ErrorCode::InvalidState),
        };
        st.in_progress = None;
        match outcome {
            Ok(()) => {
                st.phase = Phase::Connected;
                Ok(st.take_streams(&self.fd))
            }
            Err(e) => {
                st.phase = Phase::Closed(e);
                Err(e)
            }
        }
    }

    fn start_listen(&self) -> SockResult<()> {
        let mut st = self.state.locked();
        if st.in_progress.is_some() {
            return Err(ErrorCode::ConcurrencyConflict);
        }
        // WASI 0.2 needs an explicit bind first.
        if !st.is_bound() || !matches!(st.phase, Phase::Default) {
            return Err(ErrorCode::InvalidState);
        }
        let backlog = i32::try_from(st.backlog).unwrap_or(i32::MAX);
        rustix::net::listen(&*self.fd, backlog)?;
        st.phase = Phase::Listening;
        st.in_progress = Some(Op::Listen);
        Ok(())
    }

    /// A connection the kernel has queued, as a connected socket and its streams.
    fn accept(&self) -> SockResult<(TcpSocket, Arc<Reader>, Arc<Writer>)> {
        if !matches!(self.state.locked().phase, Phase::Listening) {
            return Err(ErrorCode::InvalidState);
        }
        let client = loop {
            match rustix::net::accept_with(&*self.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
            {
                Ok(fd) => break fd,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return Err(ErrorCode::WouldBlock),
                // Linux passes errors pending on the new connection on from accept;
                // wasmtime reports them all as an aborted connection.
                Err(
                    Errno::CONNRESET
                    | Errno::NETRESET
                    | Errno::HOSTUNREACH
                    | Errno::HOSTDOWN
                    | Errno::NETDOWN
                    | Errno::NETUNREACH
                    | Errno::PROTO
                    | Errno::NOPROTOOPT
                    | Errno::NONET
                    | Errno::OPNOTSUPP,
                ) => return Err(ErrorCode::ConnectionAborted),
                Err(e) => return Err(e.into()),
            }
        };
        let socket = TcpSocket::new(client, self.family, Phase::Connected, true);
        let (reader, writer) = socket.state.locked().take_streams(&socket.fd);
        Ok((socket, reader, writer))
    }

    fn local_address(&self) -> SockResult<SocketAddr> {
        let st = self.state.locked();
        if !st.is_bound() {
            return Err(ErrorCode::InvalidState);
        }
        match st.phase {
            Phase::Connecting(_) => Err(ErrorCode::InvalidState),
            Phase::Closed(e) => Err(e),
            _ => socket_addr(rustix::net::getsockname(&*self.fd)?),
        }
    }

    fn remote_address(&self) -> SockResult<SocketAddr> {
        match self.state.locked().phase {
            Phase::Connected => match rustix::net::getpeername(&*self.fd)? {
                Some(a) => socket_addr(a),
                None => Err(ErrorCode::InvalidState),
            },
            Phase::Closed(e) => Err(e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    fn set_listen_backlog_size(&self, value: u64) -> SockResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument);
        }
        // Clamped silently, as operating systems do.
        let value = u32::try_from(value)
            .unwrap_or(i32::MAX as u32)
            .clamp(1, i32::MAX as u32);
        let mut st = self.state.locked();
        match st.phase {
            Phase::Default => {
                st.backlog = value;
                Ok(())
            }
            Phase::Listening => {
                let backlog = i32::try_from(value).unwrap_or(i32::MAX);
                if rustix::net::listen(&*self.fd, backlog).is_err() {
                    return Err(ErrorCode::NotSupported);
                }
                st.backlog = value;
                Ok(())
            }
            Phase::Closed(e) => Err(e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// The descriptor for a socket option: not while connecting, nor after a failed
    /// connect.
    fn option_fd(&self) -> SockResult<&OwnedFd> {
        match self.state.locked().phase {
            Phase::Connecting(_) => Err(ErrorCode::InvalidState),
            Phase::Closed(e) => Err(e),
            _ => Ok(&self.fd),
        }
    }

    fn shutdown(&self, how: i32) -> SockResult<()> {
        let (reader, writer) = match &self.state.locked().streams {
            Some((r, w)) => (r.clone(), w.clone()),
            None => return Err(ErrorCode::InvalidState),
        };
        if how == 0 || how == 2 {
            reader.shut_down();
        }
        if how == 1 || how == 2 {
            writer.shut_down();
        }
        Ok(())
    }
}

impl State {
    /// Bound by `bind`, or implicitly by leaving the default phase.
    fn is_bound(&self) -> bool {
        self.bound || !matches!(self.phase, Phase::Default)
    }

    fn take_streams(&mut self, fd: &Arc<OwnedFd>) -> (Arc<Reader>, Arc<Writer>) {
        let reader = Arc::new(Reader {
            fd: fd.clone(),
            open: std::sync::Mutex::new(true),
        });
        let writer = Arc::new(Writer::new(fd.clone()));
        self.streams = Some((reader.clone(), writer.clone()));
        (reader, writer)
    }
}

impl Readiness for TcpSocket {
    /// wasmtime's socket pollable: ready when a connect in progress has ended, or when a
    /// listener has a connection to accept; otherwise at once.
    fn current(&self) -> Pollable {
        let st = self.state.locked();
        match (&st.phase, st.in_progress) {
            (Phase::Connecting(None), Some(Op::Connect)) => Pollable::Fd {
                fd: self.fd.clone(),
                write: true,
            },
            (Phase::Listening, None) => Pollable::Fd {
                fd: self.fd.clone(),
                write: false,
            },
            _ => Pollable::Ready,
        }
    }
}

fn socket_addr(a: rustix::net::SocketAddrAny) -> SockResult<SocketAddr> {
    SocketAddr::try_from(a).map_err(|_| ErrorCode::NotSupported)
}

/// The receiving half of a connected socket.
pub struct Reader {
    fd: Arc<OwnedFd>,
    /// False after the end of the stream, an error or `shutdown(receive)`.
    open: std::sync::Mutex<bool>,
}

impl Reader {
    fn shut_down(&self) {
        let mut open = self.open.locked();
        if *open {
            *open = false;
            let _ = rustix::net::shutdown(&*self.fd, rustix::net::Shutdown::Read);
        }
    }

    fn read(&self, max: usize, blocking: bool) -> Result<Vec<u8>, StreamError> {
        let mut buf = vec![0u8; max.min(STREAM_BUDGET)];
        loop {
            {
                let mut open = self.open.locked();
                if !*open {
                    return Err(StreamError::Closed);
                }
                if buf.is_empty() {
                    return Ok(buf);
                }
                match rustix::net::recv(&*self.fd, &mut buf[..], RecvFlags::DONTWAIT) {
                    Ok((0, _)) => {
                        *open = false;
                        return Err(StreamError::Closed);
                    }
                    Ok((n, _)) => {
                        buf.truncate(n);
                        return Ok(buf);
                    }
                    Err(Errno::INTR) => continue,
                    Err(Errno::AGAIN) if !blocking => return Ok(Vec::new()),
                    Err(Errno::AGAIN) => {}
                    Err(e) => {
                        *open = false;
                        return Err(stream_failure(e.into()));
                    }
                }
            }
            wait_fds(&[(self.fd.as_fd(), false)], None);
        }
    }
}

/// Why an output stream takes no more bytes.
#[derive(Clone, Copy)]
enum WriteEnd {
    /// `shutdown(send)`, or the peer is gone (`EPIPE`).
    Closed,
    Failed(ErrorCode),
}

impl WriteEnd {
    fn error(self) -> StreamError {
        match self {
            WriteEnd::Closed => StreamError::Closed,
            WriteEnd::Failed(code) => stream_failure(code),
        }
    }
}

struct WriteState {
    /// Written by the guest, not yet taken by the kernel.
    pending: Vec<u8>,
    closed: Option<WriteEnd>,
    /// A sender thread owns `pending` until the kernel has taken it all.
    draining: bool,
    /// `shutdown(send)` came while draining: the sender shuts down once done.
    shutdown_after_drain: bool,
    /// Readable while no sender thread runs: what the stream's pollable waits on while
    /// one does. Made the first time one is needed.
    idle: Option<Arc<OwnedFd>>,
}

/// The sending half of a connected socket. A write the kernel does not take whole is
/// finished by a sender thread, as wasmtime finishes it in a background task, so the
/// guest can go on (typically to read what its own peer sends) meanwhile.
pub struct Writer {
    fd: Arc<OwnedFd>,
    state: std::sync::Mutex<WriteState>,
    drained: std::sync::Condvar,
}

impl Writer {
    fn new(fd: Arc<OwnedFd>) -> Writer {
        Writer {
            fd,
            state: std::sync::Mutex::new(WriteState {
                pending: Vec::new(),
                closed: None,
                draining: false,
                shutdown_after_drain: false,
                idle: None,
            }),
            drained: std::sync::Condvar::new(),
        }
    }

    /// Sends what the kernel takes now; an error ends the stream.
    fn send_pending(&self, st: &mut WriteState) -> Result<(), StreamError> {
        if let Some(end) = st.closed {
            return Err(end.error());
        }
        while !st.pending.is_empty() {
            match rustix::net::send(
                &*self.fd,
                &st.pending,
                SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
            ) {
                Ok(n) => {
                    st.pending.drain(..n);
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    let end = if e == Errno::PIPE {
                        WriteEnd::Closed
                    } else {
                        WriteEnd::Failed(e.into())
                    };
                    st.closed = Some(end);
                    st.pending.clear();
                    return Err(end.error());
                }
            }
        }
        Ok(())
    }

    /// Hands what the kernel did not take to a sender thread; without one (the thread
    /// could not be made) the bytes are sent here, waiting.
    fn start_draining(self: &Arc<Self>, st: &mut WriteState) {
        let idle = match &st.idle {
            Some(fd) => Some(fd.clone()),
            None => rustix::event::eventfd(
                0,
                rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
            )
            .ok()
            .map(Arc::new),
        };
        if let Some(fd) = &idle {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(&**fd, &mut count);
        }
        st.idle = idle;
        st.draining = true;
        let writer = self.clone();
        if !spawn_detached(Box::new(move || writer.drain())) {
            st.draining = false;
            while !st.pending.is_empty() && self.send_pending(st).is_ok() {
                wait_fds(&[(self.fd.as_fd(), true)], None);
            }
        }
    }

    /// The sender thread: sends until nothing is pending or the stream fails, then
    /// wakes whoever waits for it.
    fn drain(&self) {
        loop {
            {
                let mut st = self.state.locked();
                let failed = self.send_pending(&mut st).is_err();
                if failed || st.pending.is_empty() {
                    st.draining = false;
                    if st.shutdown_after_drain && st.closed.is_none() {
                        st.closed = Some(WriteEnd::Closed);
                        let _ = rustix::net::shutdown(&*self.fd, rustix::net::Shutdown::Write);
                    }
                    if let Some(fd) = &st.idle {
                        let _ = rustix::io::write(&**fd, &1u64.to_ne_bytes());
                    }
                    self.drained.notify_all();
                    return;
                }
            }
            wait_fds(&[(self.fd.as_fd(), true)], None);
        }
    }

    /// Waits until no sender thread runs.
    fn wait_drained(&self) -> std::sync::MutexGuard<'_, WriteState> {
        let mut st = self.state.locked();
        while st.draining {
            st = self
                .drained
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        st
    }

    fn shut_down(&self) {
        let mut st = self.state.locked();
        if st.draining {
            st.shutdown_after_drain = true;
        } else if st.closed.is_none() {
            st.closed = Some(WriteEnd::Closed);
            let _ = rustix::net::shutdown(&*self.fd, rustix::net::Shutdown::Write);
        }
    }
}

/// Runs `work` on a new detached thread; false if the system would not make one.
///
/// A POSIX thread rather than `std::thread`: std's thread start refers to
/// `pthread_setname_np`, whose musl implementation brings printf and with it long double
/// arithmetic the aarch64 link does not provide.
fn spawn_detached(work: Box<dyn FnOnce() + Send>) -> bool {
    extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the box `spawn_detached` leaked for this thread alone.
        let work = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
        work();
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new(work));
    let mut thread = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `thread` is written by pthread_create before it is read; default
    // attributes; `start` takes ownership of `arg` only if the thread is made.
    let made = unsafe {
        libc::pthread_create(thread.as_mut_ptr(), std::ptr::null(), start, arg.cast()) == 0
    };
    if made {
        // SAFETY: the thread was made and is detached once, here.
        unsafe { libc::pthread_detach(thread.assume_init()) };
    } else {
        // SAFETY: no thread took `arg`; it is still the box leaked above.
        drop(unsafe { Box::from_raw(arg) });
    }
    made
}

impl Readiness for Writer {
    /// Ready once the bytes written so far are the kernel's and it has room for more.
    fn current(&self) -> Pollable {
        let st = self.state.locked();
        match (&st.idle, st.draining, st.closed) {
            (_, _, Some(_)) => Pollable::Ready,
            (Some(idle), true, None) => Pollable::Fd {
                fd: idle.clone(),
                write: false,
            },
            _ => Pollable::Fd {
                fd: self.fd.clone(),
                write: true,
            },
        }
    }
}

/// The `input-stream` handed out for a socket.
pub struct TcpInput(Arc<Reader>);

impl Source for TcpInput {
    fn read(&self, max: usize, blocking: bool) -> Result<Vec<u8>, StreamError> {
        self.0.read(max, blocking)
    }

    fn pollable(&self) -> Pollable {
        if *self.0.open.locked() {
            Pollable::Fd {
                fd: self.0.fd.clone(),
                write: false,
            }
        } else {
            Pollable::Ready
        }
    }
}

/// The `output-stream` handed out for a socket. Dropping it waits for its sender
/// thread, as wasmtime's waits for its background write.
pub struct TcpOutput(Arc<Writer>);

impl Sink for TcpOutput {
    fn check_write(&self) -> Result<u64, StreamError> {
        let st = self.0.state.locked();
        if let Some(end) = st.closed {
            return Err(end.error());
        }
        Ok(if st.draining { 0 } else { STREAM_BUDGET as u64 })
    }

    fn write(&self, bytes: &[u8]) -> Result<(), StreamError> {
        let mut st = self.0.state.locked();
        if let Some(end) = st.closed {
            return Err(end.error());
        }
        st.pending.extend_from_slice(bytes);
        if st.draining {
            return Ok(());
        }
        self.0.send_pending(&mut st)?;
        if !st.pending.is_empty() {
            self.0.start_draining(&mut st);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StreamError> {
        match self.0.state.locked().closed {
            Some(end) => Err(end.error()),
            None => Ok(()),
        }
    }

    fn blocking_flush(&self) -> Result<(), StreamError> {
        match self.0.wait_drained().closed {
            Some(end) => Err(end.error()),
            None => Ok(()),
        }
    }

    fn pollable(&self) -> Pollable {
        Pollable::Dynamic(self.0.clone())
    }
}

impl Drop for TcpOutput {
    fn drop(&mut self) {
        drop(self.0.wait_drained());
    }
}

/// Pushes a connected socket's streams (input first, as wasmtime), recorded as children
/// of `parent`.
fn push_streams(
    cx: &Call,
    parent: &TcpSocket,
    reader: Arc<Reader>,
    writer: Arc<Writer>,
) -> R<[i32; 2]> {
    let input = Arc::new(TcpInput(reader));
    let output = Arc::new(TcpOutput(writer));
    parent.children.add(&input);
    parent.children.add(&output);
    let i = cx.push(rt::INPUT_STREAM, Object::InputStream(input))?;
    let o = cx.push(rt::OUTPUT_STREAM, Object::OutputStream(output))?;
    Ok([i, o])
}

fn socket(cx: &Call, handle: i32) -> R<Arc<TcpSocket>> {
    cx.get_other::<TcpSocket>(handle, rt::TCP_SOCKET)
}

/// The argument of a `set-keep-alive-*` duration, clamped as wasmtime clamps it: never
/// rounded down to 0 s, and at most Linux's limit.
fn keep_alive_time(ns: u64) -> Duration {
    Duration::from_nanos(ns.clamp(1_000_000_000, i16::MAX as u64 * 1_000_000_000))
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Linux doubles the size set and reports the doubled value; wasmtime halves it back.
fn buffer_size_reported(v: usize) -> u64 {
    u64::try_from(v / 2).unwrap_or(u64::MAX)
}

/// A buffer size to set: 0 is invalid, the rest clamped to what the kernel accepts.
/// The kernel treats it as a hint (`ENOBUFS` is success).
fn set_buffer_size(
    fd: &OwnedFd,
    value: u64,
    set: fn(&OwnedFd, usize) -> rustix::io::Result<()>,
) -> SockResult<()> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    let value = usize::try_from(value)
        .unwrap_or(usize::MAX)
        .clamp(1, i32::MAX as usize);
    match set(fd, value) {
        Ok(()) | Err(Errno::NOBUFS) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn hop_limit(fd: &OwnedFd, family: Family) -> SockResult<u8> {
    match family {
        Family::Ipv4 => u8::try_from(sockopt::ip_ttl(fd)?).map_err(|_| ErrorCode::NotSupported),
        Family::Ipv6 => Ok(sockopt::ipv6_unicast_hops(fd)?),
    }
}

pub(super) fn set_hop_limit(fd: &OwnedFd, family: Family, value: u8) -> SockResult<()> {
    // Never a TTL of 0; operating systems disagree on rejecting it, so it is checked here.
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    match family {
        Family::Ipv4 => sockopt::set_ip_ttl(fd, value.into())?,
        Family::Ipv6 => sockopt::set_ipv6_unicast_hops(fd, Some(value))?,
    }
    Ok(())
}

pub(super) fn receive_buffer_size(fd: &OwnedFd) -> SockResult<u64> {
    Ok(buffer_size_reported(sockopt::socket_recv_buffer_size(fd)?))
}

pub(super) fn send_buffer_size(fd: &OwnedFd) -> SockResult<u64> {
    Ok(buffer_size_reported(sockopt::socket_send_buffer_size(fd)?))
}

pub(super) fn set_receive_buffer_size(fd: &OwnedFd, value: u64) -> SockResult<()> {
    set_buffer_size(fd, value, |fd, v| {
        sockopt::set_socket_recv_buffer_size(fd, v)
    })
}

pub(super) fn set_send_buffer_size(fd: &OwnedFd, value: u64) -> SockResult<()> {
    set_buffer_size(fd, value, |fd, v| {
        sockopt::set_socket_send_buffer_size(fd, v)
    })
}

p2_fns! {
    fn aot_wasi_p2_sockets__tcp_create_socket__create_tcp_socket(cx, family: i32, retptr: i32) {
        let family = super::Family::lift(&cx, family)?;
        let created = check_network(&cx).and_then(|()| new_socket(family, SocketType::STREAM));
        match created {
            Ok(fd) => {
                let h = cx.push_other(rt::TCP_SOCKET, TcpSocket::new(fd, family, Phase::Default, false))?;
                ret_u32(&cx, retptr, Ok(h as u32))
            }
            Err(e) => ret_u32(&cx, retptr, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__start_bind(cx, this: i32, network: i32, case: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        network_arg(&cx, network)?;
        let addr = lift_socket_address(&cx, case, [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10])?;
        ret_unit(&cx, retptr, s.start_bind(addr))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__finish_bind(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, s.finish(Op::Bind))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__start_connect(cx, this: i32, network: i32, case: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        network_arg(&cx, network)?;
        let addr = lift_socket_address(&cx, case, [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10])?;
        ret_unit(&cx, retptr, s.start_connect(addr))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__finish_connect(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        match s.finish_connect() {
            Ok((reader, writer)) => {
                let handles = push_streams(&cx, &s, reader, writer)?;
                ret_handles(&cx, retptr, Ok(&handles))
            }
            Err(e) => ret_handles(&cx, retptr, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__start_listen(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, s.start_listen())
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__finish_listen(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, s.finish(Op::Listen))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__accept(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        match s.accept() {
            Ok((client, reader, writer)) => {
                let input = Arc::new(TcpInput(reader));
                let output = Arc::new(TcpOutput(writer));
                client.children.add(&input);
                client.children.add(&output);
                let c = cx.push_other(rt::TCP_SOCKET, client)?;
                let i = cx.push(rt::INPUT_STREAM, Object::InputStream(input))?;
                let o = cx.push(rt::OUTPUT_STREAM, Object::OutputStream(output))?;
                ret_handles(&cx, retptr, Ok(&[c, i, o]))
            }
            Err(e) => ret_handles(&cx, retptr, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__local_address(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_socket_address(&cx, retptr, s.local_address())
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__remote_address(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_socket_address(&cx, retptr, s.remote_address())
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__is_listening(cx, this: i32) -> i32 {
        let s = socket(&cx, this)?;
        let listening = matches!(s.state.locked().phase, Phase::Listening);
        Ok(i32::from(listening))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__address_family(cx, this: i32) -> i32 {
        Ok(socket(&cx, this)?.family.lower())
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_listen_backlog_size(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, s.set_listen_backlog_size(value as u64))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__keep_alive_enabled(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| Ok(sockopt::socket_keepalive(fd)?));
        ret_bool(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_keep_alive_enabled(cx, this: i32, value: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| Ok(sockopt::set_socket_keepalive(fd, value != 0)?));
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__keep_alive_idle_time(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| Ok(duration_ns(sockopt::tcp_keepidle(fd)?)));
        ret_u64(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_keep_alive_idle_time(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = if value == 0 {
            Err(ErrorCode::InvalidArgument)
        } else {
            s.option_fd().and_then(|fd| Ok(sockopt::set_tcp_keepidle(fd, keep_alive_time(value as u64))?))
        };
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__keep_alive_interval(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| Ok(duration_ns(sockopt::tcp_keepintvl(fd)?)));
        ret_u64(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_keep_alive_interval(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = if value == 0 {
            Err(ErrorCode::InvalidArgument)
        } else {
            s.option_fd().and_then(|fd| Ok(sockopt::set_tcp_keepintvl(fd, keep_alive_time(value as u64))?))
        };
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__keep_alive_count(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| Ok(sockopt::tcp_keepcnt(fd)?));
        ret_u32(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_keep_alive_count(cx, this: i32, value: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = if value == 0 {
            Err(ErrorCode::InvalidArgument)
        } else {
            // At most Linux's limit.
            let count = (value as u32).clamp(1, i8::MAX as u32);
            s.option_fd().and_then(|fd| Ok(sockopt::set_tcp_keepcnt(fd, count)?))
        };
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__hop_limit(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_u8(&cx, retptr, s.option_fd().and_then(|fd| hop_limit(fd, s.family)))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_hop_limit(cx, this: i32, value: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| set_hop_limit(fd, s.family, value as u8));
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__receive_buffer_size(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_u64(&cx, retptr, s.option_fd().and_then(receive_buffer_size))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_receive_buffer_size(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| set_receive_buffer_size(fd, value as u64));
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__send_buffer_size(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_u64(&cx, retptr, s.option_fd().and_then(send_buffer_size))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__set_send_buffer_size(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        let r = s.option_fd().and_then(|fd| set_send_buffer_size(fd, value as u64));
        ret_unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__subscribe(cx, this: i32) -> i32 {
        let s = socket(&cx, this)?;
        let p = Arc::new(Pollable::Dynamic(s.clone()));
        s.children.add(&p);
        cx.push(rt::POLLABLE, Object::Pollable(p))
    }

    fn aot_wasi_p2_sockets__tcp__method__tcp_socket__shutdown(cx, this: i32, how: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        if !(0..=2).contains(&how) {
            return Err(cx.trap(format!("unexpected discriminant: {}", how as u32)));
        }
        ret_unit(&cx, retptr, s.shutdown(how))
    }

    fn aot_wasi_p2_sockets__tcp__resource_drop__tcp_socket(cx, handle: i32) {
        drop_parent(&cx, handle, rt::TCP_SOCKET, |o| match o {
            Object::Other(o) => o.downcast_ref::<TcpSocket>().is_some_and(|s| s.children.any_alive()),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_clamps() {
        assert_eq!(keep_alive_time(1), Duration::from_secs(1));
        assert_eq!(
            keep_alive_time(5_500_000_000),
            Duration::from_nanos(5_500_000_000)
        );
        assert_eq!(
            keep_alive_time(u64::MAX),
            Duration::from_secs(i16::MAX as u64)
        );
    }

    /// A connected pair over loopback: (client, server) input and output halves.
    fn connected_pair() -> (
        TcpSocket,
        TcpSocket,
        Arc<Reader>,
        Arc<Writer>,
        Arc<Reader>,
        Arc<Writer>,
    ) {
        let listener = TcpSocket::new(
            new_socket(Family::Ipv4, SocketType::STREAM).unwrap(),
            Family::Ipv4,
            Phase::Default,
            false,
        );
        listener.start_bind("127.0.0.1:0".parse().unwrap()).unwrap();
        listener.finish(Op::Bind).unwrap();
        listener.start_listen().unwrap();
        listener.finish(Op::Listen).unwrap();
        let client = TcpSocket::new(
            new_socket(Family::Ipv4, SocketType::STREAM).unwrap(),
            Family::Ipv4,
            Phase::Default,
            false,
        );
        client
            .start_connect(listener.local_address().unwrap())
            .unwrap();
        wait_fds(&[(client.fd.as_fd(), true)], None);
        let (cr, cw) = client.finish_connect().unwrap();
        wait_fds(&[(listener.fd.as_fd(), false)], None);
        let (server, sr, sw) = listener.accept().unwrap();
        (client, server, cr, cw, sr, sw)
    }

    /// Bytes the kernel cannot take yet are sent by the sender thread while the guest
    /// reads on: writing until `check-write` says 0 and then reading it all back ends.
    #[test]
    fn writes_beyond_the_kernel_buffer_finish_in_the_background() {
        let (_client, _server, _cr, cw, sr, _sw) = connected_pair();
        let out = TcpOutput(cw);
        let chunk = vec![7u8; STREAM_BUDGET];
        let mut written = 0;
        while out.check_write().unwrap() > 0 {
            out.write(&chunk).unwrap();
            written += chunk.len();
            assert!(written < 1 << 30, "the kernel took a gigabyte");
        }
        let mut read = 0;
        while read < written {
            read += sr.read(1 << 20, true).unwrap().len();
        }
        assert_eq!(read, written);
        out.blocking_flush().unwrap();
        assert_eq!(out.check_write().unwrap(), STREAM_BUDGET as u64);
    }

    #[test]
    fn echo_over_loopback() {
        let listener_fd = new_socket(Family::Ipv4, SocketType::STREAM).unwrap();
        let listener = TcpSocket::new(listener_fd, Family::Ipv4, Phase::Default, false);
        listener.start_bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(
            listener.start_bind("127.0.0.1:0".parse().unwrap()),
            Err(ErrorCode::ConcurrencyConflict)
        );
        listener.finish(Op::Bind).unwrap();
        assert_eq!(listener.finish(Op::Bind), Err(ErrorCode::NotInProgress));
        assert_eq!(listener.accept().err(), Some(ErrorCode::InvalidState));
        listener.start_listen().unwrap();
        listener.finish(Op::Listen).unwrap();
        assert_eq!(listener.accept().err(), Some(ErrorCode::WouldBlock));
        let addr = listener.local_address().unwrap();

        let client_fd = new_socket(Family::Ipv4, SocketType::STREAM).unwrap();
        let client = TcpSocket::new(client_fd, Family::Ipv4, Phase::Default, false);
        assert_eq!(client.local_address(), Err(ErrorCode::InvalidState));
        assert_eq!(
            client.start_connect("127.0.0.1:0".parse().unwrap()),
            Err(ErrorCode::InvalidArgument)
        );
        client.start_connect(addr).unwrap();
        let (cr, cw) = loop {
            match client.finish_connect() {
                Ok(s) => break s,
                Err(ErrorCode::WouldBlock) => {
                    wait_fds(&[(client.fd.as_fd(), true)], None);
                }
                Err(e) => panic!("connect: {e:?}"),
            }
        };
        let (server, sr, sw) = loop {
            match listener.accept() {
                Ok(s) => break s,
                Err(ErrorCode::WouldBlock) => {
                    wait_fds(&[(listener.fd.as_fd(), false)], None);
                }
                Err(e) => panic!("accept: {e:?}"),
            }
        };
        assert_eq!(server.remote_address(), client.local_address());
        let out = TcpOutput(cw);
        assert!(out.check_write().unwrap() > 0);
        out.write(b"ping").unwrap();
        out.blocking_flush().unwrap();
        assert_eq!(sr.read(16, true).unwrap(), b"ping");
        assert_eq!(sr.read(16, false).unwrap(), b"");
        client.shutdown(1).unwrap();
        assert!(matches!(out.write(b"x"), Err(StreamError::Closed)));
        assert!(matches!(sr.read(16, true), Err(StreamError::Closed)));
        drop(sw);
        drop(cr);
    }
}
