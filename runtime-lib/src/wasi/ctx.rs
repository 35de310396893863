//! The process's WASI context: arguments, environment, clocks, and the preview 1
//! descriptor table that maps guest fd numbers to host objects.
//!
//! Numbering follows wasmtime: 0, 1 and 2 are stdin, stdout and stderr, preopened
//! directories follow from 3 in grant order, a new descriptor takes the highest number
//! freed by a close or renumber if any, else one past the highest in use.
//!
//! Locking (see the module docs of [`super`]): everything but the table is fixed when the
//! context is created and read without a lock. The table's lock is held only to look up,
//! insert or remove entries. A looked-up [`Descriptor`] is a cheap clone holding its host
//! object by `Arc`, so a call works on it (and may block in it) after the table lock is
//! released, and closing or renumbering the guest number meanwhile only drops the table's
//! reference: the host object is closed when the last call using it is done.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::clocks::MonotonicClock;
use super::filesystem::{Dir, File};
use super::io::Stdio;
use super::types::Errno;

/// Descriptor lookups fail only with an errno.
type Result<T> = core::result::Result<T, Errno>;

/// An open preview 1 descriptor, as the table holds it and hands it out: cloning it shares
/// the host object.
#[derive(Clone, Debug)]
pub enum Descriptor {
    /// A standard stream; `isatty` is fixed when the context is created.
    Stdio {
        stream: Stdio,
        isatty: bool,
    },
    Directory(Arc<DirDesc>),
    File(Arc<FileDesc>),
}

/// A directory; preopens remember the name the guest sees them by. Nothing about it
/// changes after it is opened (`fd_readdir` lists afresh from a cookie each call), so it
/// needs no lock.
#[derive(Debug)]
pub struct DirDesc {
    pub dir: Dir,
    pub preopen_path: Option<String>,
}

/// A file with the state preview 1 keeps beside it.
///
/// The state is atomics rather than a lock so that nothing is held across the file I/O
/// between reading the position and storing the new one. Two calls racing on one
/// descriptor's position may therefore both use the same position (the last store wins),
/// as with wasmtime's `Arc<AtomicU64>` position; each value is independent, so `Relaxed`
/// suffices.
#[derive(Debug)]
pub struct FileDesc {
    pub file: File,
    /// The current position (reads and writes use explicit offsets underneath).
    position: AtomicU64,
    /// `fdflags::APPEND`: every write goes to the end of the file.
    append: AtomicBool,
    /// `fdflags::NONBLOCK`: recorded and reported only; file I/O never blocks for long.
    nonblocking: AtomicBool,
}

impl FileDesc {
    pub fn new(file: File, append: bool, nonblocking: bool) -> FileDesc {
        FileDesc {
            file,
            position: AtomicU64::new(0),
            append: AtomicBool::new(append),
            nonblocking: AtomicBool::new(nonblocking),
        }
    }

    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    pub fn set_position(&self, position: u64) {
        self.position.store(position, Ordering::Relaxed);
    }

    pub fn append(&self) -> bool {
        self.append.load(Ordering::Relaxed)
    }

    pub fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub fn set_flags(&self, append: bool, nonblocking: bool) {
        self.append.store(append, Ordering::Relaxed);
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Table {
    used: BTreeMap<u32, Descriptor>,
    free: BTreeSet<u32>,
}

/// The descriptor table. Every method takes the lock for its own few map operations only;
/// descriptors leave it by clone, and ones it drops are dropped after the lock is released
/// (dropping the last reference closes an OS descriptor, which may take a while).
#[derive(Debug, Default)]
pub struct Descriptors {
    table: Mutex<Table>,
}

impl Descriptors {
    /// The table, even if a thread panicked while holding it: every update is a single map
    /// operation or a sequence that leaves the maps consistent at each step.
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Descriptor `fd`, shared with the table.
    pub fn get(&self, fd: i32) -> Result<Descriptor> {
        self.lock()
            .used
            .get(&(fd as u32))
            .cloned()
            .ok_or(Errno::Badf)
    }

    /// Adds `desc` under a new number and returns the number.
    pub fn push(&self, desc: Descriptor) -> Result<u32> {
        let mut t = self.lock();
        let fd = match t.free.pop_last() {
            Some(fd) => fd,
            None => match t.used.last_key_value() {
                None => 0,
                Some((&last, _)) => match last.checked_add(1) {
                    Some(fd) => fd,
                    None => (0..u32::MAX)
                        .rev()
                        .find(|fd| !t.used.contains_key(fd))
                        .ok_or(Errno::Nfile)?,
                },
            },
        };
        t.used.insert(fd, desc);
        Ok(fd)
    }

    /// Removes and returns descriptor `fd` (dropping it closes the host object, once no
    /// call is using it).
    pub fn remove(&self, fd: i32) -> Result<Descriptor> {
        let fd = fd as u32;
        let mut t = self.lock();
        let desc = t.used.remove(&fd).ok_or(Errno::Badf)?;
        t.free.insert(fd);
        Ok(desc)
    }

    /// `fd_renumber`: moves `from` to `to`, closing what `to` was. Both must be open.
    pub fn renumber(&self, from: i32, to: i32) -> Result<()> {
        let (from, to) = (from as u32, to as u32);
        let displaced = {
            let mut t = self.lock();
            if !t.used.contains_key(&to) || !t.used.contains_key(&from) {
                return Err(Errno::Badf);
            }
            if from == to {
                return Ok(());
            }
            let desc = t.used.remove(&from).ok_or(Errno::Badf)?;
            t.free.insert(from);
            t.free.remove(&to);
            t.used.insert(to, desc)
        };
        drop(displaced);
        Ok(())
    }
}

/// Everything a WASI preview 1 call can see. Only the descriptor table changes after
/// creation, and it locks itself.
#[derive(Debug)]
pub struct WasiCtx {
    pub args: Vec<Vec<u8>>,
    /// `(name, value)` pairs in order; names may repeat, as in wasmtime.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    pub fds: Descriptors,
    pub monotonic: MonotonicClock,
    /// The WASI 0.2 face's handles and host objects.
    pub p2: super::p2::State,
    /// `--inherit-network`: sockets and name lookups are allowed (denied otherwise).
    pub inherit_network: bool,
    /// `--allow-ip-name-lookup`: names may be resolved (wasmtime's separate grant).
    pub allow_ip_name_lookup: bool,
}

// Host calls from several threads share one context: it must be so by construction.
const _: fn() = || {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<WasiCtx>();
    is_send_sync::<Descriptor>();
    is_send_sync::<FileDesc>();
    is_send_sync::<DirDesc>();
};

impl WasiCtx {
    /// A context with stdio at 0..=2 and `preopens` (directory, guest name) from 3.
    pub fn new(
        args: Vec<Vec<u8>>,
        env: Vec<(Vec<u8>, Vec<u8>)>,
        preopens: Vec<(Dir, String)>,
    ) -> Result<WasiCtx> {
        let fds = Descriptors::default();
        for stream in [Stdio::Stdin, Stdio::Stdout, Stdio::Stderr] {
            fds.push(Descriptor::Stdio {
                stream,
                isatty: stream.is_terminal(),
            })?;
        }
        for (dir, name) in preopens {
            fds.push(Descriptor::Directory(Arc::new(DirDesc {
                dir,
                preopen_path: Some(name),
            })))?;
        }
        Ok(WasiCtx {
            args,
            env,
            fds,
            monotonic: MonotonicClock::new(),
            p2: super::p2::State::default(),
            inherit_network: false,
            allow_ip_name_lookup: false,
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
        let t = Descriptors::default();
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
        let t = Descriptors::default();
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
                Ok(Descriptor::Directory(d)) => d.preopen_path.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(names, [Some("/".to_string()), Some("tmp".to_string())]);
        assert!(ctx.fds.get(5).is_err());
    }
}
