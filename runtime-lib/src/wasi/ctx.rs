//! The process's WASI context: arguments, environment, clocks, and the preview 1
//! descriptor table that maps guest fd numbers to host objects.
//!
//! Numbering follows wasmtime: 0, 1 and 2 are stdin, stdout and stderr, preopened
//! directories follow from 3 in grant order, a new descriptor takes the highest number
//! freed by a close or renumber if any, else one past the highest in use.

use std::collections::{BTreeMap, BTreeSet};

use super::clocks::MonotonicClock;
use super::filesystem::{Dir, File};
use super::io::Stdio;
use super::types::Errno;

/// Descriptor lookups fail only with an errno.
type Result<T> = core::result::Result<T, Errno>;

/// An open preview 1 descriptor.
#[derive(Debug)]
pub enum Descriptor {
    /// A standard stream; `isatty` is fixed when the context is created.
    Stdio {
        stream: Stdio,
        isatty: bool,
    },
    /// A directory; preopens remember the name the guest sees them by.
    Directory {
        dir: Dir,
        preopen_path: Option<String>,
    },
    File(FileDesc),
}

/// A file with the state preview 1 keeps beside it.
#[derive(Debug)]
pub struct FileDesc {
    pub file: File,
    /// The current position (reads and writes use explicit offsets underneath).
    pub position: u64,
    /// `fdflags::APPEND`: every write goes to the end of the file.
    pub append: bool,
    /// `fdflags::NONBLOCK`: recorded and reported only; file I/O never blocks for long.
    pub nonblocking: bool,
}

#[derive(Debug, Default)]
pub struct Descriptors {
    used: BTreeMap<u32, Descriptor>,
    free: BTreeSet<u32>,
}

impl Descriptors {
    pub fn get(&self, fd: i32) -> Result<&Descriptor> {
        self.used.get(&(fd as u32)).ok_or(Errno::Badf)
    }

    pub fn get_mut(&mut self, fd: i32) -> Result<&mut Descriptor> {
        self.used.get_mut(&(fd as u32)).ok_or(Errno::Badf)
    }

    /// Adds `desc` under a new number and returns the number.
    pub fn push(&mut self, desc: Descriptor) -> Result<u32> {
        let fd = match self.free.pop_last() {
            Some(fd) => fd,
            None => match self.used.last_key_value() {
                None => 0,
                Some((&last, _)) => match last.checked_add(1) {
                    Some(fd) => fd,
                    None => (0..u32::MAX)
                        .rev()
                        .find(|fd| !self.used.contains_key(fd))
                        .ok_or(Errno::Nfile)?,
                },
            },
        };
        self.used.insert(fd, desc);
        Ok(fd)
    }

    /// Removes and returns descriptor `fd` (dropping it closes the host object).
    pub fn remove(&mut self, fd: i32) -> Result<Descriptor> {
        let fd = fd as u32;
        let desc = self.used.remove(&fd).ok_or(Errno::Badf)?;
        self.free.insert(fd);
        Ok(desc)
    }

    /// `fd_renumber`: moves `from` to `to`, closing what `to` was. Both must be open.
    pub fn renumber(&mut self, from: i32, to: i32) -> Result<()> {
        let (from, to) = (from as u32, to as u32);
        if !self.used.contains_key(&to) || !self.used.contains_key(&from) {
            return Err(Errno::Badf);
        }
        if from != to {
            let desc = self.used.remove(&from).ok_or(Errno::Badf)?;
            self.free.insert(from);
            self.free.remove(&to);
            self.used.insert(to, desc);
        }
        Ok(())
    }
}

/// Everything a WASI preview 1 call can see.
#[derive(Debug)]
pub struct WasiCtx {
    pub args: Vec<Vec<u8>>,
    /// `(name, value)` pairs in order; names may repeat, as in wasmtime.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    pub fds: Descriptors,
    pub monotonic: MonotonicClock,
}

impl WasiCtx {
    /// A context with stdio at 0..=2 and `preopens` (directory, guest name) from 3.
    pub fn new(
        args: Vec<Vec<u8>>,
        env: Vec<(Vec<u8>, Vec<u8>)>,
        preopens: Vec<(Dir, String)>,
    ) -> Result<WasiCtx> {
        let mut fds = Descriptors::default();
        for stream in [Stdio::Stdin, Stdio::Stdout, Stdio::Stderr] {
            fds.push(Descriptor::Stdio {
                stream,
                isatty: stream.is_terminal(),
            })?;
        }
        for (dir, name) in preopens {
            fds.push(Descriptor::Directory {
                dir,
                preopen_path: Some(name),
            })?;
        }
        Ok(WasiCtx {
            args,
            env,
            fds,
            monotonic: MonotonicClock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> Descriptor {
        Descriptor::Stdio {
            stream: Stdio::Stdout,
            isatty: false,
        }
    }

    #[test]
    fn numbers_are_reused_highest_first_like_wasmtime() {
        let mut t = Descriptors::default();
        for i in 0..6 {
            assert_eq!(t.push(stdio()), Ok(i));
        }
        t.remove(2).unwrap();
        t.remove(4).unwrap();
        assert_eq!(t.remove(4).err(), Some(Errno::Badf));
        assert_eq!(t.push(stdio()), Ok(4));
        assert_eq!(t.push(stdio()), Ok(2));
        assert_eq!(t.push(stdio()), Ok(6));
    }

    #[test]
    fn renumber_needs_both_open_and_frees_the_source() {
        let mut t = Descriptors::default();
        for _ in 0..4 {
            t.push(stdio()).unwrap();
        }
        assert_eq!(t.renumber(3, 9), Err(Errno::Badf));
        assert_eq!(t.renumber(9, 3), Err(Errno::Badf));
        assert_eq!(t.renumber(2, 2), Ok(()));
        assert!(t.get(2).is_ok());
        assert_eq!(t.renumber(3, 1), Ok(()));
        assert_eq!(t.get(3).err(), Some(Errno::Badf));
        assert!(t.get(1).is_ok());
        assert_eq!(t.push(stdio()), Ok(3));
        assert_eq!(t.get(-1).err(), Some(Errno::Badf));
    }

    #[test]
    fn stdio_then_preopens_in_grant_order() {
        let dirs = vec![
            (
                Dir::open_ambient(std::path::Path::new("/")).unwrap(),
                "/".to_string(),
            ),
            (
                Dir::open_ambient(&std::env::temp_dir()).unwrap(),
                "tmp".to_string(),
            ),
        ];
        let ctx = WasiCtx::new(vec![b"prog".to_vec()], Vec::new(), dirs).unwrap();
        assert!(matches!(
            ctx.fds.get(0),
            Ok(Descriptor::Stdio {
                stream: Stdio::Stdin,
                ..
            })
        ));
        assert!(matches!(
            ctx.fds.get(2),
            Ok(Descriptor::Stdio {
                stream: Stdio::Stderr,
                ..
            })
        ));
        let names: Vec<_> = (3..5)
            .map(|fd| match ctx.fds.get(fd) {
                Ok(Descriptor::Directory { preopen_path, .. }) => preopen_path.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(names, [Some("/".to_string()), Some("tmp".to_string())]);
        assert!(ctx.fds.get(5).is_err());
    }
}
