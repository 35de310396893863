//! The WASI preview 1 ABI: errno values, flag bits, enum values and the byte layouts of the
//! records that cross guest memory (`wasi_snapshot_preview1.witx`).
//!
//! Only preview 1 code ([`super::p1`], [`super::poll`], [`super::guest`]) uses this module;
//! the host objects in the interface modules speak in their own types (for example
//! [`super::filesystem::ErrorCode`]), which [`Errno`] converts from.
//!
//! A preview 1 function fails with an [`Error`]: either an [`Errno`] it returns to the guest
//! (`EFAULT` and `EINVAL` included, when they are what the function means), or a
//! [`GuestError`] that ends the program, as wasmtime ends it.

use super::filesystem::ErrorCode;
use super::guest::GuestError;

/// A preview 1 error number. `Success` is 0; every other value is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
#[allow(
    dead_code,
    reason = "the full witx enumeration; not every value is produced"
)]
pub enum Errno {
    Success = 0,
    TooBig = 1,
    Acces = 2,
    Addrinuse = 3,
    Addrnotavail = 4,
    Afnosupport = 5,
    Again = 6,
    Already = 7,
    Badf = 8,
    Badmsg = 9,
    Busy = 10,
    Canceled = 11,
    Child = 12,
    Connaborted = 13,
    Connrefused = 14,
    Connreset = 15,
    Deadlk = 16,
    Destaddrreq = 17,
    Dom = 18,
    Dquot = 19,
    Exist = 20,
    Fault = 21,
    Fbig = 22,
    Hostunreach = 23,
    Idrm = 24,
    Ilseq = 25,
    Inprogress = 26,
    Intr = 27,
    Inval = 28,
    Io = 29,
    Isconn = 30,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Mlink = 34,
    Msgsize = 35,
    Multihop = 36,
    Nametoolong = 37,
    Netdown = 38,
    Netreset = 39,
    Netunreach = 40,
    Nfile = 41,
    Nobufs = 42,
    Nodev = 43,
    Noent = 44,
    Noexec = 45,
    Nolck = 46,
    Nolink = 47,
    Nomem = 48,
    Nomsg = 49,
    Noprotoopt = 50,
    Nospc = 51,
    Nosys = 52,
    Notconn = 53,
    Notdir = 54,
    Notempty = 55,
    Notrecoverable = 56,
    Notsock = 57,
    Notsup = 58,
    Notty = 59,
    Nxio = 60,
    Overflow = 61,
    Ownerdead = 62,
    Perm = 63,
    Pipe = 64,
    Proto = 65,
    Protonosupport = 66,
    Prototype = 67,
    Range = 68,
    Rofs = 69,
    Spipe = 70,
    Srch = 71,
    Stale = 72,
    Timedout = 73,
    Txtbsy = 74,
    Xdev = 75,
    Notcapable = 76,
}

impl Errno {
    /// The value a preview 1 function returns.
    pub fn raw(self) -> i32 {
        self as u16 as i32
    }
}

impl From<ErrorCode> for Errno {
    /// The mapping wasmtime's preview 1 adapter applies to `wasi:filesystem` error codes.
    fn from(code: ErrorCode) -> Errno {
        match code {
            ErrorCode::Access => Errno::Acces,
            ErrorCode::WouldBlock => Errno::Again,
            ErrorCode::Already => Errno::Already,
            ErrorCode::BadDescriptor => Errno::Badf,
            ErrorCode::Busy => Errno::Busy,
            ErrorCode::Deadlock => Errno::Deadlk,
            ErrorCode::Quota => Errno::Dquot,
            ErrorCode::Exist => Errno::Exist,
            ErrorCode::FileTooLarge => Errno::Fbig,
            ErrorCode::IllegalByteSequence => Errno::Ilseq,
            ErrorCode::InProgress => Errno::Inprogress,
            ErrorCode::Interrupted => Errno::Intr,
            ErrorCode::Invalid => Errno::Inval,
            ErrorCode::Io => Errno::Io,
            ErrorCode::IsDirectory => Errno::Isdir,
            ErrorCode::Loop => Errno::Loop,
            ErrorCode::TooManyLinks => Errno::Mlink,
            ErrorCode::MessageSize => Errno::Msgsize,
            ErrorCode::NameTooLong => Errno::Nametoolong,
            ErrorCode::NoDevice => Errno::Nodev,
            ErrorCode::NoEntry => Errno::Noent,
            ErrorCode::NoLock => Errno::Nolck,
            ErrorCode::InsufficientMemory => Errno::Nomem,
            ErrorCode::InsufficientSpace => Errno::Nospc,
            ErrorCode::Unsupported => Errno::Notsup,
            ErrorCode::NotDirectory => Errno::Notdir,
            ErrorCode::NotEmpty => Errno::Notempty,
            ErrorCode::NotRecoverable => Errno::Notrecoverable,
            ErrorCode::NoTty => Errno::Notty,
            ErrorCode::NoSuchDevice => Errno::Nxio,
            ErrorCode::Overflow => Errno::Overflow,
            ErrorCode::NotPermitted => Errno::Perm,
            ErrorCode::Pipe => Errno::Pipe,
            ErrorCode::ReadOnly => Errno::Rofs,
            ErrorCode::InvalidSeek => Errno::Spipe,
            ErrorCode::TextFileBusy => Errno::Txtbsy,
            ErrorCode::CrossDevice => Errno::Xdev,
        }
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        Errno::from(ErrorCode::from(&e))
    }
}

impl From<super::io::StreamError> for Errno {
    /// As wasmtime: a closed stream is `EIO`, any other failure its OS error's errno.
    fn from(e: super::io::StreamError) -> Errno {
        match e {
            super::io::StreamError::Closed => Errno::Io,
            super::io::StreamError::LastOperationFailed(e) => Errno::from(e),
        }
    }
}

/// Why a preview 1 function failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The error number the function returns.
    Errno(Errno),
    /// A mistake that ends the program instead (a bad pointer, a bad enum or flag argument).
    Guest(GuestError),
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Error {
        Error::Errno(e)
    }
}

impl From<GuestError> for Error {
    fn from(e: GuestError) -> Error {
        Error::Guest(e)
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        Error::Errno(code.into())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Errno(e.into())
    }
}

impl From<super::io::StreamError> for Error {
    fn from(e: super::io::StreamError) -> Error {
        Error::Errno(e.into())
    }
}

impl From<std::num::TryFromIntError> for Error {
    /// A count or size the guest cannot be told: `EOVERFLOW`, as in wasmtime.
    fn from(_: std::num::TryFromIntError) -> Error {
        Error::Errno(Errno::Overflow)
    }
}

/// The result of a preview 1 function body.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// `rights` bits.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    /// Every defined right (bits 28 and 29 are `sock_shutdown` and `sock_accept`).
    pub const ALL: u64 = (1 << 30) - 1;

    /// What wasmtime reports for a preopened directory: the rights "many userlands expect".
    pub const PREOPEN_BASE: u64 = PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES;

    /// The inheriting rights of a preopened directory.
    pub const PREOPEN_INHERITING: u64 = PREOPEN_BASE
        | FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
}

/// `filetype` values.
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags` bits.
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
    pub const ALL: u16 = (1 << 5) - 1;
}

/// `oflags` bits.
pub mod oflags {
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
    pub const ALL: u16 = (1 << 4) - 1;
}

/// `lookupflags` bits.
pub mod lookupflags {
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
    pub const ALL: u32 = 1;
}

/// `fstflags` bits.
pub mod fstflags {
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
    pub const ALL: u16 = (1 << 4) - 1;
}

/// `whence` values.
pub mod whence {
    pub const SET: u8 = 0;
    pub const CUR: u8 = 1;
    pub const END: u8 = 2;
}

/// `clockid` values. wasmtime (and so this host) has no CPU-time clocks: they are valid
/// arguments that fail with `EBADF`.
pub mod clockid {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// The largest `advice` value (`noreuse`).
pub const ADVICE_MAX: u32 = 5;

/// `eventtype` values (also the tag of a subscription).
pub mod eventtype {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags` and `eventrwflags` bits.
pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;
pub const EVENT_FD_READWRITE_HANGUP: u16 = 1;

/// `riflags` and `sdflags` bits.
pub const RIFLAGS_ALL: u16 = 0b11;
pub const SDFLAGS_ALL: u8 = 0b11;

/// The largest `signal` value (`SIGSYS`).
pub const SIGNAL_MAX: u32 = 30;

/// Byte sizes of the records preview 1 reads and writes.
pub const IOVEC_SIZE: u32 = 8;
pub const FDSTAT_SIZE: usize = 24;
pub const FILESTAT_SIZE: usize = 64;
pub const PRESTAT_SIZE: usize = 8;
pub const DIRENT_SIZE: usize = 24;
pub const SUBSCRIPTION_SIZE: u32 = 48;
pub const EVENT_SIZE: u32 = 32;

/// Alignments of the records with 64-bit fields (`fdstat`, `filestat`, `subscription`,
/// `event`) and of the rest (`prestat`, `iovec`).
pub const ALIGN_64: u32 = 8;
pub const ALIGN_32: u32 = 4;

/// `fdstat`.
pub struct Fdstat {
    pub filetype: u8,
    pub flags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

impl Fdstat {
    pub fn to_bytes(&self) -> [u8; FDSTAT_SIZE] {
        let mut b = [0u8; FDSTAT_SIZE];
        b[0] = self.filetype;
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.rights_base.to_le_bytes());
        b[16..24].copy_from_slice(&self.rights_inheriting.to_le_bytes());
        b
    }
}

/// `filestat`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl Filestat {
    pub fn to_bytes(&self) -> [u8; FILESTAT_SIZE] {
        let mut b = [0u8; FILESTAT_SIZE];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// The fixed part of a `dirent`; the name follows it unterminated.
pub fn dirent_header(next: u64, ino: u64, namlen: u32, filetype: u8) -> [u8; DIRENT_SIZE] {
    let mut b = [0u8; DIRENT_SIZE];
    b[0..8].copy_from_slice(&next.to_le_bytes());
    b[8..16].copy_from_slice(&ino.to_le_bytes());
    b[16..20].copy_from_slice(&namlen.to_le_bytes());
    b[20] = filetype;
    b
}

/// `prestat` of a directory whose name is `name_len` bytes.
pub fn prestat_dir(name_len: u32) -> [u8; PRESTAT_SIZE] {
    let mut b = [0u8; PRESTAT_SIZE];
    // Tag 0 is `dir`, the only kind of preopen.
    b[4..8].copy_from_slice(&name_len.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_constants_match_wasmtimes_reports() {
        // The values `wasmtime run` 49 reports through fd_fdstat_get.
        assert_eq!(rights::PREOPEN_BASE, 0x7b7_fe00);
        assert_eq!(rights::PREOPEN_INHERITING, 0xff7_ffff);
        assert_eq!(rights::ALL, 0x3fff_ffff);
    }

    #[test]
    fn records_are_laid_out_as_witx_says() {
        let f = Filestat {
            dev: 1,
            ino: 2,
            filetype: filetype::REGULAR_FILE,
            nlink: 3,
            size: 4,
            atim: 5,
            mtim: 6,
            ctim: 7,
        }
        .to_bytes();
        assert_eq!(f[16], 4);
        assert_eq!(u64::from_le_bytes(f[24..32].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(f[56..64].try_into().unwrap()), 7);
        let d = dirent_header(9, 8, 7, 6);
        assert_eq!((d[0], d[8], d[16], d[20]), (9, 8, 7, 6));
        let s = Fdstat {
            filetype: 3,
            flags: 0x11,
            rights_base: 0x40,
            rights_inheriting: 0x2,
        }
        .to_bytes();
        assert_eq!((s[0], s[2], s[8], s[16]), (3, 0x11, 0x40, 2));
        assert_eq!(prestat_dir(8), [0, 0, 0, 0, 8, 0, 0, 0]);
    }

    #[test]
    fn error_codes_map_to_wasmtimes_errnos() {
        assert_eq!(Errno::from(ErrorCode::NotPermitted).raw(), 63);
        assert_eq!(Errno::from(ErrorCode::NoEntry).raw(), 44);
        assert_eq!(Errno::from(ErrorCode::InvalidSeek).raw(), 70);
        assert_eq!(Errno::from(ErrorCode::Loop).raw(), 32);
        assert_eq!(Errno::Notcapable.raw(), 76);
        assert_eq!(Errno::Fault.raw(), 21);
    }
}
