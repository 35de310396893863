//! The `wasi:io` host: byte streams over the process's own standard descriptors and
//! readiness polling.
//!
//! Standard output and error are unbuffered: every guest write is written to the
//! process's fd 1 or 2 before the call returns, so nothing needs flushing when the program
//! exits, calls `proc_exit` or traps. Closing a guest's stdio descriptor never closes the
//! process's: the runtime still reports traps on fd 2.

use std::io;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::fd::BorrowedFd;

/// Why a stream operation failed (`wasi:io/streams.stream-error`).
#[derive(Debug)]
pub enum StreamError {
    /// The other end is gone: a write to a closed pipe, as wasmtime classifies it.
    Closed,
    LastOperationFailed(io::Error),
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> StreamError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            StreamError::Closed
        } else {
            StreamError::LastOperationFailed(e)
        }
    }
}

/// One of the process's standard descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    Stdin,
    Stdout,
    Stderr,
}

impl Stdio {
    fn fd(self) -> BorrowedFd<'static> {
        match self {
            Stdio::Stdin => rustix::stdio::stdin(),
            Stdio::Stdout => rustix::stdio::stdout(),
            Stdio::Stderr => rustix::stdio::stderr(),
        }
    }

    /// `wasi:cli/terminal-*`: whether the descriptor is a terminal.
    pub fn is_terminal(self) -> bool {
        rustix::termios::isatty(self.fd())
    }

    /// One blocking read; 0 at end of input.
    pub fn read(self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match rustix::io::read(self.fd(), &mut *buf) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return Ok(r?),
            }
        }
    }

    /// Writes all of `buf` (`blocking-write-and-flush`), retrying short writes.
    pub fn write_all(self, buf: &[u8]) -> Result<usize, StreamError> {
        let mut rest = buf;
        while !rest.is_empty() {
            match rustix::io::write(self.fd(), rest) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(io::Error::from(e).into()),
            }
        }
        Ok(buf.len())
    }

    /// Waits until a read would not block (data, end of input or an error), for at most
    /// `timeout` (forever if None). Returns whether it is ready.
    pub fn wait_readable(self, timeout: Option<Duration>) -> io::Result<bool> {
        let timeout = timeout.map(|d| rustix::time::Timespec {
            tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let mut fds = [PollFd::from_borrowed_fd(self.fd(), PollFlags::IN)];
        loop {
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Ok(n) => return Ok(n > 0),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_a_closed_stream() {
        assert!(matches!(
            StreamError::from(io::Error::from(io::ErrorKind::BrokenPipe)),
            StreamError::Closed
        ));
        let other = StreamError::from(io::Error::from(rustix::io::Errno::NOSPC));
        assert!(
            matches!(other, StreamError::LastOperationFailed(e) if e.raw_os_error() == Some(28))
        );
    }

    #[test]
    fn empty_writes_succeed_without_output() {
        assert_eq!(Stdio::Stdout.write_all(b"").ok(), Some(0));
        assert_eq!(Stdio::Stderr.write_all(b"").ok(), Some(0));
    }

    #[test]
    fn readiness_wait_honours_its_timeout() {
        // Whatever stdin is under the test harness, a zero timeout returns at once.
        let start = std::time::Instant::now();
        let _ = Stdio::Stdin.wait_readable(Some(Duration::ZERO));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
