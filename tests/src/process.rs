//! Running a child process under a time limit with its output captured: the one way the
//! end-to-end tests run executables, emulators and wasmtime.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a process run by [`run_with_timeout`] ended.
#[derive(Clone, Debug)]
pub enum End {
    Exited(ExitStatus),
    /// Killed when the time limit passed.
    TimedOut(Duration),
    /// Waiting for it failed (it was killed).
    Lost(String),
}

impl End {
    /// `exit status N`, `killed by signal N (SIGxxx)`, `timed out after T`, or why it was
    /// lost.
    pub fn describe(&self) -> String {
        match self {
            End::Exited(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}{}", signal_name(sig)),
                (None, None) => format!("{status}"),
            },
            End::TimedOut(t) => format!("timed out after {t:?}"),
            End::Lost(e) => format!("cannot wait for the process: {e}"),
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        _ => "",
    }
}

/// What a process run by [`run_with_timeout`] wrote, and how it ended.
#[derive(Debug)]
pub struct Finished {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub end: End,
}

impl Finished {
    /// stdout and stderr as (lossy) text, and [`End::describe`].
    pub fn into_text(self) -> (String, String, String) {
        (
            String::from_utf8_lossy(&self.stdout).into_owned(),
            String::from_utf8_lossy(&self.stderr).into_owned(),
            self.end.describe(),
        )
    }
}

/// Runs `command` with `stdin` (None: no stdin at all), capturing stdout and stderr, and
/// kills it after `timeout`. Err only if it cannot be started.
pub fn run_with_timeout(
    command: &mut Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Finished, String> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // ETXTBSY: another thread forked while this executable's file was still open for
    // writing here, and its child holds the descriptor until it execs. That ends in
    // microseconds, so try again briefly.
    let mut attempts = 0;
    let mut child = loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(26) && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => {
                break other.map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
            }
        }
    };
    let writer = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => Some(std::thread::spawn(move || {
            // A program that stops reading early makes this fail (EPIPE); that is its right.
            let _ = pipe.write_all(&bytes);
        })),
        _ => None,
    };
    // Read both pipes while waiting: a chatty child would block on a full pipe otherwise.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let end = loop {
        match child.try_wait() {
            Ok(Some(status)) => break End::Exited(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break End::TimedOut(timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                break End::Lost(e.to_string());
            }
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Ok(Finished {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(command: &mut Command, timeout: Duration) -> (String, String, String) {
        run_with_timeout(command, None, timeout)
            .map(Finished::into_text)
            .unwrap()
    }

    #[test]
    fn run_with_timeout_captures_output_and_kills_slow_processes() {
        let (out, err, status) = text(
            Command::new("sh").args(["-c", "echo ok 1; echo oops >&2; exit 3"]),
            Duration::from_secs(10),
        );
        assert_eq!(
            (out.as_str(), err.as_str(), status.as_str()),
            ("ok 1\n", "oops\n", "exit status 3")
        );
        let (_, _, status) = text(
            Command::new("sh").args(["-c", "kill -SEGV $$"]),
            Duration::from_secs(10),
        );
        assert_eq!(status, "killed by signal 11 (SIGSEGV)");
        let start = Instant::now();
        let (_, _, status) = text(Command::new("sleep").arg("30"), Duration::from_millis(200));
        assert_eq!(status, "timed out after 200ms");
        assert!(start.elapsed() < Duration::from_secs(10));
        // More output than a pipe buffer holds.
        let (out, _, _) = text(
            Command::new("sh").args(["-c", "seq 1 100000"]),
            Duration::from_secs(10),
        );
        assert_eq!(out.lines().count(), 100000);
    }

    #[test]
    fn stdin_is_fed_and_none_means_no_stdin() {
        let done = run_with_timeout(
            &mut Command::new("cat"),
            Some(b"fed\n".to_vec()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(done.stdout, b"fed\n");
        let done =
            run_with_timeout(&mut Command::new("cat"), None, Duration::from_secs(10)).unwrap();
        assert!(done.stdout.is_empty());
        assert!(matches!(done.end, End::Exited(s) if s.success()));
    }
}
